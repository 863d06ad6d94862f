package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
	"github.com/engram-memory/engram/internal/testserver"
)

// kwWords is a small vocabulary with a skewed distribution, so that some
// tokens are in many memories and others in few, as in real text.
var kwWords = []string{"coffee", "paris", "dog", "meeting", "guitar", "birthday", "sister", "hiking",
	"painting", "camping", "novel", "piano", "garden", "marathon", "beach", "museum"}

func kwText(i int) string {
	var b []string
	for j := range 3 + i%7 {
		b = append(b, kwWords[(i*(j+1)+j*j)%(1+(i+j)%len(kwWords))])
	}
	return fmt.Sprintf("%s note %d", joinWords(b), i)
}

func joinWords(w []string) string {
	s := ""
	for i, x := range w {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

var kwScopes = []engram.Scope{
	{UserID: "u1"}, {UserID: "u1", AgentID: "a1"}, {UserID: "u2", AgentID: "a1", RunID: "r1"},
	{UserID: "u2"}, {AgentID: "a2"}, {},
}

var kwQueries = []string{"coffee paris", "dog", "meeting sister birthday", "guitar piano novel",
	"hiking camping beach", "museum", "note", "garden marathon painting coffee"}

var kwSearchScopes = []engram.Scope{
	{}, {UserID: "u1"}, {UserID: "u2"}, {AgentID: "a1"}, {UserID: "u1", AgentID: "a1"},
	{RunID: "r1"}, {AgentID: "a2"}, {UserID: "nobody"},
}

// kwCorpus writes n memories across kwScopes and returns their ids.
func kwCorpus(t *testing.T, ctx context.Context, e *engine.Engine, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += 10 {
		var msgs []engram.Message
		for j := i; j < min(i+10, n); j++ {
			msgs = append(msgs, engram.Message{Role: "user", Content: kwText(j)})
		}
		res, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: kwScopes[(i/10)%len(kwScopes)]})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// bm25 runs one keyword search and renders its ranking: ids and exact
// scores.
func bm25(t *testing.T, ctx context.Context, e *engine.Engine, q string, scope engram.Scope) []string {
	t.Helper()
	none := 0.0
	hits, err := e.Search(ctx, engram.SearchRequest{Query: q, Scope: scope, Mode: engram.SearchBM25, Limit: engram.MaxSearchLimit,
		Explain: true, Threshold: &none})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		// %b: every bit of the float; the score holds the query's weight
		// in the scope too, so both paths must count document
		// frequencies alike.
		out[i] = fmt.Sprintf("%s %b %b", h.ID, h.Explain.BM25, h.Score)
	}
	return out
}

// sameAsStore checks that every query in every scope ranks identically,
// scores bit for bit, through the in-memory index and through the store,
// and that the in-memory index was the one used.
func sameAsStore(t *testing.T, ctx context.Context, e *engine.Engine, tenantID string) {
	t.Helper()
	for _, q := range kwQueries {
		for _, s := range kwSearchScopes {
			mem := bm25(t, ctx, e, q, s)
			if engine.KeywordIndexed(e, tenantID) < 0 {
				t.Fatalf("%q in %+v: the keyword index is not loaded", q, s)
			}
			var st []string
			engine.WithoutKeywordIndex(e, func() { st = bm25(t, ctx, e, q, s) })
			if !slices.Equal(mem, st) {
				t.Fatalf("%q in %+v:\nin memory %v\nstore     %v", q, s, mem, st)
			}
		}
	}
}

// TestKeywordIndexMatchesStore: the in-memory index ranks exactly as the
// store path, scores bit for bit, in every scope.
func TestKeywordIndexMatchesStore(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	nt, ctx := owner(t, e)
	kwCorpus(t, ctx, e, 300)
	sameAsStore(t, ctx, e, nt.Tenant.ID)
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n != 300 {
		t.Fatalf("index holds %d memories, want 300", n)
	}
}

// TestKeywordIndexWritesTakeEffect: add, update, delete, erasure of a user
// and of the tenant are seen by the very next search, and the rankings
// stay identical to the store's.
func TestKeywordIndexWritesTakeEffect(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	nt, ctx := owner(t, e)
	tid := nt.Tenant.ID
	ids := kwCorpus(t, ctx, e, 120)
	bm25(t, ctx, e, "coffee", engram.Scope{}) // loads
	if engine.KeywordIndexed(e, tid) != 120 {
		t.Fatal("index not loaded")
	}
	has := func(q, id string, scope engram.Scope) bool {
		for _, h := range bm25(t, ctx, e, q, scope) {
			if h[:len(id)] == id {
				return true
			}
		}
		return false
	}

	res, err := e.Add(ctx, engram.AddRequest{Content: "zeppelin over paris", Scope: engram.Scope{UserID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	added := res[0].ID
	if !has("zeppelin", added, engram.Scope{UserID: "u1"}) || has("zeppelin", added, engram.Scope{UserID: "u2"}) {
		t.Fatal("added memory not found in its scope only")
	}
	if _, err := e.Update(ctx, added, engram.UpdateRequest{Content: "submarine under london"}); err != nil {
		t.Fatal(err)
	}
	if has("zeppelin", added, engram.Scope{}) || !has("submarine", added, engram.Scope{}) {
		t.Fatal("update not seen")
	}
	if err := e.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if has("note", ids[0], engram.Scope{}) {
		t.Fatal("deleted memory still found")
	}
	sameAsStore(t, ctx, e, tid)

	if _, err := e.ForgetUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if engine.KeywordIndexed(e, tid) != -1 {
		t.Fatal("erasing a user left the keyword index in memory")
	}
	if hits := bm25(t, ctx, e, "note submarine", engram.Scope{UserID: "u1"}); len(hits) != 0 {
		t.Fatalf("erased user's memories found: %d", len(hits))
	}
	sameAsStore(t, ctx, e, tid)

	bm25(t, ctx, e, "note", engram.Scope{})
	if _, err := e.ForgetTenant(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if engine.KeywordIndexed(e, tid) != -1 {
		t.Fatal("erasing the tenant left its keyword index in memory")
	}
}

// TestKeywordIndexEviction: under a budget for one tenant, searching a
// second evicts the first; the first reloads on its next search and ranks
// as before. A tenant larger than the whole budget is searched in the
// store.
func TestKeywordIndexEviction(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	a, actx := owner(t, e)
	kwCorpus(t, actx, e, 100)
	ctx := context.Background()
	nb, err := e.CreateTenant(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := e.Authenticate(ctx, nb.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	bctx := engram.WithPrincipal(ctx, pb)
	kwCorpus(t, bctx, e, 100)

	before := bm25(t, actx, e, "coffee dog", engram.Scope{})
	size := engine.KeywordBytes(e, a.Tenant.ID)
	if size <= 0 {
		t.Fatal("tenant a not loaded")
	}
	engine.SetKeywordBudget(e, size+size/2)
	bm25(t, actx, e, "coffee dog", engram.Scope{})
	bm25(t, bctx, e, "coffee dog", engram.Scope{})
	if engine.KeywordIndexed(e, a.Tenant.ID) != -1 || engine.KeywordIndexed(e, nb.Tenant.ID) != 100 {
		t.Fatal("loading tenant b did not evict tenant a")
	}
	if again := bm25(t, actx, e, "coffee dog", engram.Scope{}); !slices.Equal(again, before) {
		t.Fatalf("after reload:\n%v\nwant\n%v", again, before)
	}
	if engine.KeywordIndexed(e, a.Tenant.ID) != 100 || engine.KeywordIndexed(e, nb.Tenant.ID) != -1 {
		t.Fatal("reloading tenant a did not evict tenant b")
	}

	engine.SetKeywordBudget(e, 1)
	if got := bm25(t, actx, e, "coffee dog", engram.Scope{}); !slices.Equal(got, before) {
		t.Fatalf("over budget:\n%v\nwant\n%v", got, before)
	}
	if engine.KeywordIndexed(e, a.Tenant.ID) != -1 {
		t.Fatal("a tenant over the budget was kept")
	}
}

// TestKeywordIndexOtherProcess: writes by another engine on the same
// database (an offline CLI command beside serve) are seen: the index is
// found stale by its statistics, dropped and reloaded.
func TestKeywordIndexOtherProcess(t *testing.T) {
	e, dir := testserver.NewEngine(t)
	nt, ctx := owner(t, e)
	ids := kwCorpus(t, ctx, e, 60)
	bm25(t, ctx, e, "note", engram.Scope{})

	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other := engine.New(db, keys.New(db, k, nil), nil)
	p, err := other.Authenticate(context.Background(), nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	octx := engram.WithPrincipal(context.Background(), p)

	if err := other.Delete(octx, ids[5]); err != nil {
		t.Fatal(err)
	}
	res, err := other.Add(octx, engram.AddRequest{Content: "xylophone recital", Scope: engram.Scope{UserID: "u2"}})
	if err != nil {
		t.Fatal(err)
	}
	if hits := bm25(t, ctx, e, "xylophone", engram.Scope{}); len(hits) != 1 || hits[0][:len(res[0].ID)] != res[0].ID {
		t.Fatalf("memory added by another process not found: %v", hits)
	}
	for _, h := range bm25(t, ctx, e, "note", engram.Scope{}) {
		if h[:len(ids[5])] == ids[5] {
			t.Fatal("memory deleted by another process found")
		}
	}
	sameAsStore(t, ctx, e, nt.Tenant.ID)
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n != 60 {
		t.Fatalf("reloaded index holds %d memories, want 60", n)
	}

	if _, err := other.ForgetTenant(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	// Whether this search errs (the tenant is gone) or answers, it must
	// leave no index of the erased tenant behind.
	_, _ = e.Search(ctx, engram.SearchRequest{Query: "note", Mode: engram.SearchBM25})
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n > 0 {
		t.Fatalf("index of a tenant erased by another process still holds %d memories", n)
	}
}

// TestKeywordIndexConcurrent: searches beside adds, updates and deletes
// (run with -race); afterwards the index agrees with the store exactly.
func TestKeywordIndexConcurrent(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	nt, ctx := owner(t, e)
	ids := kwCorpus(t, ctx, e, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				n := 1000 + w*100 + i
				res, err := e.Add(ctx, engram.AddRequest{Content: kwText(n), Scope: kwScopes[n%len(kwScopes)]})
				if err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					if _, err := e.Update(ctx, res[0].ID, engram.UpdateRequest{Content: kwText(n + 7)}); err != nil {
						errs <- err
						return
					}
				}
				if i%4 == 0 {
					if err := e.Delete(ctx, ids[w*20+i]); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for s := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				q := kwQueries[(s+i)%len(kwQueries)]
				if _, err := e.Search(ctx, engram.SearchRequest{Query: q, Scope: kwSearchScopes[i%len(kwSearchScopes)], Mode: engram.SearchBM25}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sameAsStore(t, ctx, e, nt.Tenant.ID)
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n != 100+60-15 {
		t.Fatalf("index holds %d memories, want %d", n, 100+60-15)
	}
}

// hookStore runs hook (once) when a keyword index load reads its first
// page, before the read: writes made there commit while the index loads.
type hookStore struct {
	store.Store
	once sync.Once
	hook func()
}

func (s *hookStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Read(ctx, func(tx store.Tx) error { return fn(&hookTx{Tx: tx, s: s}) })
}

type hookTx struct {
	store.Tx
	s *hookStore
}

func (t *hookTx) DocPostings(ctx context.Context, tenantID, after string, limit int) ([]store.DocPostings, error) {
	t.s.once.Do(func() {
		if t.s.hook != nil {
			t.s.hook()
		}
	})
	return t.Tx.DocPostings(ctx, tenantID, after, limit)
}

// TestKeywordIndexWritesDuringLoad: an add, an update and a delete that
// commit while the tenant's index loads are replayed after the load.
func TestKeywordIndexWritesDuringLoad(t *testing.T) {
	dir := t.TempDir()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hs := &hookStore{Store: db}
	e := engine.New(hs, keys.New(db, k, nil), nil)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nt, ctx := owner(t, e)
	ids := kwCorpus(t, ctx, e, 50)
	var added string
	hs.hook = func() {
		res, err := e.Add(ctx, engram.AddRequest{Content: "zeppelin over paris", Scope: engram.Scope{UserID: "u2"}})
		if err != nil {
			t.Error(err)
			return
		}
		added = res[0].ID
		if _, err := e.Update(ctx, ids[1], engram.UpdateRequest{Content: "submarine under london"}); err != nil {
			t.Error(err)
		}
		if err := e.Delete(ctx, ids[2]); err != nil {
			t.Error(err)
		}
	}
	bm25(t, ctx, e, "note", engram.Scope{}) // loads, running the hook
	if added == "" {
		t.Fatal("the hook did not run")
	}
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n != 50 {
		t.Fatalf("index holds %d memories, want 50", n)
	}
	for q, want := range map[string]string{"zeppelin": added, "submarine": ids[1]} {
		if hits := bm25(t, ctx, e, q, engram.Scope{}); len(hits) != 1 || hits[0][:len(want)] != want {
			t.Errorf("%s: %v, want %s", q, hits, want)
		}
	}
	for _, h := range bm25(t, ctx, e, "note", engram.Scope{}) {
		if h[:len(ids[2])] == ids[2] {
			t.Error("memory deleted during the load found")
		}
	}
	sameAsStore(t, ctx, e, nt.Tenant.ID)
}

// TestKeywordIndexLoadsInBackground: a large tenant's first keyword search
// does not wait for its index: it reads the store, with the same ranking,
// and the index is loaded beside it (writes during the load included).
func TestKeywordIndexLoadsInBackground(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	engine.SetKeywordAsyncMin(e, 40)
	nt, ctx := owner(t, e)
	kwCorpus(t, ctx, e, 50)
	var st []string
	engine.WithoutKeywordIndex(e, func() { st = bm25(t, ctx, e, "note", engram.Scope{}) })
	if got := bm25(t, ctx, e, "note", engram.Scope{}); !slices.Equal(got, st) {
		t.Fatalf("first search:\n got %v\nstore %v", got, st)
	}
	res, err := e.Add(ctx, engram.AddRequest{Content: "zeppelin over paris", Scope: engram.Scope{UserID: "u2"}})
	if err != nil {
		t.Fatal(err)
	}
	engine.WaitKeywordLoads(e)
	if n := engine.KeywordIndexed(e, nt.Tenant.ID); n != 51 {
		t.Fatalf("index holds %d memories, want 51", n)
	}
	if hits := bm25(t, ctx, e, "zeppelin", engram.Scope{}); len(hits) != 1 || hits[0][:len(res[0].ID)] != res[0].ID {
		t.Fatalf("zeppelin: %v, want %s", hits, res[0].ID)
	}
	sameAsStore(t, ctx, e, nt.Tenant.ID)
}
