package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

// plaintextCipher stores fields in clear behind a 4-byte key version: the
// "encryption off" baseline of the benchmarks. It exists only in tests.
type plaintextCipher struct{}

func (plaintextCipher) Seal(k seal.Key, _ seal.Context, pt []byte) ([]byte, error) {
	return append(binary.BigEndian.AppendUint32(nil, k.Version), pt...), nil
}

func (plaintextCipher) Open(_ seal.Key, _ seal.Context, env []byte) ([]byte, error) {
	if len(env) < 4 {
		return nil, errors.New("short")
	}
	return env[4:], nil
}

func (plaintextCipher) KeyVersion(env []byte) (uint32, error) {
	if len(env) < 4 {
		return 0, errors.New("short")
	}
	return binary.BigEndian.Uint32(env), nil
}

// DisableFieldEncryptionForBenchmark switches e to plaintextCipher.
func DisableFieldEncryptionForBenchmark(e *Engine) { e.fields = plaintextCipher{} }

// DisableAuditForBenchmark turns the audit trail off: the baseline that
// measures what auditing costs. Nothing outside this package's tests can.
func DisableAuditForBenchmark(e *Engine) { e.noAudit = true }

// Scored is one signal's hit, for tests of fusion.
type Scored = scored

// Fuse returns fuse's fused score of every memory.
func Fuse(bm25, vec []Scored) map[string]float64 {
	out := map[string]float64{}
	for _, c := range fuse(bm25, vec) {
		out[c.id] = c.explain.Fused
	}
	return out
}

// Feedback is pseudo-relevance feedback of query q over idx, the ranked
// ids standing for the first round's fused candidates.
func Feedback(idx *vector.Index, q []float32, ranked []string, n int, weight float64) []float32 {
	s := &semantic{idx: idx, tv: &tenantVectors{meta: map[string]docMeta{}}, q: q}
	cs := make([]*candidate, len(ranked))
	for i, id := range ranked {
		cs[i] = &candidate{id: id}
	}
	return s.feedback(cs, n, weight)
}

// SetKeywordBudget replaces e's in-memory keyword indexes with empty ones
// of the given budget; 0 turns them off (every search reads the store).
func SetKeywordBudget(e *Engine, budget int64) {
	if budget <= 0 {
		e.kw = nil
		return
	}
	e.kw = newKeywords(budget)
}

// KeywordIndexed is the number of memories in the tenant's loaded keyword
// index, -1 when none is loaded.
func KeywordIndexed(e *Engine, tenantID string) int {
	if e.kw == nil {
		return -1
	}
	e.kw.mu.Lock()
	defer e.kw.mu.Unlock()
	t := e.kw.tenants[tenantID]
	if t == nil || t.idx == nil {
		return -1
	}
	return t.idx.Len()
}

// KeywordBytes is the size of the tenant's loaded keyword index, or 0.
func KeywordBytes(e *Engine, tenantID string) int64 {
	if e.kw == nil {
		return 0
	}
	e.kw.mu.Lock()
	defer e.kw.mu.Unlock()
	if t := e.kw.tenants[tenantID]; t != nil && t.idx != nil {
		return t.idx.Bytes()
	}
	return 0
}

// WithoutKeywordIndex runs fn with e's keyword indexes switched off (every
// search reads the store), then puts the same indexes back.
func WithoutKeywordIndex(e *Engine, fn func()) {
	kw := e.kw
	e.kw = nil
	defer func() { e.kw = kw }()
	fn()
}

// DropVectorIndex forgets the tenant's loaded vector index, so that the
// next semantic search loads it from the store again.
func DropVectorIndex(e *Engine, tenantID string) { e.vec.mgr.Drop(tenantID) }

// DropKeywordIndex forgets the tenant's loaded keyword index, so that the
// next keyword search loads it from the store again.
func DropKeywordIndex(e *Engine, tenantID string) { e.kwDrop(tenantID) }

// SetAuthFailureGroupsForTest lowers the cap on groups of refused
// credentials per window, so a test can exceed it quickly.
func SetAuthFailureGroupsForTest(e *Engine, n int) { e.fails.max = n }

// SetWriteHook makes fn run in every Add at stage "key" (between the key
// fetch and the write transaction) and "committed" (between the commit and
// the index updates), where a concurrent erasure can interleave.
func SetWriteHook(e *Engine, fn func(stage string)) { e.testHookWrite = fn }

// VectorIndexHas reports whether the tenant's loaded vector index holds a
// vector for id.
func VectorIndexHas(e *Engine, tenantID, id string) bool {
	idx, ok := e.vec.mgr.Get(tenantID)
	if !ok {
		return false
	}
	_, ok = idx.Vector(id)
	return ok
}

// SaveIndexSnapshots writes the due vector index snapshots, as serve does
// at shutdown.
func SaveIndexSnapshots(e *Engine, ctx context.Context) error { return e.SaveIndexSnapshots(ctx) }

