package seal

import (
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"
)

// Key is a data key: 32 random bytes with an identity. The secret is used
// directly as the AES-256-GCM-SIV key; it is never derived from another key.
type Key struct {
	ID      [16]byte
	Version uint32
	Secret  []byte
}

// ErrOpen is the one error Open returns, whatever the cause: wrong key or key
// version, wrong context, tampering, a bad commitment or a malformed envelope.
var ErrOpen = errors.New("seal: cannot open envelope")

var (
	errKeySize = errors.New("seal: data key must be 32 bytes")
	errFIPS    = errors.New("seal: AES-256-GCM-SIV is refused in FIPS 140-3 mode")
)

// commitInfo separates the commitment key from every other use of a data key.
const commitInfo = "engram/seal/v1/commit"

// Seal encrypts plaintext under k, bound to c, and returns a version 1
// envelope (see the package documentation). It fails if k.Secret is not 32
// bytes, if c has no Domain or Field, or in FIPS 140-3 mode.
func Seal(k Key, c Context, plaintext []byte) ([]byte, error) {
	if fips140.Enabled() {
		return nil, errFIPS
	}
	if len(k.Secret) != 32 {
		return nil, errKeySize
	}
	if !validContext(c) {
		return nil, errContext
	}
	a, err := subtle.NewAESGCMSIV(k.Secret)
	if err != nil {
		return nil, fmt.Errorf("seal: new AEAD: %w", err)
	}
	aad := AAD(c, AES256GCMSIV, k.Version)
	out, err := a.Encrypt(plaintext, aad) // nonce || ciphertext || tag
	if err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	if len(out) != nonceSize+len(plaintext)+tagSize {
		return nil, fmt.Errorf("seal: encrypt: unexpected output of %d bytes", len(out))
	}
	h := Header{Version: formatV1, Alg: AES256GCMSIV, KeyID: k.ID, KeyVersion: k.Version, Nonce: out[:nonceSize]}
	env := h.appendPrefix(make([]byte, 0, headerSize+len(out)-nonceSize))
	tag, err := commitment(k.Secret, env, aad)
	if err != nil {
		return nil, err
	}
	env = append(env, tag...)
	return append(env, out[nonceSize:]...), nil
}

// Open checks and decrypts an envelope made by Seal with the same key and
// context. Any failure — wrong key or key version, wrong context, tampering,
// a bad commitment, a malformed envelope, FIPS 140-3 mode — returns ErrOpen.
// The commitment is checked in constant time before anything is decrypted.
func Open(k Key, c Context, envelope []byte) ([]byte, error) {
	if fips140.Enabled() || len(k.Secret) != 32 || !validContext(c) {
		return nil, ErrOpen
	}
	h, err := Parse(envelope)
	if err != nil || h.KeyID != k.ID || h.KeyVersion != k.Version {
		return nil, ErrOpen
	}
	aad := AAD(c, h.Alg, h.KeyVersion)
	want, err := commitment(k.Secret, envelope[:commitStart], aad)
	if err != nil || !hmac.Equal(want, h.Commitment) {
		return nil, ErrOpen
	}
	a, err := subtle.NewAESGCMSIV(k.Secret)
	if err != nil {
		return nil, ErrOpen
	}
	pt, err := a.Decrypt(append(h.Nonce, h.Body...), aad)
	if err != nil {
		return nil, ErrOpen
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// commitment is HMAC-SHA256 over the envelope prefix (magic to nonce) and
// the AAD, under a key derived from the data key with HKDF-SHA256.
func commitment(secret, prefix, aad []byte) ([]byte, error) {
	ck, err := hkdf.Key(sha256.New, secret, nil, commitInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive commitment key: %w", err)
	}
	m := hmac.New(sha256.New, ck)
	m.Write(prefix)
	m.Write(aad)
	return m.Sum(nil), nil
}
