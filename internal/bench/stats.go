// Package bench measures Engram through its real interfaces: the API
// latency benchmark drives a server over HTTP with the Go client; the
// LoCoMo retrieval benchmark (../shared/design/bench.md) loads the
// dataset, repairing its known faults (LoadLoCoMo), ingests each
// conversation into a System and scores the evidence it retrieves
// (RunLoCoMo: Recall@5/10, Hit@10, MRR, NDCG@10, search latency).
package bench

import (
	"slices"
	"time"
)

// Latency summarises durations in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Summarise computes nearest-rank percentiles.
func Summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Latency{N: len(s), P50: ms(rank(0.50)), P95: ms(rank(0.95)), P99: ms(rank(0.99)), Max: ms(s[len(s)-1])}
}

// MedianLatency is, percentile by percentile, the median of several runs'
// summaries (the upper median for an even count); N is the total count.
func MedianLatency(runs []Latency) Latency {
	if len(runs) == 0 {
		return Latency{}
	}
	med := func(f func(Latency) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out := Latency{
		P50: med(func(l Latency) float64 { return l.P50 }),
		P95: med(func(l Latency) float64 { return l.P95 }),
		P99: med(func(l Latency) float64 { return l.P99 }),
		Max: med(func(l Latency) float64 { return l.Max }),
	}
	for _, r := range runs {
		out.N += r.N
	}
	return out
}
