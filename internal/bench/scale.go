package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/search/vector"
)

// ScaleResult is what `engram bench scale` reports.
type ScaleResult struct {
	Memories   int     `json:"memories"`
	IngestPerS float64 `json:"ingest_per_s"`
	Search     Latency `json:"search"`
	Mode       string  `json:"mode"`
	// Text says where the memories' text came from: "synthetic" or
	// "locomo".
	Text string `json:"text"`
	// HeapMB is the Go heap in use after the index is loaded and searched
	// (decrypted vectors included); SysMB is all the memory the Go runtime
	// holds from the operating system at that point.
	HeapMB float64 `json:"heap_mb"`
	SysMB  float64 `json:"sys_mb"`
	// IndexMS is how long the vector index took, after the first search
	// loaded it, to settle: the background build of its HNSW graph (the
	// searches meanwhile scan). Approximate says whether the settled index
	// searches by graph; EfSearch and Recall are its calibrated beam and
	// the recall@10 it measured against an exact scan.
	IndexMS     float64 `json:"index_settle_ms,omitempty"`
	Approximate bool    `json:"approximate,omitempty"`
	EfSearch    int     `json:"ef_search,omitempty"`
	Recall      float64 `json:"calibrated_recall,omitempty"`
	// QueryRecall10 and QueryRecall100 are the recall@10 and @100 of the
	// vector index's search against an exact scan, for the embeddings of
	// up to recallQueries of the run's queries (questions, not stored
	// vectors; 1 when the index is exact).
	QueryRecall10  float64 `json:"query_recall_at_10,omitempty"`
	QueryRecall100 float64 `json:"query_recall_at_100,omitempty"`
	// ByMode holds the latencies of ScaleOptions.AlsoModes: the same
	// searches over the same memories, in each of those rankings, after
	// Mode's (medians of as many rounds).
	ByMode map[string]Latency `json:"by_mode,omitempty"`
	// Rounds holds each round's latencies when more than one was run.
	Rounds []Latency `json:"rounds,omitempty"`
	// FirstMS is the first search after ingest: it loads the tenant's
	// in-memory indexes (keyword postings; vectors in semantic modes).
	FirstMS float64 `json:"first_search_ms"`
}

// ScaleOptions say what Scale writes and asks.
type ScaleOptions struct {
	N        int    // memories to write
	Searches int    // searches to time
	Mode     string // ranking: engram.SearchHybrid, SearchBM25 or SearchVector
	Seed     uint64
	// Texts, when not empty, are the memories' text, used in order and
	// cycled (each copy numbered so none is a duplicate), and Queries the
	// searches'. Otherwise both are synthetic words (see scaleWords).
	Texts   []string
	Queries []string
	// Progress, when not nil, is called after each request with the
	// number of memories written so far.
	Progress func(done int)
	// Rounds is how many times the timed searches are repeated over the
	// same ingested tenant (at least 1): Search is then the median of the
	// rounds' percentiles, and Rounds in the result holds each round.
	Rounds int
	// AlsoModes are rankings whose latencies are timed too, after Mode's,
	// over the same memories and queries (ScaleResult.ByMode).
	AlsoModes []string
	// Timed, when not nil, is called just before the first timed search
	// and returns a function called just after the last one (a CPU
	// profile of the search phase, say).
	Timed func() (stop func())
}

// scaleBatch is how many memories one Add request carries: the engine
// embeds a request's texts in one batched pass of the model.
const scaleBatch = 100

// recallQueries is how many of the run's queries measure the vector
// index's recall.
const recallQueries = 200

// distinct returns texts without repeats, in order: a repeat is not
// stored again by the engine.
func distinct(texts []string) []string {
	seen := make(map[string]bool, len(texts))
	out := make([]string, 0, len(texts))
	for _, t := range texts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// scaleWords is a synthetic vocabulary; words are drawn with a Zipf law so
// that posting lists have the long-tailed lengths of real text. Random
// letter strings are not English to the embedding model's sub-word
// tokenizer: each is cut into three or four pieces, so synthetic memories
// cost the model several times the work of prose of the same length.
func scaleWords(r *rand.Rand, n int) []string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	words := make([]string, n)
	for i := range words {
		b := make([]byte, 3+r.IntN(7))
		for j := range b {
			b[j] = letters[r.IntN(len(letters))]
		}
		words[i] = string(b)
	}
	return words
}

// scaleCorpus is what Scale writes and asks: memory i's text, query i,
// and where the text came from ("synthetic" or "locomo"). Synthetic text
// is drawn from one random stream, so memories must be generated in order
// 0, 1, … and queries after them, as Scale and DumpCorpus do.
type scaleCorpus struct {
	text, query func(i int) string
	kind        string
}

