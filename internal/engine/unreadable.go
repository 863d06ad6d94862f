package engine

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/engram-memory/engram"
)

// A record is unreadable when it can never be opened again: the subject
// key version that sealed it is gone (crypto-shredded by an erasure), or
// its envelope does not authenticate under the key that is stored (damage,
// tampering, or a write that committed under a key destroyed since). One
// such record must not take down a tenant's reads: list, search, index
// loads and history skip it; GET of it answers 404 `unreadable`. Each
// encounter is counted (Unreadable, exported as a Prometheus counter) and
// each record is logged once per process, by id, never by content. The
// operator removes such records with `engram repair`.
//
// A key service that is unavailable is not this: it fails the request
// (503), since the records are intact and skipping them would hide data.

// unreadable wraps why a record does not open.
type unreadable struct{ err error }

func (u *unreadable) Error() string { return "record unreadable: " + u.err.Error() }
func (u *unreadable) Unwrap() error { return u.err }

func isUnreadable(err error) bool {
	var u *unreadable
	return errors.As(err, &u)
}

// WithLogger sets where the engine logs what it skips (ids only).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.unread.log = l } }

// unreadLog counts unreadable encounters and remembers which records were
// logged, so that a broken record a tenant lists every second is logged
// once, not every time.
type unreadLog struct {
	count atomic.Uint64
	log   *slog.Logger // nil: slog.Default()

	mu     sync.Mutex
	logged map[string]struct{}
}

// maxLogged bounds the set of logged records; past it the set is cleared
// (a record is then logged once more).
const maxLogged = 10_000

// skip records that a read skipped record id (kind "memory", "history",
// "account") of tenant because it does not open.
func (e *Engine) skip(tenantID, kind, id string, err error) {
	u := &e.unread
	u.count.Add(1)
	key := tenantID + "\x00" + kind + "\x00" + id
	u.mu.Lock()
	if u.logged == nil || len(u.logged) >= maxLogged {
		u.logged = map[string]struct{}{}
	}
	_, seen := u.logged[key]
	u.logged[key] = struct{}{}
	u.mu.Unlock()
	if seen {
		return
	}
	log := u.log
	if log == nil {
		log = slog.Default()
	}
	// The cause names the field and the failed check, never content.
	log.Warn("skipped a record that can no longer be decrypted; remove it with `engram repair`",
		"component", "engine", "tenant_id", tenantID, "kind", kind, "id", id, "error", err)
}

// Unreadable is how many times a read met a record it could not open and
// skipped (or refused) it, since the engine started.
func (e *Engine) Unreadable() uint64 { return e.unread.count.Load() }

// unreadableErr is what a client gets for a record that does not open.
func unreadableErr() error {
	return engram.Errorf(engram.CodeUnreadable,
		"this memory can no longer be decrypted (its key was destroyed or the record is damaged); an operator can remove it with engram repair")
}
