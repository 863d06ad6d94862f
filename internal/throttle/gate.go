package throttle

import (
	"sync"
	"time"
)

// DefaultMaxKeys bounds a Table when New is given 0.
const DefaultMaxKeys = 100000

// Table keeps the states of one key kind in memory, for one node. It is
// safe for concurrent use. Several nodes each keep their own, so N nodes
// allow up to N times the attempts; a store-backed table is the wiring
// step's to add if that matters (see docs/IDENTITY.md).
type Table struct {
	p   Policy
	max int

	mu sync.Mutex
	m  map[string]State
}

// NewTable returns a Table applying p to at most maxKeys keys (0:
// DefaultMaxKeys).
func NewTable(p Policy, maxKeys int) *Table {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Table{p: p, max: maxKeys, m: map[string]State{}}
}

// Check is Policy.Check for key.
func (t *Table) Check(now time.Time, key string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p.Check(now, t.m[key])
}

// Fail records a failure for key.
func (t *Table) Fail(now time.Time, key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; !ok {
		t.makeRoom(now)
	}
	t.m[key] = t.p.Fail(now, t.m[key])
}

// Succeed forgets key.
func (t *Table) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// Len is the number of keys kept.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// makeRoom keeps the table under its cap: idle keys go first, then keys
// not locked (their few failures are the least to lose), and locked keys
// only when every key is locked. An attacker who floods the table from
// many addresses therefore cannot unlock an account it locked.
func (t *Table) makeRoom(now time.Time) {
	if len(t.m) < t.max {
		return
	}
	for k, s := range t.m {
		if t.p.Idle(now, s) {
			delete(t.m, k)
		}
	}
	for k, s := range t.m {
		if len(t.m) < t.max {
			return
		}
		if !now.Before(s.LockedUntil) {
			delete(t.m, k)
		}
	}
	for k := range t.m {
		if len(t.m) < t.max {
			return
		}
		delete(t.m, k)
	}
}

// Gate applies both tables to a login: the account key (the email's blind
// index) and the address key.
type Gate struct {
	Accounts  *Table
	Addresses *Table
}

// NewGate returns a Gate with the default policies.
func NewGate() *Gate {
	return &Gate{Accounts: NewTable(Account, 0), Addresses: NewTable(Address, 0)}
}

// Allow reports whether a login for account from address may be tried
// now; when not, retryAfter is the longer of the two waits. Call it before
// looking the account up or hashing anything.
func (g *Gate) Allow(now time.Time, account, address string) (ok bool, retryAfter time.Duration) {
	okA, wA := g.Accounts.Check(now, account)
	okB, wB := g.Addresses.Check(now, address)
	return okA && okB, max(wA, wB)
}

// Record counts the outcome of an allowed attempt. Success resets the
// account key only (see the package comment).
func (g *Gate) Record(now time.Time, account, address string, success bool) {
	if success {
		g.Accounts.Succeed(account)
		return
	}
	g.Accounts.Fail(now, account)
	g.Addresses.Fail(now, address)
}
