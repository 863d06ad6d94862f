package bench

import (
	"io"
	"math/rand/v2"
	"time"
)

// Internals the black-box tests reach.
var (
	ParseProcStat   = parseProcStat
	ParseMetricsCPU = func(r io.Reader) (float64, error) { return parseMetricsCPU(r) }
)

// PickCounts draws n operations from m with a seeded source.
func PickCounts(m Mix, n int, seed uint64) map[string]int {
	r := rand.New(rand.NewPCG(seed, seed))
	out := map[string]int{}
	for range n {
		out[m.pick(r)]++
	}
	return out
}

// LoadSample is a timed request for SummariseLoad.
type LoadSample struct {
	Op     string
	MS     int
	Status int
	Code   string
}

// SummariseLoad builds the result of a timed phase of wall with samples,
// the server having used cpu seconds (negative: unknown).
func SummariseLoad(samples []LoadSample, wall time.Duration, cpu float64) *LoadResult {
	res := &LoadResult{Errors: map[string]int{}, Ops: map[string]*OpResult{}}
	all := make([]sample, len(samples))
	for i, s := range samples {
		all[i] = sample{op: s.Op, d: time.Duration(s.MS) * time.Millisecond, status: s.Status, code: s.Code}
	}
	res.summarise(all, wall)
	if cpu >= 0 {
		res.setServerCPU(cpu)
	}
	return res
}
