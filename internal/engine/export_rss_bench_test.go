package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/engram-memory/engram"
)

// BenchmarkExportRSS exports a tenant of 100,000 memories (each with its
// history) and reports the process's peak resident memory during the
// export: the kernel's high-water mark is reset (clear_refs 5) after the
// tenant is filled, so the peak is the export's, not the seeding's. It
// takes minutes (the seeding, once for every format): a benchmark, never
// part of the test run. The peak is over the -benchtime exports of a format.
// Run: go test ./internal/engine -run '^$' -bench ExportRSS -benchtime 3x
func BenchmarkExportRSS(b *testing.B) {
	const n = 100_000
	e, ctx := newEngine(b, false)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		if _, err := e.Add(ctx, engram.AddRequest{Content: text(r, 20), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%500)}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, format := range []string{"json", "jsonld", "pam"} {
		b.Run("format="+format, func(b *testing.B) {
			runtime.GC()
			debug.FreeOSMemory()
			before := vmKB(b, "VmRSS")
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				b.Skipf("cannot reset the peak RSS here: %v", err)
			}
			var written int64
			b.ResetTimer()
			for b.Loop() {
				s, err := e.ExportTenant(ctx, format)
				if err != nil {
					b.Fatal(err)
				}
				cw := &countingWriter{}
				if err := s(cw); err != nil {
					b.Fatal(err)
				}
				written = cw.n
			}
			b.StopTimer()
			peak := vmKB(b, "VmHWM")
			b.ReportMetric(float64(before)/1024, "rss-before-MB")
			b.ReportMetric(float64(peak)/1024, "rss-peak-MB")
			b.ReportMetric(float64(written)/(1<<20), "doc-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "memories/s")
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return io.Discard.Write(p)
}

// vmKB reads one kB figure of /proc/self/status.
func vmKB(b *testing.B, field string) int64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range bytes.Split(st, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb
				}
			}
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
