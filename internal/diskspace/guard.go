// Package diskspace keeps headroom on the data directory's filesystem. A
// Guard refuses operations that grow the store once free space falls below
// a floor, so that what is left serves reads, their audit entries, and the
// writes that shrink or secure the data (deletions, erasures, key
// revocations), instead of every request failing once the disk is full.
//
// Free space is read with statfs(2) at most once per interval, not per
// request.
package diskspace

import (
	"sync"
	"time"

	"github.com/engram-memory/engram"
)

// DefaultInterval is how long a free-space reading is trusted.
const DefaultInterval = 2 * time.Second

// Space is one reading of a filesystem.
type Space struct {
	Avail uint64 // bytes an unprivileged process may still use
	Total uint64 // size of the filesystem in bytes
}

// Guard watches the filesystem holding Dir. Set its fields before first
// use; it is then safe for concurrent use.
type Guard struct {
	Dir   string
	Floor Floor
	// Free reads the space of the filesystem holding dir; nil is statfs.
	// Tests replace it to say "the disk is below the floor".
	Free func(dir string) (Space, error)
	// Interval is how long a reading is reused; 0 is DefaultInterval,
	// negative reads on every call.
	Interval time.Duration
	// OnChange, when set, is called (outside the Guard's lock) when a
	// reading crosses the floor either way, and when reading fails.
	OnChange func(low bool, s Space, err error)

	mu      sync.Mutex
	read    time.Time // when last read; zero: never
	space   Space
	low     bool
	readErr error
}

// State is what a Guard last saw.
type State struct {
	Space
	Low bool  // below the floor: growth is refused
	Err error // the last reading failed (growth is then allowed)
}

// State returns the current reading, refreshing it when it is older than
// the interval.
func (g *Guard) State() State {
	g.mu.Lock()
	interval := g.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	if !g.read.IsZero() && time.Since(g.read) < interval {
		st := State{Space: g.space, Low: g.low, Err: g.readErr}
		g.mu.Unlock()
		return st
	}
	// Read under the lock: concurrent callers wait for one statfs rather
	// than each making their own.
	free := g.Free
	if free == nil {
		free = statfs
	}
	s, err := free(g.Dir)
	low := err == nil && g.Floor.below(s.Avail, s.Total)
	changed := g.read.IsZero() && (low || err != nil) ||
		!g.read.IsZero() && (low != g.low || (err != nil) != (g.readErr != nil))
	g.read, g.space, g.low, g.readErr = time.Now(), s, low, err
	g.mu.Unlock()
	if changed && g.OnChange != nil {
		g.OnChange(low, s, err)
	}
	return State{Space: s, Low: low, Err: err}
}

// Room returns nil when the store may grow, and otherwise the client's
// insufficient_storage error. A failed reading allows growth: the guard
// keeps headroom, it does not stand between the store and a filesystem it
// cannot measure (SQLite's own "disk full" still answers the same code).
func (g *Guard) Room() error {
	if g == nil {
		return nil
	}
	if g.State().Low {
		return ErrLow
	}
	return nil
}

// ErrLow is Room's refusal. Its message names no path or size.
var ErrLow = &engram.Error{Code: engram.CodeInsufficientStorage,
	Message: "the server is low on storage space and refuses new data until an operator frees some; reads, deletions and erasures still work"}

// Health is the word /healthz shows: "ok", "low" (below the floor) or
// "unknown" (the reading failed).
func (g *Guard) Health() string {
	st := g.State()
	switch {
	case st.Err != nil:
		return "unknown"
	case st.Low:
		return "low"
	}
	return "ok"
}
