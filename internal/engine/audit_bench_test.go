package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// BenchmarkAuditOverhead measures what the audit trail costs on the write
// path (POST /v1/memories: the entry joins the action's transaction) and on
// the read path (GET /v1/memories/{id}: one small write transaction after
// the read), with the trail on (audited) and off (unaudited) in one run.
// Field encryption is on in both. Run:
//
//	go test -run '^$' -bench AuditOverhead -count 3 ./internal/engine/
func BenchmarkAuditOverhead(b *testing.B) {
	for _, op := range []string{"add", "get"} {
		for _, mode := range []string{"audited", "unaudited"} {
			b.Run(op+"/"+mode, func(b *testing.B) {
				e, ctx, r, id := auditBenchEngine(b, mode)
				for i := 0; b.Loop(); i++ {
					if op == "get" {
						if _, err := e.Get(ctx, id); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if _, err := e.Add(ctx, engram.AddRequest{Content: fmt.Sprintf("%s %d", text(r, 20), i), Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%10)}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAuditParallelGet is the read path under concurrent load (64
// goroutines): every read's entry must commit before its answer, and
// concurrent reads share commits (auditBatch), so the audited figure shows
// what group commit leaves of the per-read fsync. Run:
//
//	go test -run '^$' -bench AuditParallelGet -count 3 ./internal/engine/
func BenchmarkAuditParallelGet(b *testing.B) {
	for _, mode := range []string{"audited", "unaudited"} {
		b.Run(mode, func(b *testing.B) {
			e, ctx, _, id := auditBenchEngine(b, mode)
			b.SetParallelism(32) // × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.Get(ctx, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// auditBenchEngine opens an engine with the trail on ("audited") or off,
// and stores one memory to read; it returns the engine, the owner's
// context, the text source and the memory's id.
func auditBenchEngine(b *testing.B, mode string) (*engine.Engine, context.Context, *rand.Rand, string) {
	b.Helper()
	e, ctx := newEngine(b, false)
	if mode == "unaudited" {
		engine.DisableAuditForBenchmark(e)
	}
	r := rand.New(rand.NewPCG(1, 2))
	res, err := e.Add(ctx, engram.AddRequest{Content: text(r, 20)})
	if err != nil {
		b.Fatal(err)
	}
	return e, ctx, r, res[0].ID
}