// SetSnapshotMin sets the fewest vectors a snapshot is written for (0:
// snapshots are neither written nor loaded).
func SetSnapshotMin(e *Engine, n int) {
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	e.vec.snapMin = n
}

// VectorSnapshotLoads is how many vector indexes e loaded from a snapshot.
func VectorSnapshotLoads(e *Engine) int64 { return e.vec.snapLoads.Load() }

// VectorSnapshot is the tenant's vector index snapshot header, if any.
func VectorSnapshot(e *Engine, ctx context.Context, tenantID string) (s *store.IndexSnapshot, err error) {
	err = e.st.Read(ctx, func(tx store.Tx) error {
		s, err = tx.IndexSnapshot(ctx, tenantID, "vectors")
		return err
	})
	return s, err
}

// SetKeywordAsyncMin sets the size from which a tenant's keyword index
// loads in the background (0: never).
func SetKeywordAsyncMin(e *Engine, n int) { e.kw.asyncMin = n }

// WaitKeywordLoads waits for the keyword index loads running in the
// background.
func WaitKeywordLoads(e *Engine) { e.kw.loads.Wait() }

// IndexedVector is the vector the tenant's loaded index holds for id.
func IndexedVector(e *Engine, tenantID, id string) ([]float32, bool) {
	idx, ok := e.vec.mgr.Get(tenantID)
	if !ok {
		return nil, false
	}
	return idx.Vector(id)
}

// OwnVectors counts the own embeddings kept for the tenant (the vector
// context rule).
func OwnVectors(e *Engine, tenantID string) int {
	c := e.vec.own
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range c.entries {
		if k.tenant == tenantID {
			n++
		}
	}
	return n
}

// VectorContext reports whether the engine builds context by the vector
// rule.
func VectorContext(e *Engine) bool { return e.vecContext }

// ForgetOwnVectors empties the own embeddings kept in memory, as a restart
// (or another node) does.
func ForgetOwnVectors(e *Engine) { e.vec.own = newOwnVectors(ownVectorBytes) }

// SetKeywordSnapshotMin sets the fewest memories a keyword snapshot is
// written for (0: keyword snapshots are neither written nor loaded).
func SetKeywordSnapshotMin(e *Engine, n int) {
	e.kw.mu.Lock()
	defer e.kw.mu.Unlock()
	e.kw.snapMin = n
}

// KeywordSnapshotLoads is how many keyword indexes e loaded from a snapshot.
func KeywordSnapshotLoads(e *Engine) int64 { return e.kw.snapLoads.Load() }

// SetVectorOptions sets the options of the vector indexes e loads from
// now on.
func SetVectorOptions(e *Engine, o vector.Options) { e.vec.mgr.SetIndexOptions(o) }

// VectorGraphLoads is how many vector indexes e loaded with the graph of
// their snapshot.
func VectorGraphLoads(e *Engine) int64 { return e.vec.graphLoads.Load() }

// GraphSnapshot is the tenant's graph snapshot: its header and its chunk.
func GraphSnapshot(e *Engine, ctx context.Context, tenantID string) (h *store.IndexSnapshot, c *store.IndexSnapshotChunk, err error) {
	err = e.st.Read(ctx, func(tx store.Tx) error {
		if h, err = tx.IndexSnapshot(ctx, tenantID, snapshot.KindGraph); err != nil {
			return err
		}
		return tx.IndexSnapshotChunks(ctx, tenantID, snapshot.KindGraph, h.ID, func(ch *store.IndexSnapshotChunk) error {
			cp := *ch
			cp.Body = slices.Clone(ch.Body)
			c = &cp
			return nil
		})
	})
	return h, c, err
}

// PutGraphSnapshot makes h, with its one chunk c, the tenant h names'
// graph snapshot, as someone writing to the database could.
func PutGraphSnapshot(e *Engine, ctx context.Context, h *store.IndexSnapshot, c *store.IndexSnapshotChunk) error {
	return e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteIndexSnapshots(ctx, h.TenantID, snapshot.KindGraph); err != nil {
			return err
		}
		if err := tx.PutIndexSnapshotChunk(ctx, c); err != nil {
			return err
		}
		return tx.CommitIndexSnapshot(ctx, h)
	})
}

// ReadVectorChunk calls fn with a copy of chunk seq of the tenant's
// vector snapshot id.
func ReadVectorChunk(e *Engine, ctx context.Context, tenantID, id string, seq int, fn func(*store.IndexSnapshotChunk)) error {
	return e.st.Read(ctx, func(tx store.Tx) error {
		return tx.IndexSnapshotChunks(ctx, tenantID, snapshot.KindVectors, id, func(c *store.IndexSnapshotChunk) error {
			if c.Seq == seq {
				cp := *c
				cp.Body = slices.Clone(c.Body)
				fn(&cp)
			}
			return nil
		})
	})
}
