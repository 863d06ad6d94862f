// Package ratelimit is a keyed token-bucket limiter with bounded memory:
// one golang.org/x/time/rate bucket per key (a source address, an API key
// id), idle buckets evicted, and a cap on how many keys are tracked at once,
// so a client that invents keys (many source addresses) cannot grow it
// without bound.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a sustained rate and a burst. A zero PerSecond is no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// On reports whether r limits anything.
func (r Rate) On() bool { return r.PerSecond > 0 }

// DefaultMaxKeys bounds the keys a Limiter tracks when New is given 0.
const DefaultMaxKeys = 10000

// Limiter hands out tokens per key. The zero value is not usable: call New.
type Limiter struct {
	r    Rate
	max  int
	idle time.Duration // a bucket unused this long is full again: forgetting it loses nothing
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter giving each key r. maxKeys (0: DefaultMaxKeys)
// caps the keys tracked; now may be nil (time.Now). r must be On.
func New(r Rate, maxKeys int, now func() time.Time) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	if r.Burst < 1 {
		r.Burst = 1
	}
	// The time an empty bucket takes to fill, at least a second.
	idle := time.Duration(float64(r.Burst) / r.PerSecond * float64(time.Second))
	idle = max(idle, time.Second)
	return &Limiter{r: r, max: maxKeys, idle: idle, now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When there is none it reports
// false and how long until one will be there (at least a second, rounded
// up to whole seconds, as Retry-After counts).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.r.PerSecond), l.r.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	d := res.DelayFrom(now)
	if d <= 0 {
		return true, 0
	}
	// Not taken: a refused request must not push the next token further
	// out, or a client that keeps retrying would never get through.
	res.CancelAt(now)
	return false, time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// makeRoom keeps the map under its cap before a key is added: it forgets
// buckets idle long enough to be full again (at most once a second, since
// it walks the map), and when none is, one arbitrary bucket. Forgetting a
// live bucket gives its key a fresh burst: the price of bounded memory,
// paid only when more keys are active at once than the cap.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.max {
		return
	}
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.buckets {
			if now.Sub(b.seen) >= l.idle {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k)
	}
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Share is one node's part of r when nodes (at least 1) serve the API
// behind one load balancer and each limits in its own memory: the rate
// and the burst divided by nodes (the burst rounded up, at least 1). With
// the requests of a key or an address spread evenly over the nodes, the
// cluster as a whole then allows about r; a balancer that sends one
// client to one node (sticky sessions) gives that client about r/nodes.
// No request pays a database round trip for it.
func (r Rate) Share(nodes int) Rate {
	if nodes <= 1 || !r.On() {
		return r
	}
	return Rate{PerSecond: r.PerSecond / float64(nodes), Burst: max(1, (r.Burst+nodes-1)/nodes)}
}
