package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/store"
)

// The keyword side's in-memory index. A search used to read every posting
// of its tokens from the store, row by row: a token in 10% of 100,000
// memories is 10,000 rows, 40-100 ms through the pure-Go SQLite driver.
// Each tenant's postings are now loaded once (lazily, on its first keyword
// search) into a postings.Index and kept current by the engine's write
// paths, as the vector index is. Blind tokens are HMACs, never terms, so
// holding them in memory weakens nothing (see package postings).
//
// The store path stays as the fallback: while a tenant's index loads, when
// it does not fit the budget, and when a search finds it stale. Every
// search still reads the scope's statistics (docs, total length) from the
// store, a handful of scope_stats rows: if they differ from the index's
// while no write of this engine is in flight, another process (an offline
// CLI command beside serve, or another node on a shared store) changed the
// tenant, and the index is dropped and reloaded. That check cannot see a
// change that keeps both figures (an update to text of the same length
// from another process); see docs/ARCHITECTURE.md.

// DefaultKeywordBudget bounds the keyword indexes of all tenants together
// (about 1.5 KB per memory of chat-sized text).
const DefaultKeywordBudget = 512 << 20

// WithKeywordBudget sets the bytes the in-memory keyword indexes may take
// across tenants (least recently used tenants are evicted); 0 or less
// disables them, so every keyword search reads the store.
func WithKeywordBudget(budget int64) Option {
	return func(e *Engine) {
		if budget <= 0 {
			e.kw = nil
			return
		}
		e.kw = newKeywords(budget)
	}
}

func newKeywords(budget int64) *keywords {
	return &keywords{budget: budget, tenants: map[string]*kwTenant{}, asyncMin: kwAsyncMin, snapMin: kwSnapMin, catching: map[string]bool{}}
}

type keywords struct {
	budget    int64
	asyncMin  int            // tenants this large load in the background
	snapMin   int            // tenants this large are snapshotted (keywordsnap.go)
	loads     sync.WaitGroup // background loads and snapshot writes
	snapLoads atomic.Int64   // indexes loaded from a snapshot

	mu      sync.Mutex
	tenants map[string]*kwTenant
	tick    uint64 // LRU clock
	// catching holds the tenants whose index catches up in the background
	// after another node's notification (notify.go).
	catching map[string]bool
}

// kwTenant is one tenant's index and the bookkeeping around it; guarded by
// keywords.mu.
type kwTenant struct {
	idx      *postings.Index // nil until loaded
	loading  bool
	tooBig   bool   // did not fit the budget alone: search the store
	queue    []kwOp // writes committed while loading, replayed after
	gen      uint64 // counts writes begun, to tell ours from others'
	inflight int    // writes begun and not yet applied
	used     uint64 // LRU tick of the last search
	bytes    int64  // size when last accounted
	dirty    int    // changes since the last snapshot or load
	saving   bool   // a snapshot write runs
	// sgen is the store's change count the index reflects (catchup.go);
	// -1 while unknown (not loaded).
	sgen    int64
	catchUp sync.Mutex // one catch-up at a time
}

// kwOp is one committed change: put doc, or remove id.
type kwOp struct {
	doc    *store.DocPostings
	remove string
}

func (k *keywords) tenant(id string) *kwTenant {
	t := k.tenants[id]
	if t == nil {
		t = &kwTenant{sgen: -1}
		k.tenants[id] = t
	}
	return t
}

// kwBegin is called before a write that changes a tenant's postings; the
// returned function, called once the write is over (committed or not),
// applies its changes to the index: at once when loaded, after the load
// when loading. ops must be nil when the write failed.
func (e *Engine) kwBegin(tenantID string) func(ops ...kwOp) {
	if e.kw == nil {
		return func(...kwOp) {}
	}
	k := e.kw
	k.mu.Lock()
	t := k.tenant(tenantID)
	t.gen++
	t.inflight++
	k.mu.Unlock()
	var once sync.Once
	return func(ops ...kwOp) {
		once.Do(func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			t.inflight--
			if k.tenants[tenantID] != t {
				return // dropped meanwhile; the next load reads the store
			}
			if t.loading {
				t.queue = append(t.queue, ops...)
				return
			}
			if t.idx == nil {
				return
			}
			apply(t.idx, ops)
			k.account(tenantID, t)
			e.kwChanged(tenantID, t, len(ops))
		})
	}
}

