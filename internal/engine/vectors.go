package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/store"
)

// Option configures an Engine.
type Option func(*Engine)

// WithEmbedder enables semantic and hybrid search with emb. Vectors are
// sealed in the store and decrypted into a per-tenant in-memory index of
// at most budget bytes across tenants (least recently used tenants are
// evicted and reloaded on demand).
func WithEmbedder(emb embed.Embedder, budget int64) Option {
	return func(e *Engine) {
		e.vec = &vectors{emb: emb, mgr: vector.NewManager(budget), tenants: map[string]*tenantVectors{}, epochs: map[string]uint64{},
			writes: map[string]*vecWrites{}, snapMin: snapshotMin, own: newOwnVectors(ownVectorBytes), catching: map[string]bool{}}
		switch x := emb.(type) {
		case embed.StateEmbedder:
			e.vec.states = x
		case interface{ States() embed.StateEmbedder }: // the batcher
			e.vec.states = x.States()
		}
		e.vec.mgr.OnGraph(e.graphBuilt)
	}
}

// vectors is the engine's semantic side: the embedder and the indexes.
type vectors struct {
	emb embed.Embedder
	mgr *vector.Manager

	// mu serialises index mutations with loads, so that a write committed
	// while a tenant's index loads is replayed after it (see load).
	mu      sync.Mutex
	tenants map[string]*tenantVectors
	// epochs counts, per tenant, the drops of its index by erasures. A
	// write notes it before it begins; if it moved by the time the write
	// updates the index, the write may be of a user erased meanwhile (its
	// vector must not outlive the user's key) and is not put (see indexPut).
	epochs map[string]uint64

	// writes tracks, per tenant, the writes in flight and the index
	// changes since the last snapshot (see snapshots.go).
	writes  map[string]*vecWrites
	snapMin int            // fewest vectors worth a snapshot
	saves   sync.WaitGroup // background snapshot writes
	// snapLoads counts the indexes loaded from a snapshot, graphLoads
	// those whose graph came with it (tests).
	snapLoads, graphLoads atomic.Int64
	// own keeps recent memories' own embeddings (the vector context rule),
	// or their pooled states when states is set.
	own *ownVectors
	// states is emb when it computes pooled states: the vector context
	// rule then pools the turns together (mixOwn).
	states embed.StateEmbedder
	// catching holds the tenants whose index catches up in the background
	// after another node's notification (notify.go); guarded by mu.
	catching map[string]bool
}

// tenantVectors is what search needs besides the vectors: each memory's
// scope and time, to filter and rank without touching the store.
type tenantVectors struct {
	mu      sync.RWMutex
	meta    map[string]docMeta
	loading map[string]struct{} // ids written while the index loads
	// gen is the store's change count the index reflects (catchup.go):
	// every change counted up to it is in the index; -1 until loaded.
	gen     atomic.Int64
	catchUp sync.Mutex // one catch-up at a time
}

type docMeta struct {
	subject string // whose key seals the memory (and its share of a snapshot)
	scope   engram.Scope
	created time.Time
	rec     rbac.Record // author and visibility: who may find it
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func decodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("vector: bad length")
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// embedTexts embeds texts for a write; nil without an embedder. A failure
// fails the write (503): a memory is not stored half-indexed.
func (e *Engine) embedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	if e.vec == nil || len(texts) == 0 {
		return nil, nil
	}
	vs, err := e.vec.emb.Embed(ctx, texts)
	return checkEmbedded(ctx, vs, texts, err)
}

// embedStates is embedTexts for pooled states (e.vec.states).
func (e *Engine) embedStates(ctx context.Context, texts []string) ([]embed.State, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	sts, err := e.vec.states.EmbedStates(ctx, texts)
	return checkEmbedded(ctx, sts, texts, err)
}

// checkEmbedded maps an embedder's failure to the engine's errors.
func checkEmbedded[T any](ctx context.Context, vs []T, texts []string, err error) ([]T, error) {
	if err != nil && ctx.Err() != nil {
		// The request's deadline passed: a timeout, not a broken model.
		return nil, fmt.Errorf("embed: %w: %w", store.ErrTimedOut, ctx.Err())
	}
	if err != nil {
		return nil, &engram.Error{Code: engram.CodeUnavailable, Message: "the embedding model is unavailable; try again later"}
	}
	if len(vs) != len(texts) {
		return nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(vs), len(texts))
	}
	return vs, nil
}

