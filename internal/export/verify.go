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

// Verify checks a document of size bytes read through r, in any of the
// signed formats (json, jsonld, pam: told apart by their first key).
// json and jsonld: the checksum of every byte before the trailer, the
// signature over the checksum, the format and version, and that the
// declared counts are the records actually present; it reads the document
// twice, a page at a time. pam: the spec's RFC 8785 checksum over the
// memories, their count and the signature over the canonical payload, in
// one pass. The signature is checked with pin when not nil, else with the
// key the document names. Memory stays constant. Any mismatch is
// ErrTampered, wrapped with what failed.
func Verify(r io.ReaderAt, size int64, pin ed25519.PublicKey) (*Report, error) {
	head := make([]byte, min(size, sniffWindow))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	if firstKey(head) == "schema" {
		return verifyPAM(io.NewSectionReader(r, 0, size), pin)
	}
	return verifyTrailer(r, size, pin)
}

// sniffWindow is how much of a document's start tells its format.
const sniffWindow = 512

// firstKey is the first key of the JSON object head starts with ("" when
// it does not): "schema" in a PAM document, "format" or "@context" in the
// others. Whitespace does not matter: PAM's checksum is over canonical
// forms, so a re-indented PAM document still verifies.
func firstKey(head []byte) string {
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	k, _ := dec.Token()
	s, _ := k.(string)
	return s
}

// tampered is a verification failure: ErrTampered, with what failed.
func tampered(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrTampered, fmt.Sprintf(format, a...))
}

// verifyTrailer verifies the json and jsonld formats: same trailer.
func verifyTrailer(r io.ReaderAt, size int64, pin ed25519.PublicKey) (*Report, error) {
	start := max(0, size-trailerWindow)
	tail := make([]byte, size-start)
	if _, err := r.ReadAt(tail, start); err != nil && err != io.EOF {
		return nil, err
	}
	i := bytes.LastIndex(tail, []byte(`,"checksum":"`))
	if i < 0 {
		return nil, tampered("no checksum trailer (truncated or not an Engram export)")
	}
	body := start + int64(i) // the checksummed bytes: [0, body)
	var tr struct {
		Checksum  string    `json:"checksum"`
		Signature Signature `json:"signature"`
	}
	td := json.NewDecoder(bytes.NewReader(append([]byte("{"), tail[i+1:]...)))
	td.DisallowUnknownFields()
	if err := td.Decode(&tr); err != nil {
		return nil, tampered("trailer: %v", err)
	}
	if _, err := td.Token(); err != io.EOF {
		return nil, tampered("bytes after the trailer")
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, body)); err != nil {
		return nil, err
	}
	if err := matchChecksum("sha256:"+hex.EncodeToString(h.Sum(nil)), tr.Checksum); err != nil {
		return nil, err
	}
	pub, err := signer(tr.Signature.Alg, tr.Signature.PublicKey, tr.Signature.KeyID, pin)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(tr.Signature.Value)
	if err != nil || !ed25519.Verify(pub, []byte(signedPrefix+tr.Checksum), sig) {
		return nil, tampered("signature does not verify")
	}
	rep, err := readBody(io.MultiReader(io.NewSectionReader(r, 0, body), strings.NewReader("}")))
	if err != nil {
		return nil, tampered("%v", err)
	}
	rep.KeyID, rep.PublicKey, rep.Pinned = tr.Signature.KeyID, pub, pin != nil
	return rep, nil
}

// matchChecksum compares the computed checksum with the declared one.
func matchChecksum(computed, declared string) error {
	if subtle.ConstantTimeCompare([]byte(computed), []byte(declared)) != 1 {
		return tampered("checksum mismatch: the content was changed")
	}
	return nil
}

// signer is the key a signature block names, checked: the algorithm is
// Ed25519, the key decodes, is the pinned one when pin is set, and keyID
// names it.
func signer(alg, publicKey, keyID string, pin ed25519.PublicKey) (ed25519.PublicKey, error) {
	if alg != SignatureAlg {
		return nil, tampered("signature algorithm %q is not %s", alg, SignatureAlg)
	}
	pub, err := base64.StdEncoding.DecodeString(publicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, tampered("signature public_key is not a base64 Ed25519 key")
	}
	if pin != nil && !bytes.Equal(pin, pub) {
		return nil, tampered("signed by key %s, not by the pinned key %s", KeyID(pub), KeyID(pin))
	}
	if keyID != KeyID(pub) {
		return nil, tampered("key_id does not name the public key")
	}
	return pub, nil
}

// readBody walks the checksummed part (closed with "}"), a record at a
// time, and checks its shape and counts.
func readBody(r io.Reader) (*Report, error) {
	lim := newRecordLimit(r)
	dec := json.NewDecoder(lim)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	rep := &Report{}
	seen := map[string]int{}
	var declared map[string]int
	ld := false
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
		case "records", "@graph":
			// Each format has its own records key, after its header.
			kindOf, ok := recordKinds[rep.Format]
			if !ok || recordsKey[rep.Format] != t {
				return nil, fmt.Errorf("%v in a document of format %q", t, rep.Format)
			}
			if err := readRecords(dec, lim, seen, kindOf); err != nil {
				return nil, err
			}
			continue
		case "@context", "@type": // before the format: checked at the end
			ld = true
			dst = new(json.RawMessage)
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
	if _, ok := recordKinds[rep.Format]; !ok || rep.Version != Version {
		return nil, fmt.Errorf("format %q version %d is not %s or %s version %d", rep.Format, rep.Version, Format, FormatJSONLD, Version)
	}
	if ld != (rep.Format == FormatJSONLD) {
		return nil, fmt.Errorf("@context and @type belong to %s documents only, and it needs them", FormatJSONLD)
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

// recordKinds tells, per format sharing the trailer, the kind of one
// record ("" when it has none); recordsKey is where its records are.
var (
	recordKinds = map[string]func(json.RawMessage) string{Format: jsonKind, FormatJSONLD: ldKind}
	recordsKey  = map[string]string{Format: "records", FormatJSONLD: "@graph"}
)

func jsonKind(raw json.RawMessage) string {
	var rec struct {
		Kind string          `json:"kind"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &rec) != nil || len(rec.Data) == 0 {
		return ""
	}
	return rec.Kind
}

func readRecords(dec *json.Decoder, lim *recordLimit, seen map[string]int, kindOf func(json.RawMessage) string) error {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("records is not an array")
	}
	for dec.More() {
		lim.reset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("record %d: %w", sumOf(seen), err)
		}
		kind := kindOf(raw)
		if kind == "" {
			return fmt.Errorf("record %d has no kind or data", sumOf(seen))
		}
		seen[kind]++
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
