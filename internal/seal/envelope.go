package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Algorithm identifies the AEAD in an envelope.
type Algorithm byte

const (
	// AES256GCMSIV is the standard profile: AES-256-GCM-SIV (RFC 8452)
	// through tink-go's aead/subtle.
	AES256GCMSIV Algorithm = 1
	// AES256GCMHKDF is the FIPS profile: AES-256-GCM with a random nonce
	// (crypto/cipher.NewGCMWithRandomNonce) under a per-record subkey,
	// HKDF-SHA256 of the data key salted with the envelope's nonce field.
	// Standard-library crypto only, so it stays inside Go's FIPS 140-3
	// module.
	AES256GCMHKDF Algorithm = 2
)

// String returns the algorithm's name, or "unknown(n)".
func (a Algorithm) String() string {
	switch a {
	case AES256GCMSIV:
		return "AES-256-GCM-SIV"
	case AES256GCMHKDF:
		return "AES-256-GCM+HKDF-SHA256"
	}
	return fmt.Sprintf("unknown(%d)", byte(a))
}

// ErrMalformed reports an envelope that does not parse: wrong magic, unknown
// version or algorithm, or too short. Parse may wrap it with detail; test it
// with errors.Is.
var ErrMalformed = errors.New("seal: malformed envelope")

// Envelope version 1 layout; see the package documentation.
const (
	magic0, magic1 = 0xE6, 0x5E
	formatV1       = 1

	keyIDSize   = 16
	nonceSize   = 12
	commitSize  = 32
	tagSize     = 16
	commitStart = 2 + 1 + 1 + keyIDSize + 4 + nonceSize // 36: bytes covered by the commitment
	headerSize  = commitStart + commitSize              // 68: bytes before the body

	// gcmNonceSize is the nonce NewGCMWithRandomNonce puts before its
	// ciphertext: algorithm 2's body is gcm nonce || ciphertext || tag.
	gcmNonceSize = 12
)

// overhead returns how many bytes an envelope of alg adds to its plaintext
// (84 for algorithm 1, 96 for algorithm 2), or 0 for an unknown algorithm.
func overhead(alg Algorithm) int {
	switch alg {
	case AES256GCMSIV:
		return headerSize + tagSize
	case AES256GCMHKDF:
		return headerSize + gcmNonceSize + tagSize
	}
	return 0
}

// Header is a parsed envelope.
type Header struct {
	Version    byte
	Alg        Algorithm
	KeyID      [16]byte
	KeyVersion uint32
	// Nonce is the 12-byte nonce field: the GCM-SIV nonce for algorithm 1,
	// the HKDF salt of the per-record subkey for algorithm 2.
	Nonce      []byte
	Commitment []byte
	// Body is ciphertext || tag for algorithm 1 and
	// gcm nonce || ciphertext || tag for algorithm 2.
	Body []byte
}

// Parse reads an envelope without decrypting it. It is strict: it returns an
// error wrapping ErrMalformed for a wrong magic, an unknown version or
// algorithm, or an input too short for its algorithm (84 bytes for algorithm
// 1, 96 for algorithm 2: the envelope of an empty plaintext). It accepts
// both algorithms in both profiles; Open applies the profile. The returned
// slices are copies; envelope is not retained.
func Parse(envelope []byte) (*Header, error) {
	if len(envelope) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(envelope))
	}
	if envelope[0] != magic0 || envelope[1] != magic1 {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if v := envelope[2]; v != formatV1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrMalformed, v)
	}
	alg := Algorithm(envelope[3])
	need := overhead(alg)
	if need == 0 {
		return nil, fmt.Errorf("%w: unknown algorithm %d", ErrMalformed, byte(alg))
	}
	if len(envelope) < need {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d for %v", ErrMalformed, len(envelope), need, alg)
	}
	h := &Header{
		Version:    envelope[2],
		Alg:        alg,
		KeyVersion: binary.BigEndian.Uint32(envelope[20:24]),
		Nonce:      bytes.Clone(envelope[24 : 24+nonceSize]),
		Commitment: bytes.Clone(envelope[commitStart:headerSize]),
		Body:       bytes.Clone(envelope[headerSize:]),
	}
	copy(h.KeyID[:], envelope[4:20])
	return h, nil
}

// Marshal serialises h. For any envelope that Parse accepts,
// Parse(e).Marshal() equals e. It does not validate h.
func (h *Header) Marshal() []byte {
	b := h.appendPrefix(make([]byte, 0, headerSize+len(h.Body)))
	b = append(b, h.Commitment...)
	return append(b, h.Body...)
}

// appendPrefix appends the bytes the commitment covers: magic, version,
// algorithm, key id, key version and nonce.
func (h *Header) appendPrefix(b []byte) []byte {
	b = append(b, magic0, magic1, h.Version, byte(h.Alg))
	b = append(b, h.KeyID[:]...)
	b = binary.BigEndian.AppendUint32(b, h.KeyVersion)
	return append(b, h.Nonce...)
}
