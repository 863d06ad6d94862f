package postings_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/store"
)

type scaleIndex struct {
	x        *postings.Index
	queries  [][][]byte
	postings int
	heap     uint64 // heap in use held by x
	sum      string
}

// buildScale indexes the scale corpus under a fixed search key, spread over
// 50 users as bench.Scale spreads it.
func buildScale(tb testing.TB, n int) *scaleIndex {
	// The corpus of `engram bench scale --n n --searches 1000` (seed 1).
	texts, queries := bench.SyntheticCorpus(1, n, 1000)
	if dir := os.Getenv("ENGRAM_SCALE_CORPUS"); dir != "" {
		// The corpus for bench/peers/bleve, as JSON.
		b, err := json.Marshal(map[string][]string{"texts": texts, "queries": queries})
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("scale-%d.json", n)), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	bl, err := fulltext.NewBlinder(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	h := sha256.New()
	docs := make([]store.DocPostings, len(texts))
	s := &scaleIndex{}
	for i, t := range texts {
		h.Write([]byte(t))
		h.Write([]byte{0})
		ps, l := bl.Postings(t)
		docs[i] = store.DocPostings{MemoryID: fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i),
			Scope: engram.Scope{UserID: fmt.Sprint("u", (i/100)%50)}, DocLen: l, Postings: ps}
		s.postings += len(ps)
	}
	s.sum = fmt.Sprintf("%x", h.Sum(nil)[:8])
	for _, q := range queries {
		var toks [][]byte
		for _, t := range fulltext.QueryTerms(q) {
			toks = append(toks, bl.Token(t))
		}
		s.queries = append(s.queries, toks)
	}
	s.x = postings.New()
	for _, d := range docs {
		s.x.Put(d)
	}
	s.x.Compact() // as the engine does after a load
	docs = nil
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	// The texts stay held across both readings; the queries are small.
	s.heap = ms1.HeapInuse - min(ms0.HeapInuse, ms1.HeapInuse)
	runtime.KeepAlive(texts)
	return s
}

// BenchmarkRankScaleCorpus times what a keyword search asks of the index
// (RankAs for the best limit, DocFreqsAs for the query's weight) over the
// synthetic corpus of `engram bench scale`, the one bench/peers/bleve
// times bleve on. p50-us and p95-us are over the 1,000 queries of one
// pass; heap-MB and B/posting are what the index holds.
//
//	go test ./internal/search/postings -run '^$' -bench RankScaleCorpus -benchtime 3x
//	ENGRAM_SCALE_CORPUS=/tmp go test ... (also writes /tmp/scale-N.json for bleve)
func BenchmarkRankScaleCorpus(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchRankScale(b, n) })
	}
}

func benchRankScale(b *testing.B, n int) {
	s := buildScale(b, n)
	for _, limit := range []int{10, 100} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			b.Logf("corpus sha256 %s, %d postings", s.sum, s.postings)
			all := rbac.Filter{Reach: rbac.Any}
			one := func(q [][]byte) {
				s.x.RankAs(engram.Scope{}, all, q, limit)
				s.x.DocFreqsAs(engram.Scope{}, all, q)
			}
			for _, q := range s.queries[:100] {
				one(q) // warm-up
			}
			var p50s, p95s []float64
			b.ResetTimer()
			for range b.N {
				lat := make([]time.Duration, len(s.queries))
				for i, q := range s.queries {
					t := time.Now()
					one(q)
					lat[i] = time.Since(t)
				}
				slices.Sort(lat)
				p50s = append(p50s, float64(lat[len(lat)/2].Nanoseconds())/1e3)
				p95s = append(p95s, float64(lat[len(lat)*95/100].Nanoseconds())/1e3)
			}
			slices.Sort(p50s)
			slices.Sort(p95s)
			b.ReportMetric(p50s[len(p50s)/2], "p50-us")
			b.ReportMetric(p95s[len(p95s)/2], "p95-us")
			b.ReportMetric(float64(s.heap)/(1<<20), "heap-MB")
			b.ReportMetric(float64(s.heap)/float64(s.postings), "B/posting")
		})
	}
}
