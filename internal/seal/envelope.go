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
	// 2 is reserved for the FIPS profile (AES-256-GCM with a random nonce
	// under an HKDF per-record subkey). Parse rejects it until it exists.
)

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
	headerSize  = commitStart + commitSize              // 68: bytes before ciphertext||tag
	minSize     = headerSize + tagSize                  // 84: an envelope of an empty plaintext
)

// Header is a parsed envelope.
type Header struct {
	Version    byte
	Alg        Algorithm
	KeyID      [16]byte
	KeyVersion uint32
	Nonce      []byte
	Commitment []byte
	Body       []byte // ciphertext || tag
}

// Parse reads an envelope without decrypting it. It is strict: it returns an
// error wrapping ErrMalformed for a wrong magic, an unknown version or
// algorithm, or an input too short to hold a header and a tag. The returned
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
	if a := Algorithm(envelope[3]); a != AES256GCMSIV {
		return nil, fmt.Errorf("%w: unknown algorithm %d", ErrMalformed, a)
	}
	if len(envelope) < minSize {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrMalformed, len(envelope), minSize)
	}
	h := &Header{
		Version:    envelope[2],
		Alg:        Algorithm(envelope[3]),
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
