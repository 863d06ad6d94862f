package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// OriginPrefix starts every Engram audit log origin; the tenant id follows.
const OriginPrefix = "engram.audit/"

// KeyName is the default signed-note key name for audit checkpoints.
const KeyName = "engram-audit"

// MaxCheckpointSize bounds a signed checkpoint. Real ones are a few hundred
// bytes; the bound keeps a hostile input from costing memory or time.
const MaxCheckpointSize = 16 << 10

// Extension line keywords. Lines with other keywords are kept verbatim in
// Checkpoint.Extra so that a newer writer's checkpoints still verify.
const (
	extSegment = "engram-segment"
	extTime    = "engram-time"
)

// Origin returns the log origin of a tenant's audit log. The tenant id is
// part of what is signed, so a checkpoint of one tenant cannot be presented
// as another's.
func Origin(tenant string) string { return OriginPrefix + tenant }

// SegmentRef is the segment a checkpoint seals: leaves [First, Last] and the
// segment's standalone RFC 6962 root.
type SegmentRef struct {
	First uint64
	Last  uint64
	Root  []byte
}

// Checkpoint is the body of a C2SP tlog-checkpoint: the log origin, the tree
// size and the root hash, then extension lines.
//
//	engram.audit/<tenant>
//	<size>
//	<base64 root>
//	engram-segment <first> <last> <base64 segment root>   (optional)
//	engram-time <RFC 3339 UTC>                            (optional)
type Checkpoint struct {
	Origin  string
	Size    uint64
	Hash    []byte
	Segment *SegmentRef
	Time    time.Time // zero when absent; second precision
	Extra   []string  // unknown extension lines, in order
}

// Marshal returns the checkpoint body (the text that is signed). It fails
// with ErrMalformed for a field that would not parse back.
func (c Checkpoint) Marshal() ([]byte, error) {
	if err := validOrigin(c.Origin); err != nil {
		return nil, err
	}
	if len(c.Hash) != HashSize {
		return nil, fmt.Errorf("checkpoint hash of %d bytes: %w", len(c.Hash), ErrMalformed)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash))
	if s := c.Segment; s != nil {
		if len(s.Root) != HashSize || s.First > s.Last || s.Last >= c.Size {
			return nil, fmt.Errorf("checkpoint segment [%d, %d] in size %d: %w", s.First, s.Last, c.Size, ErrMalformed)
		}
		fmt.Fprintf(&b, "%s %d %d %s\n", extSegment, s.First, s.Last, base64.StdEncoding.EncodeToString(s.Root))
	}
	if !c.Time.IsZero() {
		fmt.Fprintf(&b, "%s %s\n", extTime, c.Time.UTC().Format(time.RFC3339))
	}
	for _, l := range c.Extra {
		if l == "" || strings.ContainsAny(l, "\n\r") || !isText(l) ||
			strings.HasPrefix(l, extSegment+" ") || strings.HasPrefix(l, extTime+" ") {
			return nil, fmt.Errorf("checkpoint extension line %q: %w", l, ErrMalformed)
		}
		b.WriteString(l + "\n")
	}
	return b.Bytes(), nil
}

// ParseCheckpoint parses a checkpoint body (without signatures). It is
// strict — canonical decimal, standard padded base64, no empty lines, the
// segment then time lines before any other extension — so one checkpoint has exactly one encoding. It
// fails with ErrMalformed.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	bad := func(what string) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", what, ErrMalformed)
	}
	if len(body) > MaxCheckpointSize {
		return bad("too large")
	}
	s := string(body)
	if !strings.HasSuffix(s, "\n") || !isText(s) {
		return bad("text")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 3 {
		return bad("too short")
	}
	var c Checkpoint
	c.Origin = lines[0]
	if err := validOrigin(c.Origin); err != nil {
		return Checkpoint{}, err
	}
	size, ok := parseUint(lines[1])
	if !ok {
		return bad("size")
	}
	c.Size = size
	if c.Hash, ok = parseHash(lines[2]); !ok {
		return bad("root hash")
	}
	// Known extension lines come first, in a fixed order, so that Marshal
	// reproduces the exact bytes that were signed.
	const (
		seenSegment = iota + 1
		seenTime
		seenExtra
	)
	stage := 0
	for _, l := range lines[3:] {
		key, rest, _ := strings.Cut(l, " ")
		switch {
		case l == "":
			return bad("empty extension line")
		case key == extSegment:
			if stage >= seenSegment {
				return bad("segment line out of place")
			}
			stage = seenSegment
			f := strings.Split(rest, " ")
			if len(f) != 3 {
				return bad("segment line")
			}
			first, ok1 := parseUint(f[0])
			last, ok2 := parseUint(f[1])
			root, ok3 := parseHash(f[2])
			if !ok1 || !ok2 || !ok3 || first > last || last >= c.Size {
				return bad("segment line")
			}
			c.Segment = &SegmentRef{First: first, Last: last, Root: root}
		case key == extTime:
			if stage >= seenTime {
				return bad("time line out of place")
			}
			stage = seenTime
			t, err := time.Parse(time.RFC3339, rest)
			if err != nil || t.IsZero() || !strings.HasSuffix(rest, "Z") || t.Format(time.RFC3339) != rest {
				return bad("time line")
			}
			c.Time = t
		default:
			stage = seenExtra
			c.Extra = append(c.Extra, l)
		}
	}
	return c, nil
}

// Sign marshals and signs cp. The signer comes from NewSigner.
func Sign(cp Checkpoint, signer note.Signer) ([]byte, error) {
	body, err := cp.Marshal()
	if err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return signed, nil
}

// Open verifies a signed checkpoint against the verifier keys (note
// verifier keys, see GenerateKey) and the expected origin, and parses it. A
// checkpoint signed by any one of the keys opens: a deployment that rotated
// its signing key passes every version it ever used. It fails with
// ErrSignature when no signature by those keys verifies (signatures by other
// keys are ignored, as the signed-note format intends), ErrOrigin when the
// checkpoint belongs to another log, and ErrMalformed otherwise, also when no
// key is given.
func Open(signed []byte, origin string, verifierKeys ...string) (Checkpoint, error) {
	vl, err := verifierList(verifierKeys)
	if err != nil {
		return Checkpoint{}, err
	}
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("checkpoint too large: %w", ErrMalformed)
	}
	n, err := note.Open(signed, vl)
	if err != nil {
		var inv *note.InvalidSignatureError
		var unv *note.UnverifiedNoteError
		if errors.As(err, &inv) || errors.As(err, &unv) {
			return Checkpoint{}, fmt.Errorf("open checkpoint: %w", ErrSignature)
		}
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w: %v", ErrMalformed, err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q, want %q: %w", cp.Origin, origin, ErrOrigin)
	}
	return cp, nil
}

func verifierList(keys []string) (note.Verifiers, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("checkpoint verifier key: none given: %w", ErrMalformed)
	}
	vs := make([]note.Verifier, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		// note.VerifierList refuses a key listed twice as ambiguous.
		if seen[k] {
			continue
		}
		seen[k] = true
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("checkpoint verifier key: %w: %v", ErrMalformed, err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// GenerateKey returns a new Ed25519 signer key and its verifier key in the
// signed-note text format ("PRIVATE+KEY+name+hash+data" and
// "name+hash+data"). name defaults to KeyName. The signer key is a secret.
func GenerateKey(rand io.Reader, name string) (signerKey, verifierKey string, err error) {
	if name == "" {
		name = KeyName
	}
	signerKey, verifierKey, err = note.GenerateKey(rand, name)
	if err != nil {
		return "", "", fmt.Errorf("generate checkpoint key: %w", err)
	}
	return signerKey, verifierKey, nil
}

// NewSigner parses a signer key from GenerateKey. The error never contains
// the key.
func NewSigner(signerKey string) (note.Signer, error) {
	s, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer key: %w", ErrMalformed)
	}
	return s, nil
}

func validOrigin(o string) error {
	if o == "" || strings.ContainsAny(o, "\n\r") || !isText(o) || strings.TrimSpace(o) != o {
		return fmt.Errorf("checkpoint origin %q: %w", o, ErrMalformed)
	}
	return nil
}

// isText rejects control characters other than newline; the signed-note
// format forbids them and they have no business in a checkpoint.
func isText(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// parseUint accepts only canonical decimal: no sign, no leading zeros.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func parseHash(s string) ([]byte, bool) {
	h, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(h) != HashSize || base64.StdEncoding.EncodeToString(h) != s {
		return nil, false
	}
	return h, true
}
