package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind is what a token is for; its prefix says so on the wire, so a
// refresh token presented as an access token (or the reverse) is refused
// before any lookup, and secret scanners can recognise both.
type Kind uint8

// Kinds of token.
const (
	Access Kind = iota + 1
	Refresh
)

// Prefixes of the two kinds.
const (
	AccessPrefix  = "egat_"
	RefreshPrefix = "egrt_"
)

// SecretLen is the random part of a token, in bytes; TokenLen the length
// of a whole token (both prefixes are 5 characters).
const (
	SecretLen = 32
	TokenLen  = 5 + 43
)

// MinKeyLen is the shortest server key accepted for digests.
const MinKeyLen = 32

// ErrMalformed: the string is not a token of the expected kind. It says
// nothing more, on purpose.
var ErrMalformed = errors.New("session: malformed token")

var b64 = base64.RawURLEncoding.Strict()

func (k Kind) prefix() string {
	switch k {
	case Access:
		return AccessPrefix
	case Refresh:
		return RefreshPrefix
	}
	return ""
}

// String names the kind ("access", "refresh").
func (k Kind) String() string {
	switch k {
	case Access:
		return "access"
	case Refresh:
		return "refresh"
	}
	return "unknown"
}

// newToken draws a token of kind k from r.
func newToken(r io.Reader, k Kind) (string, error) {
	b := make([]byte, SecretLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("session: draw %s token: %w", k, err)
	}
	return k.prefix() + b64.EncodeToString(b), nil
}

// Parse checks that s is a well-formed token of kind k and returns its
// secret bytes. Anything else is ErrMalformed.
func Parse(k Kind, s string) ([]byte, error) {
	p := k.prefix()
	if p == "" || len(s) != TokenLen || !strings.HasPrefix(s, p) {
		return nil, ErrMalformed
	}
	b, err := b64.DecodeString(s[len(p):])
	// Strict still skips \r and \n: a re-encoding that differs means the
	// string was not canonical.
	if err != nil || len(b) != SecretLen || b64.EncodeToString(b) != s[len(p):] {
		return nil, ErrMalformed
	}
	return b, nil
}

// Digester turns tokens into the digests a store keeps and looks up.
type Digester struct{ key []byte }

// NewDigester returns a Digester keyed by key (at least MinKeyLen bytes,
// from the key hierarchy, never stored beside the digests).
func NewDigester(key []byte) (*Digester, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("session: digest key must be at least %d bytes", MinKeyLen)
	}
	return &Digester{key: append([]byte(nil), key...)}, nil
}

// Digest returns HMAC-SHA256(key, "engram-session-v1" | kind | secret) of a
// token of kind k, or ErrMalformed. The kind is inside the MAC, so a
// refresh digest never equals an access digest. Stores look tokens up by
// digest equality (an index); the digest of a guess tells an attacker
// nothing about stored digests, so the lookup needs no constant-time
// comparison.
func (d *Digester) Digest(k Kind, token string) ([]byte, error) {
	secret, err := Parse(k, token)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("engram-session-v1"))
	m.Write([]byte{0, byte(k), 0})
	m.Write(secret)
	return m.Sum(nil), nil
}
