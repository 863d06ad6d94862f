package saml

import (
	"context"
	"errors"
	"sync"
	"time"

	crewjam "github.com/crewjam/saml"
)

// ErrReplayed is what a ReplayCache returns for an assertion id it already
// holds. It matches crewjam's ErrAssertionReplayed too, so either name works
// with errors.Is.
var ErrReplayed = replayedError{}

type replayedError struct{}

func (replayedError) Error() string        { return "saml: assertion already used" }
func (replayedError) Is(target error) bool { return target == crewjam.ErrAssertionReplayed }

// ReplayCache remembers accepted assertions so each is accepted once, across
// every Engram node that serves the organisation. The store implements it
// with one table:
//
//	CREATE TABLE saml_assertions (
//	    scope      TEXT NOT NULL,   -- organisation (tenant) id
//	    id         TEXT NOT NULL,   -- the assertion's ID (also "LogoutRequest:…", "Artifact:…")
//	    expires_at TIMESTAMP NOT NULL,
//	    PRIMARY KEY (scope, id)
//	);
//
// Consume is one INSERT … ON CONFLICT (scope, id) DO NOTHING: zero rows
// inserted means ErrReplayed. The insert must commit before Consume returns
// (the user is signed in right after), and any database error must be
// returned, never swallowed: an error refuses the assertion (fail closed).
// Sweep is DELETE … WHERE expires_at < now, run periodically; a row may go
// once its assertion would be refused as expired anyway.
type ReplayCache interface {
	// Consume atomically records (scope, id) until expiresAt. It returns
	// ErrReplayed when the pair is already recorded and unexpired, and any
	// other error when it cannot record it.
	Consume(ctx context.Context, scope, id string, expiresAt time.Time) error
	// Sweep drops records that expired before now and says how many.
	Sweep(ctx context.Context, now time.Time) (int, error)
}

// MemoryReplayCache is a ReplayCache for tests and single-node deployments.
// It forgets everything on restart, so a captured assertion that is still
// inside its validity window would be accepted once more after a restart:
// use the store's implementation whenever more than one node or restarts
// within an assertion's lifetime (minutes) matter.
type MemoryReplayCache struct {
	mu   sync.Mutex
	seen map[[2]string]time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewMemoryReplayCache returns an empty in-memory cache.
func NewMemoryReplayCache() *MemoryReplayCache {
	return &MemoryReplayCache{seen: map[[2]string]time.Time{}}
}

// Consume implements ReplayCache.
func (m *MemoryReplayCache) Consume(_ context.Context, scope, id string, expiresAt time.Time) error {
	if id == "" {
		return errors.New("saml: assertion has no id")
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[[2]string]time.Time{}
	}
	k := [2]string{scope, id}
	if exp, ok := m.seen[k]; ok && !now.After(exp) {
		return ErrReplayed
	}
	// Bound the memory: drop expired records once the map grows.
	if len(m.seen) >= 4096 {
		m.sweepLocked(now)
	}
	m.seen[k] = expiresAt
	return nil
}

// Sweep implements ReplayCache.
func (m *MemoryReplayCache) Sweep(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sweepLocked(now), nil
}

func (m *MemoryReplayCache) sweepLocked(now time.Time) int {
	n := 0
	for k, exp := range m.seen {
		if now.After(exp) {
			delete(m.seen, k)
			n++
		}
	}
	return n
}

func (m *MemoryReplayCache) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// boundCache adapts a ReplayCache to crewjam's interface for one request:
// crewjam's Consume has no context and no scope, so both are bound here.
type boundCache struct {
	ctx   context.Context
	scope string
	cache ReplayCache
}

func (b boundCache) Consume(id string, expiresAt time.Time) error {
	return b.cache.Consume(b.ctx, b.scope, id, expiresAt)
}
