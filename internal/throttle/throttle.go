// Package throttle slows down password guessing: per account (the email's
// blind index) and per source address it counts failed logins, and after a
// few it locks the key out for a time that doubles with each further
// failure, up to a cap. A locked key is refused before the password is
// checked, with the time to wait, so the login answers 429 with a
// Retry-After and an attacker cannot make the server do argon2 work.
//
// Why not internal/ratelimit: its token buckets refill at a steady rate
// whatever the outcome, so a guesser gets rate×time guesses for ever; a
// lockout must count only failures, forget them on success, and grow.
//
// The rules are a pure state machine (Policy over State, with the time
// passed in); Table keeps states in memory for one node, bounded.
//
// Keys are the email's blind index (whether or not an account has that
// email, so a 429 says nothing about existence) and the client address.
// A success resets the account key but not the address key: otherwise an
// attacker with one real account could clear its address's count between
// guesses at others (password spraying).
package throttle

import (
	"math"
	"strconv"
	"time"
)

// Policy is one key kind's rule.
type Policy struct {
	// Free is how many failures are allowed before the first lockout: the
	// Free-th consecutive failure locks the key for Base.
	Free int
	// Base is the first lockout; each further failure doubles it.
	Base time.Duration
	// Max caps a lockout.
	Max time.Duration
	// Forget: a key with no failure for this long starts from zero.
	Forget time.Duration
}

// Default policies. An account gets 5 tries, then 30 s, 1 min, 2 min, …
// up to 15 min; a source address (which may be a whole office behind a
// NAT) gets 20, then 1 min doubling up to 1 h. Both forget after a day
// without failures. Against one account that is at most about 100 guesses
// a day once locked out, within NIST SP 800-63B's limit of 100
// consecutive failures.
var (
	Account = Policy{Free: 5, Base: 30 * time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}
	Address = Policy{Free: 20, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour}
)

// State is what is kept per key. The zero State is a fresh key.
type State struct {
	Failures    int
	LastFailure time.Time
	LockedUntil time.Time
}

// current returns s as of now: forgotten when it has been quiet for
// Forget and is not locked.
func (p Policy) current(now time.Time, s State) State {
	if s.Failures > 0 && now.Sub(s.LastFailure) >= p.Forget && !now.Before(s.LockedUntil) {
		return State{}
	}
	return s
}

// Check reports whether a login may be tried now, and if not, how long to
// wait (whole seconds, at least one, as Retry-After counts).
func (p Policy) Check(now time.Time, s State) (ok bool, retryAfter time.Duration) {
	s = p.current(now, s)
	if now.Before(s.LockedUntil) {
		return false, ceilSeconds(s.LockedUntil.Sub(now))
	}
	return true, 0
}

// Fail returns the state after a failed login at now. Call it only for
// attempts Check allowed: refused attempts are not counted, so a locked
// key's lockout is not stretched by the attacker hammering it.
func (p Policy) Fail(now time.Time, s State) State {
	s = p.current(now, s)
	s.Failures++
	s.LastFailure = now
	if s.Failures >= p.Free {
		s.LockedUntil = now.Add(p.lockout(s.Failures - p.Free))
	}
	return s
}

// Succeed returns the state after a successful login: a fresh key.
func (p Policy) Succeed(time.Time, State) State { return State{} }

// lockout is Base·2^n, capped at Max.
func (p Policy) lockout(n int) time.Duration {
	if n >= 62 || float64(p.Base)*math.Pow(2, float64(n)) >= float64(p.Max) {
		return p.Max
	}
	return p.Base << n
}

// Idle reports whether s carries nothing as of now (a table may drop it).
func (p Policy) Idle(now time.Time, s State) bool { return p.current(now, s) == State{} }

func ceilSeconds(d time.Duration) time.Duration {
	return max(time.Duration(math.Ceil(d.Seconds()))*time.Second, time.Second)
}

// RetryAfter formats a wait for the Retry-After header (delay-seconds).
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(int64(ceilSeconds(d)/time.Second), 10)
}
