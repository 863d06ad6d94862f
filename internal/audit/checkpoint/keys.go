package checkpoint

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// NewEd25519Signer returns a signer for a raw Ed25519 private key and the
// verifier key to publish for it, for keys that live in Engram's key
// hierarchy (wrapped by the KEK) rather than as note-format text. The key
// hash comes from note's own verifier-key encoding, so signatures verify with
// any signed-note implementation. It fails with ErrMalformed for a bad name
// or key; the error never contains the key.
func NewEd25519Signer(name string, key ed25519.PrivateKey) (note.Signer, string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, "", fmt.Errorf("ed25519 signer key: %w", ErrMalformed)
	}
	// Signed-note key names may not hold spaces or '+', which delimit the
	// signature line and the key encoding.
	if name == "" || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.Contains(name, "+") {
		return nil, "", fmt.Errorf("ed25519 signer name %q: %w", name, ErrMalformed)
	}
	pub, _ := key.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, "", fmt.Errorf("ed25519 signer name %q: %w", name, ErrMalformed)
	}
	// vkey is "name+hash+data" with an 8-hex-digit hash; data is standard
	// base64 and may itself contain '+', so split at the first two only.
	fields := strings.SplitN(vkey, "+", 3)
	if len(fields) != 3 {
		return nil, "", fmt.Errorf("ed25519 signer name %q: %w", name, ErrMalformed)
	}
	h, err := strconv.ParseUint(fields[1], 16, 32)
	if err != nil {
		return nil, "", fmt.Errorf("ed25519 verifier key hash: %w", ErrMalformed)
	}
	return ed25519Signer{name: name, hash: uint32(h), key: key}, vkey, nil
}

type ed25519Signer struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
}

func (s ed25519Signer) Name() string                    { return s.name }
func (s ed25519Signer) KeyHash() uint32                 { return s.hash }
func (s ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }
