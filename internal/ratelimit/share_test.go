package ratelimit_test

import (
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/ratelimit"
)

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		r     ratelimit.Rate
		nodes int
		want  ratelimit.Rate
	}{
		{ratelimit.Rate{PerSecond: 100, Burst: 500}, 1, ratelimit.Rate{PerSecond: 100, Burst: 500}},
		{ratelimit.Rate{PerSecond: 100, Burst: 500}, 0, ratelimit.Rate{PerSecond: 100, Burst: 500}},
		{ratelimit.Rate{PerSecond: 100, Burst: 500}, 2, ratelimit.Rate{PerSecond: 50, Burst: 250}},
		{ratelimit.Rate{PerSecond: 100, Burst: 500}, 3, ratelimit.Rate{PerSecond: 100.0 / 3, Burst: 167}},
		{ratelimit.Rate{PerSecond: 1, Burst: 1}, 4, ratelimit.Rate{PerSecond: 0.25, Burst: 1}},
		{ratelimit.Rate{}, 3, ratelimit.Rate{}}, // off stays off
	} {
		if got := tc.r.Share(tc.nodes); got != tc.want {
			t.Errorf("%+v.Share(%d) = %+v, want %+v", tc.r, tc.nodes, got, tc.want)
		}
	}
}

// TestShareAcrossNodes: three nodes, each limiting in memory with its
// share, and a client whose requests a balancer spreads round-robin: the
// cluster allows the configured burst, and then the configured rate.
func TestShareAcrossNodes(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	r := ratelimit.Rate{PerSecond: 30, Burst: 90}
	nodes := make([]*ratelimit.Limiter, 3)
	for i := range nodes {
		nodes[i] = ratelimit.New(r.Share(len(nodes)), 0, c.now)
	}
	allowed := func(requests int) int {
		n := 0
		for i := range requests {
			if ok, _ := nodes[i%len(nodes)].Allow("key"); ok {
				n++
			}
		}
		return n
	}
	if n := allowed(300); n != r.Burst {
		t.Fatalf("burst across the nodes: %d allowed, want %d", n, r.Burst)
	}
	c.add(time.Second)
	if n := allowed(300); n != int(r.PerSecond) {
		t.Fatalf("one second later: %d allowed, want %d", n, int(r.PerSecond))
	}
}
