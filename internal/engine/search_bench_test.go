package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// searchCorpus is a synthetic tenant for the search benchmarks: Zipf-drawn
// words of a random vocabulary (as `engram bench scale` writes), spread
// over 50 end users, embedded by the test embedder at USE-lite's dimension
// (512, so each sealed vector is ~2 KB as in production). The test
// embedder costs next to nothing: what is measured is the search path
// (indexes, store reads, decryption, audit), not the model.
type searchCorpus struct {
	e       *engine.Engine
	ctx     context.Context
	queries []string
	writes  *writeCounter
}

// writeCounter counts the store's write transactions: during searches,
// the commits of their audit entries.
type writeCounter struct {
	store.Store
	n atomic.Int64
}

func (w *writeCounter) Write(ctx context.Context, fn func(store.Tx) error) error {
	w.n.Add(1)
	return w.Store.Write(ctx, fn)
}

func newSearchCorpus(tb testing.TB, n int) *searchCorpus {
	tb.Helper()
	wc := &writeCounter{}
	e := testserver.OpenEngineOver(tb, tb.TempDir(), nil, func(st store.Store) store.Store { wc.Store = st; return wc },
		engine.WithEmbedder(embedtest.New(512), 1<<30))
	_, ctx := owner(tb, e)
	r := rand.New(rand.NewPCG(7, 8))
	vocab := make([]string, 20000)
	for i := range vocab {
		b := make([]byte, 3+r.IntN(7))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(b)
	}
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	sentence := func(words int) string {
		w := make([]string, words)
		for i := range w {
			w[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(w, " ")
	}
	const batch = 100
	for done := 0; done < n; done += batch {
		msgs := make([]engram.Message, min(batch, n-done))
		for i := range msgs {
			msgs[i] = engram.Message{Role: "user", Content: fmt.Sprintf("%s (%d)", sentence(8+r.IntN(16)), done+i)}
		}
		if _, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: fmt.Sprintf("u%d", (done/batch)%50)}}); err != nil {
			tb.Fatal(err)
		}
	}
	c := &searchCorpus{e: e, ctx: ctx, writes: wc}
	for range 200 {
		c.queries = append(c.queries, sentence(4+r.IntN(6)))
	}
	// Load the indexes and wait for the vector index to settle (its graph
	// build takes both cores for a while).
	if _, err := e.Search(ctx, engram.SearchRequest{Query: c.queries[0]}); err != nil {
		tb.Fatal(err)
	}
	p := engram.PrincipalFrom(ctx)
	for {
		st, ok := e.VectorIndexStats(p.TenantID)
		if !ok || !st.Building {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func (c *searchCorpus) search(tb testing.TB, i int) {
	if _, err := c.e.Search(c.ctx, engram.SearchRequest{Query: c.queries[i%len(c.queries)], Limit: 10}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSearchConcurrent measures hybrid search (limit 10) on one
// tenant of ENGRAM_BENCH_SEARCH_N memories (default 20,000): one client
// (p50 and p95 latency) and 8 concurrent clients (b.RunParallel; searches
// per second is 1e9 / ns/op), each with the process's CPU time per search
// and, at 8 clients, the store commits per search (audit entries are
// group-committed).
// Profile it with -cpuprofile, -mutexprofile and -blockprofile:
//
//	go test ./internal/engine -run '^$' -bench SearchConcurrent -benchtime 400x \
//	  -cpuprofile cpu.out -mutexprofile mutex.out -blockprofile block.out
func BenchmarkSearchConcurrent(b *testing.B) {
	n := 20000
	if s := os.Getenv("ENGRAM_BENCH_SEARCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	c := newSearchCorpus(b, n)
	b.Run("clients=1", func(b *testing.B) {
		lat := []time.Duration{}
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			c.search(b, i)
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds()), "p95-µs")
	})
	b.Run("clients=8", func(b *testing.B) {
		b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		cpu0, w0 := cpuTime(), c.writes.n.Load()
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for i := rand.IntN(len(c.queries)); pb.Next(); i++ {
				c.search(b, i)
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "searches/s")
		// Each search commits its audit entry; concurrent ones share
		// commits (auditbatch.go): fewer than one per search.
		b.ReportMetric(float64(c.writes.n.Load()-w0)/float64(b.N), "commits/op")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}
