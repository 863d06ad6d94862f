package password

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed is returned for a stored hash that is not a well-formed
// argon2id PHC string within bounds. It does not say what is wrong.
var ErrMalformed = errors.New("password: malformed hash")

// argon2Version is the only version written and accepted (0x13, RFC 9106).
const argon2Version = 19

// b64 is the PHC string format's base64: standard alphabet, no padding,
// strict (non-zero trailing bits are refused, so each hash has one
// spelling).
var b64 = base64.RawStdEncoding.Strict()

// Hash is a parsed PHC string.
type Hash struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// String encodes h as $argon2id$v=19$m=M,t=T,p=P$salt$key.
func (h Hash) String() string {
	var b strings.Builder
	b.WriteString("$argon2id$v=19$m=")
	b.WriteString(strconv.FormatUint(uint64(h.Params.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.Params.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.Params.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.Salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.Key))
	return b.String()
}

// maxEncoded bounds the input length before any work: the longest valid
// string is well under it.
const maxEncoded = 256

// Parse reads an argon2id PHC string. It accepts exactly the form String
// writes: algorithm argon2id, version 19, parameters m, t, p in that order
// as decimal numbers without leading zeros or signs, and no optional
// fields (keyid, data). Salt and key lengths and parameters must be within
// the package bounds. Anything else is ErrMalformed.
func Parse(s string) (Hash, error) {
	if len(s) > maxEncoded {
		return Hash{}, ErrMalformed
	}
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return Hash{}, ErrMalformed
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return Hash{}, ErrMalformed
	}
	m, ok1 := param(kv[0], "m=")
	t, ok2 := param(kv[1], "t=")
	p, ok3 := param(kv[2], "p=")
	if !ok1 || !ok2 || !ok3 || p > 255 {
		return Hash{}, ErrMalformed
	}
	salt, ok1 := decode(parts[4])
	key, ok2 := decode(parts[5])
	if !ok1 || !ok2 {
		return Hash{}, ErrMalformed
	}
	h := Hash{
		Params: Params{Memory: m, Time: t, Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		Salt:   salt,
		Key:    key,
	}
	if h.Params.Validate() != nil {
		return Hash{}, ErrMalformed
	}
	return h, nil
}

// param reads "name=decimal" into a uint32: digits only, no leading zero
// (except "0" itself), no overflow.
func param(s, name string) (uint32, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// decode reads base64 that must be in canonical form. encoding/base64
// skips '\r' and '\n' anywhere in its input (found by FuzzParse), so the
// result is re-encoded and compared: one hash, one spelling.
func decode(s string) ([]byte, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
