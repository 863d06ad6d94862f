package engine_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// BenchmarkExport streams a whole-tenant export of n memories to
// io.Discard, in each format (json, jsonld, pam). Constant memory shows as
// heap-peak-MB staying flat from 1k to 10k memories (B/op grows with n: it
// counts every allocation, freed or not).
// Run: go test ./internal/engine -run '^$' -bench Export -benchtime 1x -count 3
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("memories=%d", n), func(b *testing.B) {
			e, ctx := newEngine(b, false)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range n {
				if _, err := e.Add(ctx, engram.AddRequest{Content: text(r, 20), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%50)}}); err != nil {
					b.Fatal(err)
				}
			}
			for _, format := range []string{engram.ExportJSON, engram.ExportJSONLD, engram.ExportPAM} {
				b.Run("format="+format, func(b *testing.B) { benchExport(b, e, ctx, format, n) })
			}
		})
	}
}

// benchExport measures one format's export of the tenant's n memories.
func benchExport(b *testing.B, e *engine.Engine, ctx context.Context, format string, n int) {
	peak := heapPeak()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := e.ExportTenant(ctx, format)
		if err != nil {
			b.Fatal(err)
		}
		if err := s(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(peak(), "heap-peak-MB")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/memory")
}

// heapPeak samples the heap in use every 5 ms from now on; the returned
// function stops sampling and says by how many MB the heap grew at its
// peak (over the heap after a GC now).
func heapPeak() func() float64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	})
	return func() float64 {
		close(stop)
		wg.Wait()
		return float64(max(int64(peak.Load())-int64(base.HeapInuse), 0)) / (1 << 20)
	}
}