func apply(idx *postings.Index, ops []kwOp) {
	for _, op := range ops {
		if op.doc != nil {
			idx.Put(*op.doc)
		} else {
			idx.Remove(op.remove)
		}
	}
}

// kwDrop forgets a tenant's keyword index (erasure): no scope id or token
// of an erased user may stay in memory.
func (e *Engine) kwDrop(tenantID string) {
	if e.kw == nil {
		return
	}
	e.kw.mu.Lock()
	defer e.kw.mu.Unlock()
	delete(e.kw.tenants, tenantID)
}

// account updates t's size and evicts least recently used tenants (other
// than t) until all fit the budget. Called with k.mu held.
func (k *keywords) account(tenantID string, t *kwTenant) {
	t.bytes = t.idx.Bytes()
	if t.bytes > k.budget {
		// Alone larger than the budget: search this tenant in the store.
		t.idx, t.tooBig, t.bytes = nil, true, 0
		return
	}
	for {
		var total int64
		var victim string
		var oldest uint64
		for id, o := range k.tenants {
			if o.idx == nil {
				continue
			}
			total += o.bytes
			if o != t && (victim == "" || o.used < oldest) {
				victim, oldest = id, o.used
			}
		}
		if total <= k.budget || victim == "" {
			return
		}
		v := k.tenants[victim]
		v.idx, v.bytes = nil, 0
	}
}

// kwPage is how many memories a load reads per store transaction.
const kwPage = 2000

// kwIndex returns the tenant's loaded index and the write generation seen
// with no write in flight (quiet false otherwise), loading it on first use.
// It returns a nil index when the caller should search the store: another
// search is loading it, or it does not fit the budget.
func (e *Engine) kwIndex(ctx context.Context, tenantID string) (idx *postings.Index, gen uint64, quiet bool, err error) {
	k := e.kw
	k.mu.Lock()
	t := k.tenant(tenantID)
	k.tick++
	t.used = k.tick
	if t.idx != nil || t.loading || t.tooBig {
		defer k.mu.Unlock()
		return t.idx, t.gen, t.inflight == 0, nil
	}
	t.loading = true
	k.mu.Unlock()

	// Every change counted after sgen is replayed by the next catch-up,
	// whether the load sees it or not.
	sgen, err := e.storeGen(ctx, tenantID)
	if err != nil {
		k.mu.Lock()
		t.loading = false
		k.mu.Unlock()
		return nil, 0, false, err
	}
	// A current snapshot is read in the search, whatever the tenant's
	// size: a few large chunks, opened on every core (about 0.2 CPU-s at
	// 100,000 memories, less than ranking the first query from the store),
	// while the other side of a hybrid search loads the vector index.
	idx = postings.New()
	snap, err := e.loadKeywordSnapshot(ctx, tenantID, idx, &sgen)
	if !snap && e.kwLarge(ctx, tenantID) {
		// No snapshot (or it failed): loading from the store takes
		// seconds, so this search (and those until the load ends) reads
		// the store, which ranks identically.
		retry := err != nil // the snapshot may still be usable
		k.loads.Add(1)
		go func() {
			defer k.loads.Done()
			lctx := context.WithoutCancel(ctx)
			idx := postings.New()
			sgen := sgen
			snap, err := e.kwLoad(lctx, tenantID, idx, retry, &sgen)
			k.mu.Lock()
			defer k.mu.Unlock()
			if _, _, _, err := e.kwInstall(tenantID, t, idx, sgen, snap, err); err != nil {
				e.logger().Warn("keyword index not loaded", "component", "engine", "tenant_id", tenantID, "error", err)
			}
		}()
		return nil, 0, false, nil
	}
	if !snap && err == nil {
		snap, err = e.kwLoad(ctx, tenantID, idx, false, &sgen)
	} else {
		idx.Compact()
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	return e.kwInstall(tenantID, t, idx, sgen, snap, err)
}

// kwAsyncMin is the size from which a tenant's keyword index loads in the
// background (about a second at 2 cores).
const kwAsyncMin = 25000

// kwLarge reports whether the tenant holds at least asyncMin memories
// (from the scope statistics: a handful of rows). On error it says no, and
// the load runs in the search as before.
func (e *Engine) kwLarge(ctx context.Context, tenantID string) bool {
	var stats *store.Postings
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		stats, err = tx.SearchPostings(ctx, tenantID, engram.Scope{}, nil)
		return err
	})
	return err == nil && e.kw.asyncMin > 0 && stats.Docs >= e.kw.asyncMin
}

