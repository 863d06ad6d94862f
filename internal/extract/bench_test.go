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

// labelledMessages is every message of the three labelled sets (user and assistant turns, short and long,
// with and without facts), the realistic mix BenchmarkExtractMessage cycles through.
func labelledMessages(b *testing.B) []extract.Message {
	var out []extract.Message
	for _, file := range []string{"testdata/labelled.json", "testdata/heldout.json", "testdata/heldout2.json"} {
		for _, c := range loadCases(b, file) {
			out = append(out, c.messages()...)
		}
	}
	return out
}

// BenchmarkExtractMessage is the offline extraction latency to quote: ns/op is one message of the labelled
// sets, cycled in order, models already loaded.
//
//	go test -run XXX -bench ExtractMessage -benchtime 2000x ./internal/extract
func BenchmarkExtractMessage(b *testing.B) {
	msgs := labelledMessages(b)
	if _, err := extract.LoadTime(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := extract.Extract(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractMessageParallel is the same mix from GOMAXPROCS goroutines: ns/op is wall time per message
// over all of them, so it shows how throughput scales with cores.
func BenchmarkExtractMessageParallel(b *testing.B) {
	msgs := labelledMessages(b)
	if _, err := extract.LoadTime(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := extract.Extract(msgs[i%len(msgs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// TestLoadTime reports how long the models take to load, once per process; it asserts nothing about speed.
func TestLoadTime(t *testing.T) {
	d, err := extract.LoadTime()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("models loaded in %v", d)
}
