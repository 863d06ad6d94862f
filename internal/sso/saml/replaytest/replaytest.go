// Package replaytest is the conformance suite for saml.ReplayCache. Every
// implementation runs it — the in-memory cache here, and the store's table
// (SQLite, PostgreSQL) in its own tests — so they all refuse replays the
// same way.
package replaytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/engram-memory/engram/internal/sso/saml"
)

// Run checks the ReplayCache contract. newCache returns an empty cache; the
// suite uses ids unique to each call, so a shared database works too.
func Run(t *testing.T, newCache func(t *testing.T) saml.ReplayCache) {
	ctx := context.Background()
	uniq := func(t *testing.T, s string) string {
		return fmt.Sprintf("%s-%s-%d", t.Name(), s, time.Now().UnixNano())
	}
	later := time.Now().Add(10 * time.Minute)

	t.Run("second use refused", func(t *testing.T) {
		c, id := newCache(t), uniq(t, "a")
		if err := c.Consume(ctx, "org-1", id, later); err != nil {
			t.Fatalf("first Consume: %v", err)
		}
		err := c.Consume(ctx, "org-1", id, later)
		if !errors.Is(err, saml.ErrReplayed) || !errors.Is(err, crewjam.ErrAssertionReplayed) {
			t.Fatalf("second Consume: %v, want saml.ErrReplayed (matching crewjam's)", err)
		}
	})
	t.Run("scopes are separate", func(t *testing.T) {
		c, id := newCache(t), uniq(t, "b")
		if err := c.Consume(ctx, "org-1", id, later); err != nil {
			t.Fatal(err)
		}
		if err := c.Consume(ctx, "org-2", id, later); err != nil {
			t.Fatalf("same id in another scope: %v", err)
		}
	})
	t.Run("concurrent consumers: exactly one wins", func(t *testing.T) {
		c, id := newCache(t), uniq(t, "c")
		var wins, replays atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := c.Consume(ctx, "org-1", id, later); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, saml.ErrReplayed):
					replays.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || replays.Load() != 15 {
			t.Fatalf("%d wins, %d replays; want 1 and 15", wins.Load(), replays.Load())
		}
	})
	t.Run("sweep drops only expired records", func(t *testing.T) {
		c := newCache(t)
		old, live := uniq(t, "old"), uniq(t, "live")
		if err := c.Consume(ctx, "org-1", old, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := c.Consume(ctx, "org-1", live, later); err != nil {
			t.Fatal(err)
		}
		n, err := c.Sweep(ctx, time.Now())
		if err != nil || n < 1 {
			t.Fatalf("Sweep = %d, %v; want at least the expired record", n, err)
		}
		if err := c.Consume(ctx, "org-1", live, later); !errors.Is(err, saml.ErrReplayed) {
			t.Fatalf("unexpired record after Sweep: %v, want ErrReplayed", err)
		}
	})
	t.Run("cancelled context fails closed or records", func(t *testing.T) {
		c, id := newCache(t), uniq(t, "d")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.Consume(cctx, "org-1", id, later); err == nil {
			// Recorded despite the cancellation: it must then be refused next time.
			if err := c.Consume(ctx, "org-1", id, later); !errors.Is(err, saml.ErrReplayed) {
				t.Fatalf("recorded under a cancelled context but not refused after: %v", err)
			}
		}
	})
}