// kwInstall ends a load of t: installs idx, with the writes queued
// meanwhile applied, unless the load failed or the tenant was dropped.
// An index loaded from the store, not from a snapshot, is then
// snapshotted. Called with k.mu held.
func (e *Engine) kwInstall(tenantID string, t *kwTenant, idx *postings.Index, sgen int64, fromSnapshot bool, err error) (*postings.Index, uint64, bool, error) {
	k := e.kw
	if k.tenants[tenantID] != t {
		return nil, 0, false, err // dropped while loading (erasure)
	}
	t.loading = false
	queued := t.queue
	t.queue = nil
	if err != nil {
		return nil, 0, false, err
	}
	apply(idx, queued)
	t.idx, t.sgen = idx, sgen
	k.account(tenantID, t)
	if t.dirty = len(queued); !fromSnapshot {
		t.dirty = 1 << 30
	}
	e.kwChanged(tenantID, t, 0)
	return t.idx, t.gen, t.inflight == 0, nil
}

// kwLoad fills idx from the tenant's keyword snapshot when trySnapshot
// and it has a current one (fromSnapshot true), else with every memory and
// its postings read from the store.
func (e *Engine) kwLoad(ctx context.Context, tenantID string, idx *postings.Index, trySnapshot bool, gen *int64) (fromSnapshot bool, err error) {
	defer idx.Compact()
	if trySnapshot {
		if ok, err := e.loadKeywordSnapshot(ctx, tenantID, idx, gen); ok || err != nil {
			return ok, err
		}
	}
	after := ""
	for {
		var page []store.DocPostings
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.DocPostings(ctx, tenantID, after, kwPage)
			return err
		}); err != nil {
			return false, err
		}
		for i := range page {
			idx.Put(page[i])
		}
		if len(page) < kwPage {
			return false, nil
		}
		after = page[len(page)-1].MemoryID
	}
}

// kwStale reports whether the tenant's index was changed behind the
// engine's back: its statistics differ from the store's while no write of
// this engine was in flight, before or since. It then drops the index.
func (e *Engine) kwStale(tenantID string, idx *postings.Index, gen uint64, quiet bool) {
	if !quiet {
		return
	}
	k := e.kw
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.tenants[tenantID]
	if t == nil || t.idx != idx || t.gen != gen || t.inflight != 0 {
		return // one of our writes explains the difference
	}
	t.idx, t.bytes = nil, 0
}

// keywordRank ranks the scope's memories with BM25 over blind tokens:
// from the tenant's in-memory index when it is loaded and agrees with the
// store's scope statistics, else from the store's postings. Both rank
// identically (fulltext.Term and friends are shared). It also returns what
// wTokens, a subset of tokens, weigh in the scope, for absolute scores.
// Only the memories f selects (what the searcher may read) are ranked and
// counted in document frequencies, before the best want are kept.
func (e *Engine) keywordRank(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, tokens, wTokens [][]byte, want int) ([]fulltext.Hit, fulltext.Weight, error) {
	if e.kw != nil {
		idx, gen, quiet, err := e.kwIndex(ctx, tenantID)
		if err != nil {
			return nil, fulltext.Weight{}, err
		}
		if idx != nil {
			if idx, err = e.kwCatchUp(ctx, tenantID, idx); err != nil {
				return nil, fulltext.Weight{}, err
			}
		}
		if idx != nil {
			var stats *store.Postings
			if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
				stats, err = tx.SearchPostings(ctx, tenantID, scope, nil)
				return err
			}); err != nil {
				return nil, fulltext.Weight{}, err
			}
			docs, total, hits := idx.RankAs(scope, f, tokens, want)
			if docs == stats.Docs && total == stats.TotalLen {
				return hits, fulltext.QueryWeight(idx.DocFreqsAs(scope, f, wTokens)), nil
			}
			e.kwStale(tenantID, idx, gen, quiet)
		}
	}
	var p *store.Postings
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		p, err = tx.SearchVisiblePostings(ctx, tenantID, scope, f, tokens)
		return err
	}); err != nil {
		return nil, fulltext.Weight{}, err
	}
	return fulltext.BM25(p, tokens, want), fulltext.QueryWeight(p.Docs, fulltext.DocFreqs(p, wTokens)), nil
}
