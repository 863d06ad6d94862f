package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// BenchmarkImport imports a whole-tenant json export of 10k memories (each
// with its history) into a fresh tenant per iteration: verification, the
// check pass, then a write transaction per 200 records, re-embedding every
// memory, with embedtest's 16-dimension embedder (the storage path alone)
// and with the built-in USE-lite model (what `serve` uses by default).
// Reports memories/s and the heap's peak growth.
// Heap peak staying flat from 1k to 10k memories shows constant memory.
// Run: go test ./internal/engine -run '^$' -bench Import -benchtime 1x -count 3
func BenchmarkImport(b *testing.B) {
	builtin, err := uselite.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1_000, 10_000} {
		doc := exportOf(b, n)
		for _, c := range []struct {
			name string
			emb  embed.Embedder
		}{{"test16", embedtest.New(16)}, {"builtin", builtin}} {
			if c.name == "builtin" && n != 10_000 {
				continue
			}
			b.Run(fmt.Sprintf("memories=%d/embedder=%s", n, c.name), func(b *testing.B) {
				e, _ := testserver.NewEngine(b, engine.WithEmbedder(c.emb, 1<<30))
				importBench(b, e, doc, n)
			})
		}
	}
}

// exportOf is a whole-tenant export of n memories of 20 words, 50 users.
func exportOf(b *testing.B, n int) []byte {
	src, _ := testserver.NewEngine(b)
	_, ctx := owner(b, src)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		if _, err := src.Add(ctx, engram.AddRequest{Content: text(r, 20), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%50)}}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := src.ExportTenant(ctx, "json")
	if err != nil {
		b.Fatal(err)
	}
	var doc bytes.Buffer
	if err := s(&doc); err != nil {
		b.Fatal(err)
	}
	return doc.Bytes()
}

func importBench(b *testing.B, e *engine.Engine, doc []byte, n int) {
	peak := heapPeak()
	i := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		i++
		nt, err := e.CreateTenant(context.Background(), fmt.Sprintf("target-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.Authenticate(context.Background(), nt.Key.Secret)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := e.Import(engram.WithPrincipal(context.Background(), p), engram.ImportRequest{Mode: engram.ImportNewIDs,
			Body: bytes.NewReader(doc), Size: int64(len(doc))})
		if err != nil || rep.Kinds["memory"].Created != n {
			b.Fatalf("import: %+v %v", rep, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(peak(), "heap-peak-MB")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "memories/s")
	b.ReportMetric(float64(len(doc))/(1<<20), "doc-MB")
}
