package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

// Index snapshots (docs/ARCHITECTURE.md, "Index snapshots"). Loading a
// tenant's vector index from its memories opens every sealed vector one by
// one: seconds at 100,000 memories. A snapshot is the loaded index written
// back as a few large chunks, one key subject's entries each, sealed under
// that subject's key with AES-256-GCM (seal.SealBulk) and bound to the
// tenant, the snapshot, the chunk's place and the tenant's change count.
//
// Currency. The store counts every change to a tenant's memories (and
// every destruction of one of its subject keys) in the writing transaction
// (store.SnapshotTx). A snapshot records the count it was taken at and is
// loaded only if the count is still that, read in the same transaction as
// the chunks; otherwise the index is rebuilt from the memories, and a new
// snapshot written. A snapshot is taken only at a quiet point: no write of
// this engine in flight (vecWrite), none begun while the count is read and
// the index copied, and no erasure since. Every write of this engine
// applies its change to the index before it ends, so at such a point the
// copied index holds exactly what the counted writes left.
//
// When. After an index is rebuilt from the memories, after enough writes
// since the last snapshot (snapshotEvery, or a tenth of the index), and at
// shutdown (SaveIndexSnapshots). Tenants with fewer than snapshotMin
// vectors are not snapshotted: they rebuild in tens of milliseconds.

const (
	// snapshotMin is the fewest vectors a snapshot is written for.
	snapshotMin = 2000
	// snapshotEvery is how many index changes since the last snapshot
	// make a new one due (or a tenth of the index, when larger).
	snapshotEvery = 1000
	// snapshotChunk is how many entries one chunk holds (about 2 MB at
	// dimension 512); snapshotTxChunks how many chunks one transaction
	// writes, so that a snapshot never holds the writer long.
	snapshotChunk    = 1024
	snapshotTxChunks = 4
)

// vecWrites is one tenant's write bookkeeping; guarded by vectors.mu.
type vecWrites struct {
	begun    uint64 // writes begun
	inflight int    // writes begun and not ended
	dirty    int    // index changes since the last snapshot or load
	saving   bool   // a background snapshot write runs
	// graphs counts the graphs the tenant's index built since its load;
	// graphSaved is the count the last snapshot holds the graph of. A graph
	// built and not snapshotted makes a snapshot due.
	graphs, graphSaved uint64
}

func (v *vectors) state(tenantID string) *vecWrites {
	w := v.writes[tenantID]
	if w == nil {
		w = &vecWrites{}
		v.writes[tenantID] = w
	}
	return w
}

// vecWrite notes a write that may change tenantID's index (or drop it)
// beginning; the returned function, deferred by the caller, notes it
// ended, once its index changes are applied. A due snapshot is started
// when the last write in flight ends.
func (e *Engine) vecWrite(tenantID string) (end func()) {
	if e.vec == nil {
		return func() {}
	}
	v := e.vec
	v.mu.Lock()
	w := v.state(tenantID)
	w.begun++
	w.inflight++
	v.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			w.inflight--
			e.maybeSnapshotLocked(tenantID)
		})
	}
}

// changed counts an index change; called with vectors.mu held.
func (v *vectors) changed(tenantID string) { v.state(tenantID).dirty++ }

// loaded notes a completed load: from a snapshot, only the writes replayed
// after it differ from it; from the memories, everything does.
func (v *vectors) loaded(tenantID string, fromSnapshot bool, replayed int) {
	w := v.state(tenantID)
	if fromSnapshot {
		w.dirty = replayed
	} else {
		w.dirty = max(w.dirty, 1<<30)
	}
}

// graphBuilt notes that the tenant's index built a graph, which a
// snapshot should hold (the vector package calls it when the build ends).
func (e *Engine) graphBuilt(tenantID string) {
	v := e.vec
	v.mu.Lock()
	defer v.mu.Unlock()
	if w := v.writes[tenantID]; w != nil {
		w.graphs++
		e.maybeSnapshotLocked(tenantID)
	}
}

