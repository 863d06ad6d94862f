package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// BenchmarkColdSearch measures a tenant's first semantic search on a
// freshly opened engine over a data directory that already holds its
// memories: what a restart costs. ENGRAM_COLD_N memories (default 10,000)
// of dimension 512 are written once into ENGRAM_COLD_DIR (default a
// temporary directory; a kept directory is reused by later runs, so a
// baseline and a new build can be timed over the same store). Each
// iteration opens a new engine on the directory and times its first search
// (ENGRAM_COLD_MODE: vector, the default, hybrid or bm25).
func BenchmarkColdSearch(b *testing.B) {
	n := 10000
	if s := os.Getenv("ENGRAM_COLD_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	mode := engram.SearchVector
	if m := os.Getenv("ENGRAM_COLD_MODE"); m != "" {
		mode = m
	}
	dir := os.Getenv("ENGRAM_COLD_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	opts := []engine.Option{engine.WithEmbedder(embedtest.New(512), 1<<31)}
	keyFile := filepath.Join(dir, "bench-key")
	secret, err := os.ReadFile(keyFile)
	if err != nil {
		e := testserver.OpenEngine(b, dir, nil, opts...)
		nt, ctx := owner(b, e)
		addMemories(b, e, ctx, n)
		secret = []byte(nt.Key.Secret)
		if err := engine.SaveIndexSnapshots(e, ctx); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(keyFile, secret, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	var cpu time.Duration
	defer func() { b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op") }()
	for b.Loop() {
		b.StopTimer()
		e := testserver.OpenEngine(b, dir, nil, opts...)
		p, err := e.Authenticate(context.Background(), string(secret))
		if err != nil {
			b.Fatal(err)
		}
		ctx := engram.WithPrincipal(context.Background(), p)
		cpu0 := cpuTime()
		b.StartTimer()
		hits, err := e.Search(ctx, engram.SearchRequest{Query: "coffee in lisbon", Mode: mode})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - cpu0
		if len(hits) == 0 {
			b.Fatal("no results")
		}
		st, _ := e.VectorIndexStats(p.TenantID)
		b.Logf("after the search: approximate %v, building %v", st.Approximate, st.Building)
		// A graph still being built (after a load without one) is waited
		// for, as a running server would have, so that the snapshot below
		// holds it.
		for st.Building {
			time.Sleep(100 * time.Millisecond)
			st, _ = e.VectorIndexStats(p.TenantID)
		}
		b.Logf("index: %+v", st)
		// What serve does at shutdown: a later run starts from a snapshot
		// (after a rebuild, this waits for the one written in the
		// background).
		t0 := time.Now()
		if err := engine.SaveIndexSnapshots(e, ctx); err != nil {
			b.Fatal(err)
		}
		b.Logf("snapshots saved %v after the search", time.Since(t0).Round(time.Millisecond))
		b.StartTimer()
	}
}

// cpuTime is the process's user and system CPU time so far: on a loaded
// machine it measures the work better than the wall clock (it includes
// background work of the process, such as a graph build, as well).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