func (e *Engine) tenantVectors(tenantID string) *tenantVectors {
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	tv, ok := e.vec.tenants[tenantID]
	if !ok {
		tv = &tenantVectors{meta: map[string]docMeta{}}
		tv.gen.Store(-1)
		e.vec.tenants[tenantID] = tv
	}
	return tv
}

// vecEpoch is the tenant's index drop count, noted by a write before it
// begins and handed to indexPut.
func (e *Engine) vecEpoch(tenantID string) uint64 {
	if e.vec == nil {
		return 0
	}
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	return e.vec.epochs[tenantID]
}

// indexPut records a committed memory's vector in the tenant's index, if
// the index is loaded or loading. epoch is vecEpoch from before the write
// began: when an erasure dropped the index since, the write's memory may
// be erased already, or an index loaded meanwhile may lack it; the index is
// dropped again rather than guessed at, and the next search loads what the
// store holds.
func (e *Engine) indexPut(tenantID, id string, v []float32, meta docMeta, epoch uint64) {
	if e.vec == nil || v == nil {
		return
	}
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	if e.vec.epochs[tenantID] != epoch {
		delete(e.vec.tenants, tenantID)
		e.vec.mgr.Drop(tenantID)
		return
	}
	tv := e.vec.tenants[tenantID]
	if tv == nil {
		return
	}
	tv.mu.Lock()
	defer tv.mu.Unlock()
	if tv.loading != nil {
		tv.loading[id] = struct{}{}
		return
	}
	if idx, ok := e.vec.mgr.Get(tenantID); ok {
		tv.meta[id] = meta
		_ = idx.Add(id, v)
		e.vec.changed(tenantID)
	}
}

// indexRemove takes a memory out of the tenant's index (and its own
// embedding out of ownVectors) at once.
func (e *Engine) indexRemove(tenantID, id string) {
	if e.vec == nil {
		return
	}
	e.vec.own.remove(tenantID, id)
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	tv := e.vec.tenants[tenantID]
	if tv == nil {
		return
	}
	tv.mu.Lock()
	defer tv.mu.Unlock()
	delete(tv.meta, id)
	if tv.loading != nil {
		tv.loading[id] = struct{}{}
	}
	if idx, ok := e.vec.mgr.Get(tenantID); ok {
		idx.Remove(id)
		e.vec.changed(tenantID)
	}
}

// indexDrop forgets a tenant's whole index (after an erasure): vectors can
// be inverted back to text, so none may outlive their key.
func (e *Engine) indexDrop(tenantID string) {
	if e.vec == nil {
		return
	}
	e.vec.own.drop(tenantID)
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	delete(e.vec.tenants, tenantID)
	e.vec.mgr.Drop(tenantID)
	e.vec.epochs[tenantID]++
	if w := e.vec.writes[tenantID]; w != nil {
		w.dirty = 0
	}
}

// vectorPage is how many sealed vectors a load decrypts per store read.
const vectorPage = 500

// index returns the tenant's loaded index, loading it from the store on
// first use: every sealed vector of the current model is decrypted into
// memory. Writes that commit during the load are replayed afterwards, and
// other processes' writes before the index answers (catchUp).
func (e *Engine) index(ctx context.Context, tenantID string) (*vector.Index, *tenantVectors, error) {
	for range 3 {
		idx, tv, err := e.loadIndex(ctx, tenantID)
		if err == nil {
			err = e.catchUp(ctx, tenantID, idx, tv)
		}
		if !errors.Is(err, vector.ErrDropped) {
			return idx, tv, err
		}
		// An erasure dropped the index while it loaded or caught up: load
		// again.
	}
	return nil, nil, fmt.Errorf("vector index of %s: dropped repeatedly while loading", tenantID)
}

