package engine

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

// Keyword index snapshots (docs/ARCHITECTURE.md, "Index snapshots"): a
// tenant's postings index, written as sealed chunks beside its vector
// snapshot, so that the first keyword search after a restart or an
// eviction reads a few large chunks instead of every posting row. The
// rules are the vector snapshot's (snapshots.go): taken at a quiet point
// of this engine's writes and recorded with the store's change count,
// loaded only while the count is still that, replaced after enough writes,
// and deleted by the store in any transaction that destroys a subject key
// (the index_snapshots_shred trigger), so an erasure never leaves a
// snapshot behind.
//
// Sealing. The postings are blind tokens, scope ids, lengths and
// frequencies (no term, no content), sealed with AES-256-GCM
// (seal.SealBulk) under the key of one subject of the tenant reserved for
// them, kwSnapSubject, and bound to the tenant, the snapshot, the chunk's
// place and the change count (snapshot.Chunk.Context): a chunk moved to
// another tenant or snapshot, or replayed from an older one, does not
// open, and the index is then rebuilt from the store.

const (
	// kwSnapMin is the fewest memories a keyword snapshot is written for.
	kwSnapMin = 2000
	// kwSnapChunk is how many memories one chunk holds (about 1 MB of
	// chat-sized text).
	kwSnapChunk = 4096
	// kwSnapSubject names the key that seals keyword snapshots.
	kwSnapSubject = "i:keywords"
	// kwSnapModel is what made a keyword snapshot's content: the blind
	// postings of fulltext's tokenizer, as the store holds them.
	kwSnapModel = "blind-postings/v1"
)

// kwChanged counts changes applied to t's index and starts a snapshot when
// one is due. Called with k.mu held.
func (e *Engine) kwChanged(tenantID string, t *kwTenant, n int) {
	t.dirty += n
	k := e.kw
	if t.idx == nil || t.saving || t.inflight > 0 || t.dirty == 0 || k.snapMin <= 0 {
		return
	}
	size := t.idx.Len()
	if size < k.snapMin || t.dirty < max(snapshotEvery, size/10) {
		return
	}
	e.saveInBackground(&k.loads, &k.mu, &t.saving, tenantID, "keyword snapshot", e.saveKeywordSnapshot)
}

// saveKeywordSnapshots writes a snapshot of every loaded keyword index
// that changed since its last one (SaveIndexSnapshots, at shutdown).
func (e *Engine) saveKeywordSnapshots(ctx context.Context) error {
	if e.kw == nil {
		return nil
	}
	k := e.kw
	k.loads.Wait()
	k.mu.Lock()
	var due []string
	for id, t := range k.tenants {
		if t.idx != nil && t.dirty > 0 && !t.saving {
			t.saving = true // no background write of the same tenant meanwhile
			due = append(due, id)
		}
	}
	k.mu.Unlock()
	return saveDue(ctx, &k.mu, due, e.saveKeywordSnapshot, func(id string) {
		if t := k.tenants[id]; t != nil {
			t.saving = false
		}
	})
}

