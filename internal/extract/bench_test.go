package extract_test

import (
	"sort"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/extract"
)

var benchMessages = []string{
	"I moved to Berlin last month and started at Zalando as a data engineer.",
	"My sister Anna is a nurse; she lives in Vienna with her dog Max.",
	"I no longer play the cello, but I took up pottery in January.",
	"Can you recommend a good book about the history of Rome?",
	"Honestly I'm allergic to peanuts and shellfish, and I went vegan three weeks ago.",
}

// BenchmarkExtract is one message per op, the models already loaded. It also reports the median op.
func BenchmarkExtract(b *testing.B) {
	if _, err := extract.LoadTime(); err != nil {
		b.Fatal(err)
	}
	ref := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := extract.Extract(extract.Message{Role: "user", Name: "Sam", Text: benchMessages[i%len(benchMessages)], Time: ref}); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*95/100].Microseconds()), "p95-µs")
}

// TestLoadTime reports how long the models take to load, once per process; it asserts nothing about speed.
func TestLoadTime(t *testing.T) {
	d, err := extract.LoadTime()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("models loaded in %v", d)
}
