package httpapi

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/engram-memory/engram"
)

// shedder bounds the requests the server works on at once. Past the bound
// a request is answered at once with 503 `overloaded` and `Retry-After: 1`
// instead of queueing behind the others: on a server whose cores are busy,
// a queue only turns every client's latency into seconds (docs/BENCHMARKS.md,
// "Throughput"), while a quick refusal lets a client retry, or go elsewhere.
//
// Health checks, metric scrapes and MCP's event streams (GET /mcp, held
// open while idle) are not counted: they cost little, and a probe that
// failed because the server is busy would take a working server out of
// rotation.
type shedder struct {
	max      int64
	inflight atomic.Int64
	shed     prometheus.Counter // may be nil
}

// newShedder returns nil (nothing shed) when max is not positive.
func newShedder(max int, reg *prometheus.Registry) *shedder {
	if max <= 0 {
		return nil
	}
	s := &shedder{max: int64(max)}
	if reg != nil {
		s.shed = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "engram_http_shed_total",
			Help: "Requests refused with 503 overloaded because the server already had its maximum of requests in flight (serve --max-inflight).",
		})
		reg.MustRegister(s.shed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "engram_http_inflight_requests",
			Help: "Requests in flight that count towards serve --max-inflight.",
		}, func() float64 { return float64(s.inflight.Load()) }))
	}
	return s
}

func shedExempt(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/metrics" || (r.Method == http.MethodGet && r.URL.Path == mcpPath)
}

func (s *shedder) wrap(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if shedExempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if s.inflight.Add(1) > s.max {
			s.inflight.Add(-1)
			if s.shed != nil {
				s.shed.Inc()
			}
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, engram.CodeOverloaded,
				"the server has "+strconv.FormatInt(s.max, 10)+" requests in flight; retry after 1 s"))
			return
		}
		defer s.inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}
