package ratelimit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/ratelimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBurstThenRefuse(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Rate{PerSecond: 0.5, Burst: 3}, 0, c.now)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, after := l.Allow("a")
	if ok || after != 2*time.Second {
		t.Fatalf("over the burst: ok %v retry after %v, want refused after 2s", ok, after)
	}
	// Other keys have their own buckets.
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was refused")
	}
	// Refusals do not push the next token further out.
	for range 10 {
		l.Allow("a")
	}
	c.add(2 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after Retry-After elapsed")
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Rate{PerSecond: 4, Burst: 1}, 0, c.now)
	l.Allow("a")
	if ok, after := l.Allow("a"); ok || after != time.Second {
		t.Fatalf("ok %v after %v, want refused, 1s (250 ms rounded up)", ok, after)
	}
}

// TestBoundedKeys: however many keys arrive, at most maxKeys are tracked,
// and idle buckets (full again) are what gets forgotten first.
func TestBoundedKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Rate{PerSecond: 1, Burst: 2}, 100, c.now)
	for i := range 1000 {
		l.Allow(fmt.Sprint("k", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d keys tracked, cap 100", n)
		}
	}
	// Once they are idle long enough to be full again, the next new key
	// sweeps them all away.
	c.add(3 * time.Second)
	l.Allow("new")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys tracked after every old one went idle, want 1", n)
	}
}