func (e *Engine) loadIndex(ctx context.Context, tenantID string) (*vector.Index, *tenantVectors, error) {
	tv := e.tenantVectors(tenantID)
	if idx, ok := e.vec.mgr.Get(tenantID); ok {
		return idx, tv, nil
	}
	// Every change counted after gen is replayed by the next catch-up,
	// whether the load below sees it or not.
	gen, err := e.storeGen(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	tv.mu.Lock()
	if tv.loading == nil {
		tv.loading = map[string]struct{}{}
	}
	tv.mu.Unlock()
	e.vec.mu.Lock()
	w := e.vec.state(tenantID)
	w.graphSaved = w.graphs // only the graphs built after this load are new
	e.vec.mu.Unlock()
	meta := map[string]docMeta{}
	var metaMu sync.Mutex
	fromSnapshot := false
	idx, err := e.vec.mgr.LoadFill(tenantID, e.vec.emb.Dim(), func(f *vector.Fill) error {
		ok, err := e.loadVectorSnapshot(ctx, tenantID, f, &meta, &gen)
		if err != nil || ok {
			fromSnapshot = ok
			return err
		}
		// Decryption is most of a load's CPU: each page is opened by one
		// worker per core (an opener each: openers cache keys unlocked).
		openers := make([]*opener, runtime.GOMAXPROCS(0))
		for i := range openers {
			openers[i] = e.opener(ctx, tenantID)
		}
		after := ""
		for {
			var page []store.Memory
			if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
				page, err = tx.Vectors(ctx, tenantID, e.vec.emb.Model(), after, vectorPage)
				return err
			}); err != nil {
				return err
			}
			vs := make([][]float32, len(page))
			var g errgroup.Group
			for w, o := range openers {
				g.Go(func() error {
					for i := w; i < len(page); i += len(openers) {
						v, err := o.vector(&page[i])
						if isUnreadable(err) {
							// Left out of the index (vs[i] stays nil).
							e.skip(tenantID, "memory", page[i].ID, err)
							continue
						}
						if err != nil {
							return err
						}
						vs[i] = v
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
			for i := range page {
				m, v := &page[i], vs[i]
				if v == nil {
					continue // unreadable, skipped above
				}
				metaMu.Lock()
				meta[m.ID] = metaOf(m)
				metaMu.Unlock()
				if err := f.Add(m.ID, v); err != nil {
					return err
				}
			}
			if len(page) < vectorPage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	if err != nil {
		tv.mu.Lock()
		tv.loading = nil
		tv.mu.Unlock()
		if errors.Is(err, vector.ErrDropped) {
			return nil, nil, err
		}
		return nil, nil, keyFailure(err)
	}
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	tv.mu.Lock()
	defer tv.mu.Unlock()
	if tv.loading == nil {
		return idx, tv, nil // another caller finished the same load
	}
	if len(tv.meta) == 0 {
		tv.meta = meta // the usual case: nothing was written meanwhile
	} else {
		for id, m := range meta {
			tv.meta[id] = m
		}
	}
	touched := tv.loading
	tv.loading = nil
	tv.gen.Store(gen)
	for id := range touched {
		if err := e.reindex(ctx, tenantID, id, idx, tv); err != nil {
			e.vec.mgr.Drop(tenantID) // reload next time rather than serve a stale index
			return nil, nil, err
		}
	}
	e.vec.loaded(tenantID, fromSnapshot, len(touched))
	if !fromSnapshot {
		e.maybeSnapshotLocked(tenantID)
	}
	return idx, tv, nil
}

// reindex sets one memory's entry in the index from the store.
func (e *Engine) reindex(ctx context.Context, tenantID, id string, idx *vector.Index, tv *tenantVectors) error {
	var m *store.Memory
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		m, err = tx.Memory(ctx, tenantID, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.VectorModel != e.vec.emb.Model()) {
		idx.Remove(id)
		delete(tv.meta, id)
		return nil
	}
	if err != nil {
		return err
	}
	v, err := e.opener(ctx, tenantID).vector(m)
	if isUnreadable(err) {
		e.skip(tenantID, "memory", id, err)
		idx.Remove(id)
		delete(tv.meta, id)
		return nil
	}
	if err != nil {
		return err
	}
	tv.meta[id] = metaOf(m)
	return idx.Add(id, v)
}

// vector opens a memory's sealed vector.
func (o *opener) vector(m *store.Memory) ([]float32, error) {
	raw, err := o.open(m.Subject, memoryContext(m.TenantID, m.Subject, m.ID, "vector"), m.Vector)
	if err != nil {
		return nil, err
	}
	return decodeVector(raw)
}

// backfillVectors embeds up to batch memories of a tenant that have no
// vector of the current model (written before the model changed, or
// before semantic search was enabled). It returns how many it embedded.
func (e *Engine) backfillVectors(ctx context.Context, tenantID string, batch int) (int, error) {
	if e.vec == nil {
		return 0, nil
	}
	var rows []store.Memory
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.MissingVectors(ctx, tenantID, e.vec.emb.Model(), batch)
		return err
	}); err != nil || len(rows) == 0 {
		return 0, err
	}
	defer e.vecWrite(tenantID)()
	epoch := e.vecEpoch(tenantID)
	o := e.opener(ctx, tenantID)
	// One Embed call for the batch: each memory's text in its context
	// (withContext), or with WithVectorContext its own text and the texts
	// of the turns before it whose own embedding is not in memory (a model
	// change leaves whole runs of them).
	gen := e.vec.own.generation(tenantID)
	var (
		texts    []string
		groups   []ownGroup
		contents []string
	)
	readable := rows[:0]
	for i := range rows {
		m, err := o.memory(&rows[i])
		if isUnreadable(err) {
			e.skip(tenantID, "memory", rows[i].ID, err)
			continue
		}
		if err != nil {
			return 0, err
		}
		prior, err := e.priorTurns(ctx, tenantID, m.Scope(), contextFilter(store.RecordOf(&rows[i])), m.ID, m.CreatedAt)
		if err != nil {
			return 0, err
		}
		if e.vecContext {
			groups = append(groups, ownGroup{prior: prior, texts: []string{m.Content}})
		} else {
			texts = append(texts, withContext(prior, []string{m.Content})[0])
		}
		contents = append(contents, m.Content)
		readable = append(readable, rows[i])
	}
	rows = readable
	if len(rows) == 0 {
		return 0, nil
	}
	var vs, own [][]float32
	if e.vecContext {
		gvs, gown, err := e.embedOwn(ctx, tenantID, gen, groups)
		if err != nil {
			return 0, err
		}
		for i := range gvs {
			vs, own = append(vs, gvs[i][0]), append(own, gown[i][0])
		}
	} else {
		var err error
		if vs, err = e.embedTexts(ctx, texts); err != nil {
			return 0, err
		}
	}
	emb := embedded{vecs: vs, own: own, gen: gen}
	done := 0
	for i := range rows {
		m := &rows[i]
		// The key that opened the content above: the vector must be
		// sealed under the same generation of the key as the record.
		k, ok := o.key(m.Subject, m.KeyVersion)
		if !ok {
			continue // no sealed field to open; the next round sees it again
		}
		sealed, err := e.fields.Seal(k, memoryContext(tenantID, m.Subject, m.ID, "vector"), encodeVector(vs[i]))
		if err != nil {
			return done, err
		}
		err = e.st.Write(ctx, func(tx store.Tx) error {
			return tx.SetVector(ctx, tenantID, m.ID, m.KeyVersion, sealed, e.vec.emb.Model())
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted or re-encrypted meanwhile; the next round sees it again
		}
		if err != nil {
			return done, err
		}
		e.indexPut(tenantID, m.ID, vs[i], docMeta{subject: m.Subject, scope: engram.Scope{UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID}, created: m.CreatedAt, rec: store.RecordOf(m)}, epoch)
		e.ownPut(tenantID, emb, i, m.ID, contents[i])
		done++
	}
	return done, nil
}

// VectorIndexStats describes the tenant's in-memory vector index; false
// when semantic search is off or the index is not loaded. Benchmarks use it
// to time searches once a background graph build has settled.
func (e *Engine) VectorIndexStats(tenantID string) (vector.Stats, bool) {
	if e.vec == nil {
		return vector.Stats{}, false
	}
	idx, ok := e.vec.mgr.Get(tenantID)
	if !ok {
		return vector.Stats{}, false
	}
	return idx.Stats(), true
}