// maybeSnapshotLocked starts a background snapshot of the tenant's index
// when one is due and no write is in flight. Called with vectors.mu held.
func (e *Engine) maybeSnapshotLocked(tenantID string) {
	v := e.vec
	w := v.writes[tenantID]
	if w == nil || w.inflight > 0 || w.saving || (w.dirty == 0 && w.graphs == w.graphSaved) || v.snapMin <= 0 {
		return
	}
	idx, ok := v.mgr.Peek(tenantID)
	if !ok || idx.Len() < v.snapMin {
		return
	}
	if w.dirty < max(snapshotEvery, idx.Len()/10) && (w.graphs == w.graphSaved || !idx.Stats().Approximate) {
		return
	}
	e.saveInBackground(&v.saves, &v.mu, &w.saving, tenantID, "index snapshot", e.saveVectorSnapshot)
}

// SaveIndexSnapshots writes a snapshot of every loaded vector index that
// changed since its last one (serve calls it at shutdown), after waiting
// for the snapshots being written in the background. A tenant with a write
// in flight is skipped.
func (e *Engine) SaveIndexSnapshots(ctx context.Context) error {
	kwErr := e.saveKeywordSnapshots(ctx)
	if e.vec == nil {
		return kwErr
	}
	v := e.vec
	v.saves.Wait()
	v.mu.Lock()
	var due []string
	for id, w := range v.writes {
		if (w.dirty > 0 || w.graphs != w.graphSaved) && !w.saving {
			w.saving = true // no background write of the same tenant meanwhile
			due = append(due, id)
		}
	}
	v.mu.Unlock()
	err := saveDue(ctx, &v.mu, due, e.saveVectorSnapshot, func(id string) { v.writes[id].saving = false })
	return errors.Join(err, kwErr)
}

