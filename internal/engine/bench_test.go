package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store/sqlite"
	"github.com/engram-memory/engram/internal/testserver"
)

// newEngine opens an engine on a fresh data directory and returns a
// context holding the owner of a new tenant.
func newEngine(tb testing.TB, plaintext bool) (*engine.Engine, context.Context) {
	e, ctx, _ := newEngineIn(tb, plaintext)
	return e, ctx
}

func newEngineIn(tb testing.TB, plaintext bool) (*engine.Engine, context.Context, string) {
	tb.Helper()
	e, dir := testserver.NewEngine(tb)
	if plaintext {
		engine.DisableFieldEncryptionForBenchmark(e)
	}
	_, ctx := owner(tb, e)
	return e, ctx, dir
}

var vocabulary = strings.Fields(`alice bob carol dave erin coffee tea lisbon paris tokyo hiking chess guitar
painting cooking allergic peanuts birthday meeting project deadline budget report launch review prefers
likes visited moved started planned bought adopted learned dog cat car house garden office school museum`)

func text(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[r.IntN(len(vocabulary))]
	}
	return strings.Join(w, " ")
}

// BenchmarkAdd and BenchmarkSearch measure the engine's write and search
// paths with field encryption on (sealed) and off (plaintext) in one run;
// the ratio is the cost of encryption. Blind tokens are computed in both.
func BenchmarkAdd(b *testing.B) {
	for _, mode := range []string{"sealed", "plaintext"} {
		b.Run(mode, func(b *testing.B) {
			e, ctx := newEngine(b, mode == "plaintext")
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := e.Add(ctx, engram.AddRequest{Content: fmt.Sprintf("%s %d", text(r, 20), i), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%10)}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	for _, mode := range []string{"sealed", "plaintext"} {
		b.Run(mode, func(b *testing.B) {
			e, ctx := newEngine(b, mode == "plaintext")
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 2000 {
				if _, err := e.Add(ctx, engram.AddRequest{Content: fmt.Sprintf("%s %d", text(r, 20), i), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%10)}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Search(ctx, engram.SearchRequest{Query: text(r, 4), Limit: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEngineSealsByDefault: the engine a program builds always seals; the
// plaintext baseline is reachable only from this package's tests (and the
// check below would catch it: it finds the text in clear).
func TestEngineSealsByDefault(t *testing.T) {
	for _, plaintext := range []bool{false, true} {
		e, ctx, dir := newEngineIn(t, plaintext)
		r, err := e.Add(ctx, engram.AddRequest{Content: "Sealedbydefault marker"})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := e.Get(ctx, r[0].ID); err != nil || m.Content != "Sealedbydefault marker" {
			t.Fatal(err)
		}
		found := false
		for _, f := range []string{"engram.db", "engram.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			found = found || bytes.Contains(b, []byte("Sealedbydefault"))
		}
		if found != plaintext {
			t.Fatalf("plaintext=%v: text in clear on disk = %v", plaintext, found)
		}
	}
}

// TestVectorBackfill: memories written before semantic search was enabled
// (or by another model) are embedded by the background round, and then
// found by meaning.
func TestVectorBackfill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plain := engine.New(db, keys.New(db, k, nil), nil)
	nt, err := plain.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plain.Authenticate(ctx, nt.Key.Secret)
	pctx := engram.WithPrincipal(ctx, p)
	r, err := plain.Add(pctx, engram.AddRequest{Content: "Erin purchased an automobile"})
	if err != nil {
		t.Fatal(err)
	}
	emb := embedtest.New(32, []string{"car", "automobile"}, []string{"bought", "purchased"})
	semantic := engine.New(db, keys.New(db, k, nil), nil, engine.WithEmbedder(emb, 1<<20))
	if n, _ := semantic.Pending(ctx, ""); n != 0 {
		t.Fatal(n)
	}
	hits, err := semantic.Search(pctx, engram.SearchRequest{Query: "bought a car", Mode: engram.SearchVector})
	if err != nil || len(hits) != 0 {
		t.Fatalf("before backfill: %v %v", hits, err)
	}
	if err := semantic.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	hits, err = semantic.Search(pctx, engram.SearchRequest{Query: "bought a car", Mode: engram.SearchVector})
	if err != nil || len(hits) != 1 || hits[0].ID != r[0].ID {
		t.Fatalf("after backfill: %v %v", hits, err)
	}
}
