package export

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"
)

// trailerWindow is how far from the end Verify looks for the trailer; the
// trailer is a few hundred bytes.
const trailerWindow = 4096

// Report is what a verified document says about itself.
type Report struct {
	Header
	Format  string
	Version int
	Counts  map[string]int
	KeyID   string
	// PublicKey is the key that signed (from the document, or the pinned
	// one it matched).
	PublicKey ed25519.PublicKey
	// Pinned reports whether the signature was checked against a key the
	// caller supplied, rather than only the one the document carries.
	Pinned bool
}

// Verify checks a document of size bytes read through r: the checksum of
// every byte before the trailer, the signature over the checksum (by pin
// when not nil, else by the key the document names), the format and
// version, and that the declared counts are the records actually present.
// It reads the document twice, a page at a time: memory stays constant.
// Any mismatch is ErrTampered, wrapped with what failed.
func Verify(r io.ReaderAt, size int64, pin ed25519.PublicKey) (*Report, error) {
	fail := func(format string, a ...any) (*Report, error) {
		return nil, fmt.Errorf("%w: %s", ErrTampered, fmt.Sprintf(format, a...))
	}
	start := max(0, size-trailerWindow)
	tail := make([]byte, size-start)
	if _, err := r.ReadAt(tail, start); err != nil && err != io.EOF {
		return nil, err
	}
	i := bytes.LastIndex(tail, []byte(`,"checksum":"`))
	if i < 0 {
		return fail("no checksum trailer (truncated or not an Engram export)")
	}
	body := start + int64(i) // the checksummed bytes: [0, body)
	var tr struct {
		Checksum  string    `json:"checksum"`
		Signature Signature `json:"signature"`
	}
	td := json.NewDecoder(bytes.NewReader(append([]byte("{"), tail[i+1:]...)))
	td.DisallowUnknownFields()
	if err := td.Decode(&tr); err != nil {
		return fail("trailer: %v", err)
	}
	if _, err := td.Token(); err != io.EOF {
		return fail("bytes after the trailer")
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, body)); err != nil {
		return nil, err
	}
	sum := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sum), []byte(tr.Checksum)) != 1 {
		return fail("checksum mismatch: the content was changed")
	}
	if tr.Signature.Alg != SignatureAlg {
		return fail("signature algorithm %q is not %s", tr.Signature.Alg, SignatureAlg)
	}
	pub, err := base64.StdEncoding.DecodeString(tr.Signature.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fail("signature public_key is not a base64 Ed25519 key")
	}
	if pin != nil && !bytes.Equal(pin, pub) {
		return fail("signed by key %s, not by the pinned key %s", KeyID(pub), KeyID(pin))
	}
	if tr.Signature.KeyID != KeyID(pub) {
		return fail("key_id does not name the public key")
	}
	sig, err := base64.StdEncoding.DecodeString(tr.Signature.Value)
	if err != nil || !ed25519.Verify(pub, []byte(signedPrefix+tr.Checksum), sig) {
		return fail("signature does not verify")
	}
	rep, err := readBody(io.MultiReader(io.NewSectionReader(r, 0, body), strings.NewReader("}")))
	if err != nil {
		return fail("%v", err)
	}
	rep.KeyID, rep.PublicKey, rep.Pinned = tr.Signature.KeyID, pub, pin != nil
	return rep, nil
}

// readBody walks the checksummed part (closed with "}"), a record at a
// time, and checks its shape and counts.
func readBody(r io.Reader) (*Report, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	rep := &Report{}
	seen := map[string]int{}
	var declared map[string]int
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var dst any
		switch t {
		case "format":
			dst = &rep.Format
		case "version":
			dst = &rep.Version
		case "tenant":
			dst = &rep.Tenant
		case "scope":
			dst = &rep.Scope
		case "created_at":
			dst = &rep.CreatedAt
		case "counts":
			dst = &declared
		case "records":
			if err := readRecords(dec, seen); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, fmt.Errorf("unknown field %v", t)
		}
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("field %v: %v", t, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("bytes after the document")
	}
	if rep.Format != Format || rep.Version != Version {
		return nil, fmt.Errorf("format %q version %d is not %s version %d", rep.Format, rep.Version, Format, Version)
	}
	for _, k := range kinds(declared) {
		if declared[k] != seen[k] {
			return nil, fmt.Errorf("counts say %d %s records, the document holds %d", declared[k], k, seen[k])
		}
	}
	for _, k := range kinds(seen) {
		if _, ok := declared[k]; !ok {
			return nil, fmt.Errorf("%d %s records not in counts", seen[k], k)
		}
	}
	rep.Counts = maps.Clone(declared)
	return rep, nil
}

func readRecords(dec *json.Decoder, seen map[string]int) error {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("records is not an array")
	}
	for dec.More() {
		var rec struct {
			Kind string          `json:"kind"`
			Data json.RawMessage `json:"data"`
		}
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("record %d: %v", sumOf(seen), err)
		}
		if rec.Kind == "" || len(rec.Data) == 0 {
			return fmt.Errorf("record %d has no kind or data", sumOf(seen))
		}
		seen[rec.Kind]++
	}
	_, err := dec.Token()
	return err
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// ParsePublicKey reads a key as published by GET /v1/export/keys: standard
// base64 of the 32 bytes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not a base64 Ed25519 public key")
	}
	return b, nil
}

// KeyFromSeed makes the signing key from 32 derived bytes.
func KeyFromSeed(seed []byte) (ed25519.PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("export key seed must be %d bytes", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