// saveVectorSnapshot writes the tenant's loaded index as its snapshot, if
// the index is loaded, large enough, and a quiet point can be had (see
// the top of this file); otherwise it does nothing.
func (e *Engine) saveVectorSnapshot(ctx context.Context, tenantID string) error {
	v := e.vec
	v.mu.Lock()
	w := v.state(tenantID)
	tv := v.tenants[tenantID]
	idx, ok := v.mgr.Peek(tenantID)
	if !ok || tv == nil || w.inflight > 0 || v.snapMin <= 0 || idx.Len() < v.snapMin {
		v.mu.Unlock()
		return nil
	}
	begun, epoch, graphs := w.begun, v.epochs[tenantID], w.graphs
	v.mu.Unlock()

	// The count the copy is taken at: the index caught up with the store
	// (other processes' writes included), not merely the store's count.
	if err := e.catchUp(ctx, tenantID, idx, tv); err != nil {
		if errors.Is(err, vector.ErrDropped) {
			return nil
		}
		return err
	}
	gen := tv.gen.Load()
	quiet := func() bool {
		cur, ok := v.mgr.Peek(tenantID)
		return ok && cur == idx && v.tenants[tenantID] == tv && w.inflight == 0 && w.begun == begun && v.epochs[tenantID] == epoch &&
			tv.gen.Load() == gen
	}
	v.mu.Lock()
	if !quiet() {
		v.mu.Unlock()
		return nil
	}
	v.mu.Unlock()

	// Copy the index, grouped by key subject. No write may begin meanwhile
	// (checked again below), so the copy is the index at gen.
	bySubject := map[string][]snapshot.Entry{}
	tv.mu.RLock()
	loading := tv.loading != nil
	for id, m := range tv.meta {
		vec, ok := idx.Vector(id)
		if !ok {
			continue
		}
		bySubject[m.subject] = append(bySubject[m.subject], snapshot.Entry{ID: id, UserID: m.scope.UserID,
			AgentID: m.scope.AgentID, RunID: m.scope.RunID, AuthorID: m.rec.AuthorID, Private: m.rec.Private,
			Created: m.created, Vector: vec})
	}
	tv.mu.RUnlock()

	subjects := make([]string, 0, len(bySubject))
	entries := 0
	for s, es := range bySubject {
		subjects = append(subjects, s)
		entries += len(es)
		slices.SortFunc(es, func(a, b snapshot.Entry) int { return cmpString(a.ID, b.ID) })
	}
	slices.Sort(subjects)
	// The graph, with its nodes in the order of the entries: nil when the
	// index serves none (still exact, or its first graph is being built).
	order := make([]string, 0, entries)
	for _, s := range subjects {
		for i := range bySubject[s] {
			order = append(order, bySubject[s][i].ID)
		}
	}
	graph := idx.EncodeGraph(order)
	defer clear(graph)
	v.mu.Lock()
	ok = quiet() && !loading
	v.mu.Unlock()
	if !ok {
		return nil
	}
	total := 0
	for _, s := range subjects {
		total += (len(bySubject[s]) + snapshotChunk - 1) / snapshotChunk
	}
	model, dim := v.emb.Model(), v.emb.Dim()
	sw := e.newSnapshotWriter(ctx, tenantID, snapshot.KindVectors, model, gen, total)
	var graphKey seal.Key
	for _, s := range subjects {
		k, err := e.snapshotKey(ctx, tenantID, s)
		if err != nil {
			return err
		}
		if s == subjects[0] {
			graphKey = k
		}
		es := bySubject[s]
		for len(es) > 0 {
			part := es[:min(snapshotChunk, len(es))]
			es = es[len(part):]
			pt, err := snapshot.Encode(dim, part)
			if err != nil {
				return err
			}
			for i := range part {
				clear(part[i].Vector)
			}
			if err := sw.add(k, s, pt); err != nil {
				return err
			}
		}
	}
	if graph != nil {
		// Sealed under the first subject's key: destroying any subject
		// key deletes the tenant's snapshots, this chunk with them.
		if err := sw.addCompanion(snapshot.KindGraph, graphKey, subjects[0], graph); err != nil {
			return err
		}
	}
	// Changed while being written (an erasure among others): never
	// committed, and whatever was written of it goes. Without a graph, a
	// previous snapshot's graph goes too.
	if committed, err := sw.commit(entries, snapshot.KindGraph); err != nil || !committed {
		return err
	}
	v.mu.Lock()
	if w.begun == begun {
		w.dirty = 0
	}
	if w.graphSaved < graphs {
		// With the graph, or without it when it did not fit the entries:
		// another snapshot would not have it either.
		w.graphSaved = graphs
	}
	v.mu.Unlock()
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// snapshotKey is the newest key of a subject, without creating one (a
// subject with no key has nothing to snapshot: it was erased meanwhile).
func (e *Engine) snapshotKey(ctx context.Context, tenantID, subject string) (seal.Key, error) {
	var w *store.WrappedKey
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.LatestKey(ctx, tenantID, keys.PurposeSubject, subject)
		return err
	}); err != nil {
		return seal.Key{}, fmt.Errorf("snapshot key: %w", err)
	}
	return e.ring.SubjectKey(ctx, tenantID, subject, w.Version)
}

