// Command bleve times BM25 keyword queries in bleve v2 over the synthetic
// corpus of `engram bench scale` (without --file), for a side-by-side
// comparison with Engram's in-memory keyword ranking
// (BenchmarkRankScaleCorpus in internal/search/postings). It is a separate
// module so that bleve never enters Engram's go.mod; CI does not run it.
//
//	ENGRAM_SCALE_CORPUS=/tmp go test ./internal/search/postings -run '^$' -bench RankScaleCorpus -benchtime 1x
//	cd bench/peers/bleve && go run . -corpus /tmp/scale-10000.json [-dir /tmp/bleve10k]
//
// The corpus (texts and timed queries of `engram bench scale --n N`, seed
// 1, synthetic text) is written by the Engram benchmark; the printed
// checksum equals the one it logs.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/blevesearch/bleve/v2"
	index "github.com/blevesearch/bleve_index_api"
)

func main() {
	file := flag.String("corpus", "/tmp/scale-10000.json", "corpus written by BenchmarkRankScaleCorpus")
	limit := flag.Int("limit", 10, "hits per query")
	rounds := flag.Int("rounds", 3, "timed rounds (the median of each percentile is reported)")
	dir := flag.String("dir", "", "index directory (scorch on disk); empty: in memory")
	flag.Parse()

	raw, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	var c struct{ Texts, Queries []string }
	if err := json.Unmarshal(raw, &c); err != nil {
		log.Fatal(err)
	}
	texts, queries := c.Texts, c.Queries
	h := sha256.New()
	for _, t := range texts {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	fmt.Printf("corpus: %d memories, %d queries, sha256 %x\n", len(texts), len(queries), h.Sum(nil)[:8])

	m := bleve.NewIndexMapping()
	m.ScoringModel = index.BM25Scoring
	var idx bleve.Index
	if *dir == "" {
		idx, err = bleve.NewMemOnly(m)
	} else {
		os.RemoveAll(*dir)
		idx, err = bleve.New(*dir, m)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer idx.Close()

	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	b := idx.NewBatch()
	for i, t := range texts {
		if err := b.Index(fmt.Sprintf("m%08d", i), map[string]any{"text": t}); err != nil {
			log.Fatal(err)
		}
		if b.Size() == 1000 {
			if err := idx.Batch(b); err != nil {
				log.Fatal(err)
			}
			b = idx.NewBatch()
		}
	}
	if err := idx.Batch(b); err != nil {
		log.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	fmt.Printf("index: %.1f s, heap in use %+.0f MB\n", time.Since(t0).Seconds(), float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/(1<<20))

	search := func(q string) {
		req := bleve.NewSearchRequestOptions(bleve.NewMatchQuery(q), *limit, 0, false)
		res, err := idx.Search(req)
		if err != nil {
			log.Fatal(err)
		}
		_ = res
	}
	for _, q := range queries[:min(100, len(queries))] {
		search(q) // warm-up
	}
	var p50s, p95s, p99s []time.Duration
	for range *rounds {
		lat := make([]time.Duration, 0, len(queries))
		for _, q := range queries {
			t := time.Now()
			search(q)
			lat = append(lat, time.Since(t))
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		p50s, p95s, p99s = append(p50s, pct(0.50)), append(p95s, pct(0.95)), append(p99s, pct(0.99))
		fmt.Printf("round: p50 %v p95 %v p99 %v\n", pct(0.50), pct(0.95), pct(0.99))
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	fmt.Printf("bleve v2.5.7 BM25 top %d: p50 %v p95 %v p99 %v (medians of %d rounds)\n",
		*limit, med(p50s), med(p95s), med(p99s), *rounds)
}
