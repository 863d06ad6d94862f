package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/ratelimit"
)

// Limits are the API's request rate limits: token buckets per source
// address, taken before authentication so that a flood without a valid
// key costs one map lookup per request, and per API key id, taken after
// it so that one key spread over many addresses is limited too. A zero
// Rate limits nothing; the zero Limits limits nothing (`engram serve`
// turns DefaultLimits on).
type Limits struct {
	PerAddress ratelimit.Rate
	PerKey     ratelimit.Rate
	// MaxKeys caps the addresses, and separately the key ids, tracked at
	// once (0: ratelimit.DefaultMaxKeys).
	MaxKeys int
}

// DefaultLimits are `engram serve`'s defaults: far above what one agent
// or a CLI import sends, far below what a flood sends (measured ~2,500
// req/s from one client).
func DefaultLimits() Limits {
	return Limits{
		PerAddress: ratelimit.Rate{PerSecond: 100, Burst: 500},
		PerKey:     ratelimit.Rate{PerSecond: 200, Burst: 1000},
	}
}

// limiters applies Limits; a nil limiter is an unlimited one.
type limiters struct {
	addr, key *ratelimit.Limiter
	limited   *prometheus.CounterVec // may be nil
}

func newLimiters(l Limits, reg *prometheus.Registry) *limiters {
	out := &limiters{}
	if l.PerAddress.On() {
		out.addr = ratelimit.New(l.PerAddress, l.MaxKeys, nil)
	}
	if l.PerKey.On() {
		out.key = ratelimit.New(l.PerKey, l.MaxKeys, nil)
	}
	if reg != nil {
		out.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engram_http_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit, by limit (address: per source address, before authentication; key: per API key id).",
		}, []string{"limit"})
		out.limited.WithLabelValues("address")
		out.limited.WithLabelValues("key")
		reg.MustRegister(out.limited)
	}
	return out
}

// sources limits every request by source address except health checks
// and metric scrapes, which monitoring sends from a few addresses and
// which do no work worth protecting.
func (l *limiters) sources(next http.Handler) http.Handler {
	if l.addr == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/metrics" {
			if ok, after := l.addr.Allow(sourceKey(clientIP(r))); !ok {
				l.refuse(w, r, "address", after)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// keys limits every authenticated request by the id of its key.
func (l *limiters) keys(next http.Handler) http.Handler {
	if l.key == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := engram.PrincipalFrom(r.Context()); p != nil {
			if ok, after := l.key.Allow(p.KeyID); !ok {
				l.refuse(w, r, "key", after)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (l *limiters) refuse(w http.ResponseWriter, r *http.Request, limit string, after time.Duration) {
	if l.limited != nil {
		l.limited.WithLabelValues(limit).Inc()
	}
	secs := int(after / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, r, newProblem(http.StatusTooManyRequests, engram.CodeRateLimited,
		"too many requests; retry after "+strconv.Itoa(secs)+" s"))
}

// sourceKey is the bucket of a source address: the address itself for
// IPv4, its /64 for IPv6, since one host usually holds a whole /64 and
// could otherwise draw a fresh bucket per address.
func sourceKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
