package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// benchEngine is an engine on a fresh SQLite file whose system chain gets
// n entries per call of fill (one transaction: the fill is not measured).
func benchEngine(b *testing.B) (*Engine, func(n int)) {
	ctx := context.Background()
	dir := b.TempDir()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e := New(db, keys.New(db, k, nil), nil)
	mac, _, err := e.ring.AuditKeys(ctx, "", audit.KeyVersion)
	if err != nil {
		b.Fatal(err)
	}
	fill := func(n int) {
		if err := db.Write(ctx, func(tx store.Tx) error {
			for i := 0; i < n; i++ {
				en := &engram.AuditEntry{Time: time.Now().UTC().Truncate(time.Microsecond), Action: engram.AuditMemoryRead, TargetType: engram.TargetMemory,
					TargetID: "01900000-0000-7000-8000-000000000000", Outcome: engram.OutcomeSuccess, IP: "192.0.2.1", Transport: "rest"}
				if _, err := audit.Append(ctx, tx, mac, en); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return e, fill
}

// BenchmarkSealSegment: one seal of a 1,000-entry segment (read the
// entries, hash, sign, store segment + ~2,000 nodes, one fsync'd commit).
func BenchmarkSealSegment(b *testing.B) {
	e, fill := benchEngine(b)
	ctx := context.Background()
	p := checkpoint.Policy{MaxEntries: 1000}
	for b.Loop() {
		b.StopTimer()
		fill(1000)
		b.StartTimer()
		st, err := e.SealAudit(ctx, p)
		if err != nil || st.Entries != 1000 {
			b.Fatalf("%+v %v", st, err)
		}
	}
}

// BenchmarkInclusionProof: an inclusion proof in a 20,000-entry log of 20
// segments, from stored nodes (what GET /v1/audit/proofs/inclusion costs
// without HTTP and its audit entry).
func BenchmarkInclusionProof(b *testing.B) {
	e, fill := benchEngine(b)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		fill(1000)
		if _, err := e.SealAudit(ctx, checkpoint.Policy{MaxEntries: 1000}); err != nil {
			b.Fatal(err)
		}
	}
	i := uint64(0)
	for b.Loop() {
		size, err := e.sealedSize(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := e.prove(ctx, "", func(pr *checkpoint.Prover) error {
			_, err := pr.Inclusion(ctx, (i*7919)%size, size)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