// saveKeywordSnapshot writes the tenant's loaded keyword index as its
// snapshot, if it is loaded, large enough, and a quiet point can be had;
// otherwise it does nothing.
func (e *Engine) saveKeywordSnapshot(ctx context.Context, tenantID string) error {
	k := e.kw
	k.mu.Lock()
	t := k.tenants[tenantID]
	if t == nil || t.idx == nil || t.loading || t.inflight > 0 || k.snapMin <= 0 || t.idx.Len() < k.snapMin {
		k.mu.Unlock()
		return nil
	}
	idx, begun := t.idx, t.gen
	k.mu.Unlock()
	// No write of this engine begins or is in flight from here until the
	// index is copied (checked on both sides), so the copy is the index at
	// the change count read now.
	// The count is the one the index caught up to (other processes'
	// writes included), not merely the store's.
	if cur, err := e.kwCatchUp(ctx, tenantID, idx); err != nil || cur == nil {
		return err
	}
	k.mu.Lock()
	gen := t.sgen
	k.mu.Unlock()
	quiet := func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.tenants[tenantID] == t && t.idx == idx && t.inflight == 0 && t.gen == begun && t.sgen == gen
	}
	if gen < 0 || !quiet() {
		return nil
	}
	docs := idx.Docs()
	if !quiet() {
		return nil
	}

	key, err := e.ring.CurrentSubjectKey(ctx, tenantID, kwSnapSubject)
	if err != nil {
		return keyFailure(err)
	}
	total := (len(docs) + kwSnapChunk - 1) / kwSnapChunk
	w := e.newSnapshotWriter(ctx, tenantID, snapshot.KindKeywords, kwSnapModel, gen, total)
	for seq := range total {
		pt, err := snapshot.EncodeKeywords(docs[seq*kwSnapChunk : min(len(docs), (seq+1)*kwSnapChunk)])
		if err != nil {
			return err
		}
		if err := w.add(key, kwSnapSubject, pt); err != nil {
			return err
		}
	}
	if ok, err := w.commit(len(docs)); !ok || err != nil {
		return err
	}
	k.mu.Lock()
	if t.gen == begun {
		t.dirty = 0
	}
	k.mu.Unlock()
	return nil
}

// loadKeywordSnapshot fills an empty index from the tenant's keyword
// snapshot, if it has one taken at the store's current change count or at
// one the change log replays from (readSnapshot; *gen is then set to the
// snapshot's count). It
// returns false, having added nothing, when there is none or it does not
// open (a chunk missing, altered, or another tenant's): the caller then
// loads from the store. Every chunk is opened before anything is added.
func (e *Engine) loadKeywordSnapshot(ctx context.Context, tenantID string, idx *postings.Index, gen *int64) (bool, error) {
	if e.kw.snapMin <= 0 {
		return false, nil
	}
	// Each chunk is opened and decoded on its own goroutine as soon as it
	// is read, as the vector snapshot's (loadVectorSnapshot).
	type part struct {
		sealedChunk
		docs []store.DocPostings
	}
	var (
		parts []*part
		g     errgroup.Group
	)
	hdr, complete, err := e.readSnapshot(ctx, tenantID, snapshot.KindKeywords, kwSnapModel, "", func(h *store.IndexSnapshot, c *sealedChunk) {
		p := &part{sealedChunk: *c}
		parts = append(parts, p)
		g.Go(func() error {
			if p.subject != kwSnapSubject {
				return &unreadable{fmt.Errorf("keyword snapshot chunk %d: not sealed by the keyword subject", p.seq)}
			}
			k, err := e.ring.SubjectKey(ctx, tenantID, p.subject, p.version)
			if err != nil {
				return err
			}
			pt, err := seal.Open(k, p.context(h), p.body)
			if err != nil {
				return &unreadable{fmt.Errorf("open keyword snapshot chunk %d: %w", p.seq, err)}
			}
			p.body = nil
			// Tokens point into pt; Put copies them.
			if err := snapshot.DecodeKeywords(pt, func(d *store.DocPostings) error {
				p.docs = append(p.docs, *d)
				return nil
			}); err != nil {
				return &unreadable{fmt.Errorf("decode keyword snapshot chunk %d: %w", p.seq, err)}
			}
			return nil
		})
	})
	werr := g.Wait()
	if err != nil || !complete {
		return false, err
	}
	if werr != nil {
		if isUnreadable(werr) || errors.Is(werr, keys.ErrSubjectKeyGone) {
			e.logger().Warn("keyword snapshot not used; loading from the store", "component", "engine", "tenant_id", tenantID, "error", werr)
			return false, nil
		}
		return false, keyFailure(werr)
	}
	for _, p := range parts {
		for i := range p.docs {
			idx.Put(p.docs[i])
		}
	}
	*gen = hdr.Gen // the count the index reflects: catch-up replays the rest
	e.kw.snapLoads.Add(1)
	return true, nil
}