// loadVectorSnapshot fills a loading index from the tenant's snapshot, if
// it has one of the current model taken at the store's current change
// count or at one the change log replays from (readSnapshot; *gen is then
// set to the snapshot's count, so the first catch-up replays the rest). It returns false, having added nothing, when there is none or it
// does not open (a key destroyed, a chunk missing or altered): the caller
// then loads from the memories. Every chunk is opened before anything is
// added. The snapshot's graph, when it has one that opens and fits, is
// installed over the vectors; otherwise the index builds its own, as after
// a load from the memories. The entries' metadata go to a new map in
// *metap.
func (e *Engine) loadVectorSnapshot(ctx context.Context, tenantID string, f *vector.Fill, metap *map[string]docMeta, gen *int64) (bool, error) {
	if e.vec.snapMin <= 0 {
		return false, nil
	}
	model, dim := e.vec.emb.Model(), e.vec.emb.Dim()
	// A chunk is opened and decoded as soon as it is read, on its own
	// goroutine, while the read goes on: reading (the SQLite driver's
	// copies) and opening take about as long each. Not limited to the
	// cores: a goroutine waiting for one would hold the read transaction's
	// connection, and the keys' first reads need connections of their own.
	type part struct {
		sealedChunk
		pt []byte // the plaintext, which the entries' vectors point into
		es []snapshot.Entry
	}
	var (
		parts []*part
		graph *part // the graph's chunk, if the snapshot has one
		g     errgroup.Group
	)
	defer func() {
		for _, p := range parts {
			clear(p.pt)
		}
		if graph != nil {
			clear(graph.pt)
		}
	}()
	var keyMu sync.Mutex
	keyOf := map[string]seal.Key{}
	key := func(subject string, version int) (seal.Key, error) {
		name := fmt.Sprintf("%s\x00%d", subject, version)
		keyMu.Lock()
		k, ok := keyOf[name]
		keyMu.Unlock()
		if ok {
			return k, nil
		}
		k, err := e.ring.SubjectKey(ctx, tenantID, subject, version)
		if err != nil {
			return seal.Key{}, err
		}
		keyMu.Lock()
		keyOf[name] = k
		keyMu.Unlock()
		return k, nil
	}
	open := func(h *store.IndexSnapshot, p *part) error {
		k, err := key(p.subject, p.version)
		if err != nil {
			return err
		}
		pt, err := seal.Open(k, p.context(h), p.body)
		if err != nil {
			return &unreadable{fmt.Errorf("open snapshot chunk %d: %w", p.seq, err)}
		}
		p.pt, p.body = pt, nil // the ciphertext is not needed any more
		es := make([]snapshot.Entry, 0, snapshotChunk)
		if err := snapshot.Decode(pt, dim, func(en *snapshot.Entry) error {
			es = append(es, *en)
			return nil
		}); err != nil {
			return &unreadable{fmt.Errorf("decode snapshot chunk %d: %w", p.seq, err)}
		}
		p.es = es
		return nil
	}
	var graphErr error // why the graph did not open, if it did not
	openGraph := func(h *store.IndexSnapshot) error {
		k, err := key(graph.subject, graph.version)
		if err != nil {
			graphErr = err
			return nil // the vectors may still open
		}
		graph.pt, graphErr = seal.Open(k, graph.context(h), graph.body)
		graph.body = nil
		return nil
	}
	hdr, complete, err := e.readSnapshot(ctx, tenantID, snapshot.KindVectors, model, snapshot.KindGraph, func(h *store.IndexSnapshot, c *sealedChunk) {
		p := &part{sealedChunk: *c}
		if c.kind == snapshot.KindGraph {
			graph = p
			g.Go(func() error { return openGraph(h) })
			return
		}
		parts = append(parts, p)
		g.Go(func() error { return open(h, p) })
	})
	werr := g.Wait()
	if err != nil || hdr == nil {
		return false, err
	}
	if werr != nil {
		if isUnreadable(werr) || errors.Is(werr, keys.ErrSubjectKeyGone) {
			e.logger().Warn("index snapshot not used; loading from the memories", "component", "engine", "tenant_id", tenantID, "error", werr)
			return false, nil
		}
		return false, keyFailure(werr)
	}
	if !complete {
		return false, nil
	}
	f.Reserve(hdr.Entries)
	meta := make(map[string]docMeta, hdr.Entries)
	*metap = meta
	for _, p := range parts {
		for j := range p.es {
			en := &p.es[j]
			meta[en.ID] = docMeta{subject: p.subject, scope: engram.Scope{UserID: en.UserID, AgentID: en.AgentID, RunID: en.RunID},
				created: en.Created, rec: rbac.Record{AuthorID: en.AuthorID, Private: en.Private}}
			if err := f.Add(en.ID, en.Vector); err != nil {
				return false, err
			}
		}
	}
	e.vec.snapLoads.Add(1)
	*gen = hdr.Gen // the count the index reflects: catch-up replays the rest
	if graph == nil {
		return true, nil
	}
	if graphErr == nil {
		graphErr = f.Graph(graph.pt)
	}
	if graphErr != nil {
		if errors.Is(graphErr, vector.ErrClosed) {
			return false, vector.ErrDropped
		}
		// The vectors are current; the index builds its graph instead.
		e.logger().Warn("index snapshot graph not used; building the graph", "component", "engine", "tenant_id", tenantID, "error", graphErr)
		return true, nil
	}
	e.vec.graphLoads.Add(1)
	return true, nil
}
