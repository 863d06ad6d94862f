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
