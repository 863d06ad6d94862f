package seal

import (
	"encoding/binary"
	"errors"
	"math"
)

// Context binds a ciphertext to where it lives. Any field may be empty except
// Domain and Field. A ciphertext sealed under one Context opens under that
// Context only.
type Context struct {
	Domain  string // what kind of thing: "memory", "entity", "key", ...
	Tenant  string // owning tenant id
	Subject string // subject (user scope) or entity id, if any
	Record  string // row id
	Field   string // column or field name
}

// AAD returns the canonical associated data for c, alg and keyVersion:
// domain, tenant, subject, record and field, each as a big-endian uint32
// length followed by its bytes, then the algorithm byte and the key version
// as a big-endian uint32. The encoding is injective: two different inputs
// never give the same bytes. (Seal and Open refuse fields longer than
// math.MaxUint32 bytes, the one case where the length prefix would wrap.)
func AAD(c Context, alg Algorithm, keyVersion uint32) []byte {
	fields := [...]string{c.Domain, c.Tenant, c.Subject, c.Record, c.Field}
	n := 1 + 4
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	b = append(b, byte(alg))
	return binary.BigEndian.AppendUint32(b, keyVersion)
}

var errContext = errors.New("seal: context needs a domain and a field, each field at most 4 GiB")

// validContext reports whether c has a domain and a field and every field
// fits the AAD's length prefix.
func validContext(c Context) bool {
	if c.Domain == "" || c.Field == "" {
		return false
	}
	for _, f := range [...]string{c.Domain, c.Tenant, c.Subject, c.Record, c.Field} {
		if uint64(len(f)) > math.MaxUint32 {
			return false
		}
	}
	return true
}
