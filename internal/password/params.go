package password

import (
	"errors"
	"fmt"
)

// Params are argon2id's cost parameters and sizes.
type Params struct {
	// Memory is in KiB.
	Memory uint32
	// Time is the number of passes over memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// OWASP is the default: the OWASP Password Storage Cheat Sheet's argon2id
// minimum, m=19 MiB, t=2, p=1, with a 16-byte salt and a 32-byte hash.
// About 20-40 ms and 19 MiB per hash on a current server core.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters, for both configuration and stored hashes. The upper
// bounds stop a corrupted or hostile stored hash from asking for gigabytes
// of memory or minutes of work on a login.
const (
	MinSaltLen = 8
	MaxSaltLen = 64
	MinKeyLen  = 16
	MaxKeyLen  = 64
	MaxMemory  = 1 << 20 // KiB: 1 GiB
	MaxTime    = 32
)

// ErrParams is wrapped by Validate's errors.
var ErrParams = errors.New("password: invalid argon2id parameters")

// Validate reports whether p is within the bounds above and argon2's own
// (memory at least 8 KiB per lane).
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("%w: threads must be at least 1", ErrParams)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: time must be 1..%d", ErrParams, MaxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("%w: memory must be 8*threads..%d KiB", ErrParams, MaxMemory)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt length must be %d..%d bytes", ErrParams, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length must be %d..%d bytes", ErrParams, MinKeyLen, MaxKeyLen)
	}
	return nil
}
