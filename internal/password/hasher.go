package password

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Hasher hashes and verifies passwords with one set of parameters. It is
// safe for concurrent use.
type Hasher struct {
	p     Params
	rand  io.Reader
	sem   chan struct{}
	dummy Hash
}

// New returns a Hasher with parameters p (usually OWASP) drawing salts
// from rand (crypto/rand.Reader outside tests). concurrency bounds how many
// hashes run at once (0: GOMAXPROCS), so a burst of logins costs at most
// concurrency × p.Memory KiB of memory and waits instead of exhausting it.
// It fails when p is out of bounds or rand fails.
func New(p Params, rand io.Reader, concurrency int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{p: p, rand: rand, sem: make(chan struct{}, concurrency)}
	// The dummy has this Hasher's parameters and a random salt and key:
	// verifying against it costs exactly what a real verification costs,
	// and no password matches it (that would take finding an argon2id
	// preimage of a random 32-byte string).
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("password: draw dummy salt: %w", err)
	}
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, fmt.Errorf("password: draw dummy key: %w", err)
	}
	h.dummy = Hash{Params: p, Salt: salt, Key: key}
	return h, nil
}

// Params returns the Hasher's parameters.
func (h *Hasher) Params() Params { return h.p }

// Normalize returns pw in Unicode NFKC, the form that is checked and
// hashed. Hash and Verify call it themselves.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hash returns the PHC string of pw (normalised first) under a fresh salt.
// It does not apply the policy: call Check first for a new password. It
// fails when ctx ends while waiting for a slot or the random source fails.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	d, err := h.derive([]byte(Normalize(pw)))
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func (h *Hasher) derive(pw []byte) (Hash, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return Hash{}, fmt.Errorf("password: draw salt: %w", err)
	}
	key := argon2.IDKey(pw, salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	return Hash{Params: h.p, Salt: salt, Key: key}, nil
}

// Verify reports whether pw (normalised first) matches the PHC string
// encoded, comparing in constant time. The work is that of encoded's own
// parameters. A malformed encoded string is ErrMalformed (a stored hash
// that cannot be read: not the caller's fault, but still no login); ctx
// ending while waiting for a slot is ctx.Err(). A wrong password is
// (false, nil).
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	stored, err := Parse(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if len(pw) > maxPresented {
		// No valid password is this long (Check caps new ones at
		// MaxBytes). Do the same work on nothing rather than normalise
		// and hash megabytes, and refuse.
		match(stored, nil)
		return false, nil
	}
	return match(stored, []byte(Normalize(pw))), nil
}

// maxPresented bounds what Verify normalises and hashes: four times
// MaxBytes, since NFKC may shrink a password that Check measured after
// normalising (full-width forms, ligatures) only by so much.
const maxPresented = 4 * MaxBytes

// VerifyAbsent does the work of Verify against a hash nobody's password
// matches, and reports false. Call it when the account looked up by email
// does not exist (or has no password), so the answer takes the same time
// and work as a wrong password for an existing account. It returns an error
// only when ctx ends while waiting for a slot.
func (h *Hasher) VerifyAbsent(ctx context.Context, pw string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	if len(pw) > maxPresented {
		pw = ""
	}
	match(h.dummy, []byte(Normalize(pw)))
	return nil
}

func match(stored Hash, pw []byte) bool {
	p := stored.Params
	key := argon2.IDKey(pw, stored.Salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(key, stored.Key) == 1
}

// NeedsRehash reports whether encoded was made with parameters other than
// the Hasher's (or cannot be read): after a successful Verify the caller
// hashes the password again and stores the new string.
func (h *Hasher) NeedsRehash(encoded string) bool {
	stored, err := Parse(encoded)
	return err != nil || stored.Params != h.p
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }
