package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// BenchmarkVectorIndexLoad measures a tenant's first semantic search after
// its vector index was dropped (a restart or an eviction): every sealed
// vector read from the store, decrypted and put in the index. 10,000
// memories of dimension 512, as the built-in model's.
func BenchmarkVectorIndexLoad(b *testing.B) {
	ctx := b.Context()
	e, _ := testserver.NewEngine(b, engine.WithEmbedder(embedtest.New(512), 1<<30))
	nt, err := e.CreateTenant(ctx, "load")
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		b.Fatal(err)
	}
	pctx := engram.WithPrincipal(ctx, p)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i += 100 {
		msgs := make([]engram.Message, 100)
		for j := range msgs {
			msgs[j] = engram.Message{Role: "user", Content: fmt.Sprintf("%s %d", text(r, 12), i+j)}
		}
		if _, err := e.Add(pctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: fmt.Sprint("u", i%7)}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		engine.DropVectorIndex(e, p.TenantID)
		if _, err := e.Search(pctx, engram.SearchRequest{Query: "coffee in lisbon", Mode: engram.SearchVector}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeywordIndexLoad measures a tenant's first keyword search after
// its in-memory keyword index was dropped: every memory's blind postings
// read from the store into the index. 20,000 memories of 12 words.
func BenchmarkKeywordIndexLoad(b *testing.B) {
	ctx := b.Context()
	e, _ := testserver.NewEngine(b)
	nt, err := e.CreateTenant(ctx, "load")
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		b.Fatal(err)
	}
	pctx := engram.WithPrincipal(ctx, p)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i += 100 {
		msgs := make([]engram.Message, 100)
		for j := range msgs {
			msgs[j] = engram.Message{Role: "user", Content: fmt.Sprintf("%s %d", text(r, 12), i+j)}
		}
		if _, err := e.Add(pctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: fmt.Sprint("u", i%7)}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		engine.DropKeywordIndex(e, p.TenantID)
		if _, err := e.Search(pctx, engram.SearchRequest{Query: "coffee in lisbon", Mode: engram.SearchBM25}); err != nil {
			b.Fatal(err)
		}
	}
}
