package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// ScaleResult is what `engram bench scale` reports.
type ScaleResult struct {
	Memories   int     `json:"memories"`
	IngestPerS float64 `json:"ingest_per_s"`
	Search     Latency `json:"search"`
	Mode       string  `json:"mode"`
	// HeapMB is the Go heap in use after the index is loaded and searched
	// (decrypted vectors included).
	HeapMB float64 `json:"heap_mb"`
}

// scaleWords is a synthetic vocabulary; words are drawn with a Zipf law so
// that posting lists have the long-tailed lengths of real text.
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

// Scale writes n memories into one tenant through the engine (100 per
// request, as a message batch), then measures `searches` searches.
func Scale(ctx context.Context, e *engine.Engine, n, searches int, mode string, seed uint64) (*ScaleResult, error) {
	nt, err := e.CreateTenant(ctx, "scale")
	if err != nil {
		return nil, err
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		return nil, err
	}
	pctx := engram.WithPrincipal(ctx, p)
	r := rand.New(rand.NewPCG(seed, seed+1))
	vocab := scaleWords(r, 20000)
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	sentence := func(words int) string {
		b := make([]string, words)
		for i := range b {
			b[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(b, " ")
	}
	start := time.Now()
	for done := 0; done < n; {
		batch := min(100, n-done)
		msgs := make([]engram.Message, batch)
		for i := range msgs {
			msgs[i] = engram.Message{Role: "user", Content: fmt.Sprintf("%s (%d)", sentence(8+r.IntN(16)), done+i)}
		}
		if _, err := e.Add(pctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: fmt.Sprintf("u%d", done%50)}}); err != nil {
			return nil, err
		}
		done += batch
	}
	ingest := time.Since(start)
	// Warm up: loads the tenant's vector index.
	for range 5 {
		if _, err := e.Search(pctx, engram.SearchRequest{Query: sentence(5), Mode: mode}); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, 0, searches)
	for range searches {
		q := sentence(4 + r.IntN(6))
		t0 := time.Now()
		if _, err := e.Search(pctx, engram.SearchRequest{Query: q, Limit: 10, Mode: mode}); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &ScaleResult{Memories: n, IngestPerS: float64(n) / ingest.Seconds(), Search: Summarise(lat), Mode: mode,
		HeapMB: float64(ms.HeapInuse) / (1 << 20)}, nil
}
