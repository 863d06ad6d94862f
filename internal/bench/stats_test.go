package bench_test

import (
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/bench"
)

func TestSummarise(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := bench.Summarise(ds)
	if got.N != 100 || got.P50 != 50 || got.P95 != 95 || got.P99 != 99 || got.Max != 100 {
		t.Fatalf("%+v", got)
	}
	if one := bench.Summarise([]time.Duration{3 * time.Millisecond}); one.P50 != 3 || one.P99 != 3 {
		t.Fatalf("%+v", one)
	}
	if (bench.Summarise(nil) != bench.Latency{}) {
		t.Fatal("empty")
	}
}

func TestMedianLatency(t *testing.T) {
	got := bench.MedianLatency([]bench.Latency{
		{N: 10, P50: 5, P95: 30, P99: 40, Max: 90},
		{N: 10, P50: 3, P95: 10, P99: 12, Max: 20},
		{N: 10, P50: 4, P95: 20, P99: 50, Max: 60},
	})
	// Each percentile is its own median: no single run is picked whole.
	if want := (bench.Latency{N: 30, P50: 4, P95: 20, P99: 40, Max: 60}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if (bench.MedianLatency(nil) != bench.Latency{}) {
		t.Fatal("empty")
	}
}