func newScaleCorpus(opts ScaleOptions) scaleCorpus {
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed+1))
	vocab := scaleWords(r, 20000)
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	sentence := func(words int) string {
		b := make([]string, words)
		for i := range b {
			b[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(b, " ")
	}
	c := scaleCorpus{text: func(i int) string {
		return fmt.Sprintf("%s (%d)", sentence(8+r.IntN(16)), i)
	}, query: func(i int) string { return sentence(4 + r.IntN(6)) }, kind: "synthetic"}
	if len(opts.Texts) > 0 {
		c.kind = "locomo"
		texts := distinct(opts.Texts)
		c.text = func(i int) string {
			t := texts[i%len(texts)]
			if round := i / len(texts); round > 0 {
				t = fmt.Sprintf("%s (%d)", t, round)
			}
			return t
		}
		c.query = func(i int) string { return opts.Queries[i%len(opts.Queries)] }
	}
	return c
}

// SyntheticCorpus is the synthetic text of `engram bench scale --n n
// --searches searches --seed seed`: the n memory texts and the timed
// queries (the warm-up ones left out). Benchmarks of one index alone
// (internal/search/postings) and peers (bench/peers) read the same corpus.
func SyntheticCorpus(seed uint64, n, searches int) (texts, queries []string) {
	c := newScaleCorpus(ScaleOptions{Seed: seed})
	for i := range n {
		texts = append(texts, c.text(i))
	}
	for i := range scaleWarmup + searches {
		if q := c.query(i); i >= scaleWarmup {
			queries = append(queries, q)
		}
	}
	return texts, queries
}

// scaleWarmup is how many searches Scale runs untimed before the timed
// ones (the first loads the tenant's indexes).
const scaleWarmup = 5

// scaleUser is the end user Scale writes memory i for: each request of
// scaleBatch goes to one of 50, in turn.
func scaleUser(i int) string { return fmt.Sprintf("u%d", (i/scaleBatch)%50) }

// Scale writes opts.N memories into one tenant through the engine's real
// write path (scaleBatch per request, as a message batch, spread over 50
// end users), then times opts.Searches searches over the whole tenant.
func Scale(ctx context.Context, e *engine.Engine, opts ScaleOptions) (*ScaleResult, error) {
	if opts.N < 1 || opts.Searches < 1 {
		return nil, errors.New("scale: need at least one memory and one search")
	}
	if len(opts.Texts) > 0 && len(opts.Queries) == 0 {
		return nil, errors.New("scale: texts given without queries")
	}
	nt, err := e.CreateTenant(ctx, "scale")
	if err != nil {
		return nil, err
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		return nil, err
	}
	pctx := engram.WithPrincipal(ctx, p)
	corpus := newScaleCorpus(opts)
	text, query := corpus.text, corpus.query

	start := time.Now()
	for done := 0; done < opts.N; {
		batch := min(scaleBatch, opts.N-done)
		msgs := make([]engram.Message, batch)
		for i := range msgs {
			msgs[i] = engram.Message{Role: "user", Content: text(done + i)}
		}
		scope := engram.Scope{UserID: scaleUser(done)}
		res, err := e.Add(pctx, engram.AddRequest{Messages: msgs, Scope: scope})
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			if r.Event != engram.EventAdd {
				// A duplicate is not stored again: the run would measure
				// fewer memories than it claims.
				return nil, fmt.Errorf("scale: memory %d was not stored (%s)", done+i, r.Event)
			}
		}
		done += batch
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	ingest := time.Since(start)
	// Warm up: loads the tenant's indexes.
	var first time.Duration
	for i := range scaleWarmup {
		t0 := time.Now()
		if _, err := e.Search(pctx, engram.SearchRequest{Query: query(i), Mode: opts.Mode}); err != nil {
			return nil, err
		}
		if i == 0 {
			first = time.Since(t0)
		}
	}
	// The timed searches measure the settled index: a tenant's first
	// search loads its vectors and starts a graph build that takes both
	// cores for a while (FirstMS and IndexMS report that cost).
	var vs vector.Stats
	settle := time.Now()
	for opts.Mode != engram.SearchBM25 {
		st, ok := e.VectorIndexStats(p.TenantID)
		if !ok || !st.Building {
			vs = st
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	indexMS := float64(time.Since(settle)) / float64(time.Millisecond)
	if opts.Timed != nil {
		defer opts.Timed()()
	}
	timeRounds := func(mode string) ([]Latency, error) {
		rounds := make([]Latency, 0, max(1, opts.Rounds))
		for range max(1, opts.Rounds) {
			lat := make([]time.Duration, 0, opts.Searches)
			for i := range opts.Searches {
				q := query(scaleWarmup + i)
				t0 := time.Now()
				if _, err := e.Search(pctx, engram.SearchRequest{Query: q, Limit: 10, Mode: mode}); err != nil {
					return nil, err
				}
				lat = append(lat, time.Since(t0))
			}
			rounds = append(rounds, Summarise(lat))
		}
		return rounds, nil
	}
	rounds, err := timeRounds(opts.Mode)
	if err != nil {
		return nil, err
	}
	var byMode map[string]Latency
	for _, m := range opts.AlsoModes {
		rs, err := timeRounds(m)
		if err != nil {
			return nil, err
		}
		if byMode == nil {
			byMode = map[string]Latency{}
		}
		byMode[m] = MedianLatency(rs)
	}
	var qr []float64
	if opts.Mode != engram.SearchBM25 {
		qs := make([]string, min(recallQueries, opts.Searches))
		for i := range qs {
			qs[i] = query(scaleWarmup + i)
		}
		if qr, err = e.VectorRecall(ctx, p.TenantID, qs, 10, 100); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res := &ScaleResult{Memories: opts.N, IngestPerS: float64(opts.N) / ingest.Seconds(), Search: MedianLatency(rounds),
		Mode: opts.Mode, Text: corpus.kind, ByMode: byMode, HeapMB: float64(ms.HeapInuse) / (1 << 20), SysMB: float64(ms.Sys) / (1 << 20),
		FirstMS: float64(first) / float64(time.Millisecond)}
	if opts.Mode != engram.SearchBM25 {
		res.IndexMS, res.Approximate, res.EfSearch, res.Recall = indexMS, vs.Approximate, vs.EfSearch, vs.Recall
		if qr != nil {
			res.QueryRecall10, res.QueryRecall100 = qr[0], qr[1]
		}
	}
	if len(rounds) > 1 {
		res.Rounds = rounds
	}
	return res, nil
}
