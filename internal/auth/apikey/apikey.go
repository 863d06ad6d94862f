// Package apikey is the wire format of Engram API keys and the MAC that is
// the only thing stored about their secrets.
//
// A key reads egm_<id>_<secret><checksum>:
//
//   - "egm_" marks it as ours, so secret scanners (GitHub push protection,
//     trufflehog, gitleaks) can find leaked keys with a fixed pattern;
//   - id, 12 base62 characters, names the key: the server looks it up by id,
//     and "egm_<id>" (Prefix) is safe to show and to store;
//   - secret, 32 base62 characters (about 190 bits), is shown once and only
//     its MAC under a server-side pepper is stored (MAC, Equal);
//   - checksum, the CRC-32 (IEEE) of everything before it in 6 base62
//     characters, lets a scanner tell a real key from a random string of the
//     same shape without asking us, and lets Parse reject a mistyped or
//     truncated key before any database lookup. It is no protection against
//     forgery: anyone can compute it.
//
// Base62 keeps a key one "word" for double-click selection and safe in URLs,
// headers and shell commands without quoting.
//
// In full: ^egm_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$, 55 characters.
package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
)

// Lengths of the parts of a key.
const (
	IDLen       = 12
	SecretLen   = 32
	ChecksumLen = 6
	// Len is the length of a whole key.
	Len = len(prefix) + IDLen + 1 + SecretLen + ChecksumLen
)

const (
	prefix   = "egm_"
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformed is returned by Parse for any string that is not a well-formed
// key. It says nothing about what is wrong, on purpose.
var ErrMalformed = errors.New("apikey: malformed key")

// Token is a parsed key. Its String is the whole key, secret included, so it
// must not be logged or printed; its LogValue is the Prefix, so slog never
// shows the secret.
type Token struct {
	ID     string
	Secret string
}

// Generate draws a new key from r, which should be crypto/rand.Reader
// outside tests, and returns it with its string form. Every character is
// uniform over the alphabet (bytes are drawn one at a time and those that
// would bias the result are rejected). It fails only when r does, with an
// error wrapping r's.
func Generate(r io.Reader) (Token, string, error) {
	chars, err := draw(r, IDLen+SecretLen)
	if err != nil {
		return Token{}, "", fmt.Errorf("apikey: draw random key: %w", err)
	}
	t := Token{ID: string(chars[:IDLen]), Secret: string(chars[IDLen:])}
	return t, t.String(), nil
}

// draw returns n characters of the alphabet drawn uniformly from r. A byte
// below 248 = 4·62 maps to alphabet[b%62]; the 8 bytes above are rejected,
// so each character is exactly uniform. r is read in fixed-size blocks, so a
// given stream always gives the same characters.
func draw(r io.Reader, n int) ([]byte, error) {
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return out, nil
}

// Parse checks that s is a well-formed key and splits it: the prefix, the
// separator, the lengths, the alphabet and the checksum must all be right,
// and anything else is ErrMalformed. A well-formed key may still be unknown,
// revoked or wrong: Parse only saves the lookup for strings that cannot be
// keys.
func Parse(s string) (Token, error) {
	if len(s) != Len || s[:len(prefix)] != prefix || s[len(prefix)+IDLen] != '_' {
		return Token{}, ErrMalformed
	}
	body := s[:Len-ChecksumLen]
	id := body[len(prefix) : len(prefix)+IDLen]
	secret := body[len(prefix)+IDLen+1:]
	if !isBase62(id) || !isBase62(secret) {
		return Token{}, ErrMalformed
	}
	// The checksum is public, so comparing it in variable time leaks
	// nothing.
	if s[Len-ChecksumLen:] != checksum(body) {
		return Token{}, ErrMalformed
	}
	return Token{ID: id, Secret: secret}, nil
}

// String returns the whole key, egm_<id>_<secret><checksum>. It is the
// secret: show it once, never log it.
func (t Token) String() string {
	body := t.Prefix() + "_" + t.Secret
	return body + checksum(body)
}

// Prefix returns "egm_<id>", which names the key without revealing it: safe
// to display, log and store.
func (t Token) Prefix() string { return prefix + t.ID }

// LogValue implements slog.LogValuer: a Token logs as its Prefix.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.Prefix()) }

// checksum returns the CRC-32 (IEEE) of body as ChecksumLen base62 digits,
// most significant first, zero-padded. 62^6 > 2^32, so every CRC fits.
func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	var out [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%uint32(len(alphabet))]
		v /= uint32(len(alphabet))
	}
	return string(out[:])
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// MAC returns HMAC-SHA256(pepper, secret), the only thing stored about a
// key's secret. The pepper is a server-side key of at least 32 bytes that
// never reaches the database, so a copy of the database alone does not allow
// guessing secrets offline. Compare MACs with Equal.
func MAC(pepper []byte, secret string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Equal reports whether two MACs are equal, in time that depends only on
// their lengths.
func Equal(a, b []byte) bool { return hmac.Equal(a, b) }

// ValidID reports whether s has the form of a key id (IDLen base62
// characters). Ids that fail it name no key, and are refused before they
// reach a lookup, a log or the audit trail: a pasted secret is not an id.
func ValidID(s string) bool { return len(s) == IDLen && isBase62(s) }

// Contains reports whether s holds something shaped like a key: "egm_",
// an id and the separator. Labels that do are refused, so a secret pasted
// into one is never stored.
func Contains(s string) bool {
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			return false
		}
		s = s[i+len(prefix):]
		if len(s) > IDLen && isBase62(s[:IDLen]) && s[IDLen] == '_' {
			return true
		}
	}
}
