package storetest

import (
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// testIndexChanges covers the change log behind IndexGeneration: every
// insert, update and deletion of a memory is there with its id, the
// destruction of a subject key is flagged, tenants are apart, a count the
// tenant never had and a pruned log are incomplete.
func testIndexChanges(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	changes := func(tenantID string, after int64) *store.IndexChanges {
		t.Helper()
		return mustGet(f, func(tx store.Tx) (*store.IndexChanges, error) { return tx.IndexChanges(f.ctx, tenantID, after) })
	}
	c := changes(a, 0)
	if c.Gen != 0 || !c.Complete || len(c.IDs) != 0 || c.Shredded {
		t.Fatalf("a new tenant's changes: %+v", c)
	}
	m1, m2, m3 := memory(a, engram.Scope{UserID: "u"}, 1), memory(a, engram.Scope{UserID: "u"}, 2), memory(a, engram.Scope{}, 3)
	f.insert(nil, m1, m2)
	g0 := changes(a, 0).Gen
	f.insert(nil, m3)
	f.insert(nil, memory(b, engram.Scope{}, 4))
	m1.Content = sealed("new content")
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateMemory(f.ctx, m1, nil) })
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m2.ID) })

	c = changes(a, g0)
	gen := mustGet(f, func(tx store.Tx) (int64, error) { return tx.IndexGeneration(f.ctx, a) })
	if c.Gen != gen || !c.Complete || c.Shredded {
		t.Errorf("changes after %d: gen %d complete %v shredded %v, want gen %d, complete", g0, c.Gen, c.Complete, c.Shredded, gen)
	}
	slices.Sort(c.IDs)
	want := []string{m1.ID, m2.ID, m3.ID}
	slices.Sort(want)
	if !slices.Equal(c.IDs, want) {
		t.Errorf("changed ids %v, want %v (each once)", c.IDs, want)
	}
	if c := changes(a, gen); !c.Complete || len(c.IDs) != 0 || c.Gen != gen {
		t.Errorf("changes after the current count: %+v", c)
	}
	if c := changes(a, gen+5); c.Complete {
		t.Errorf("changes after a count the tenant never had: complete")
	}
	if c := changes(b, 0); !c.Complete || len(c.IDs) != 1 || slices.Contains(c.IDs, m3.ID) {
		t.Errorf("the other tenant's changes: %+v", c)
	}

	// Destroying a subject key is flagged.
	k := wrappedKey(a, "subject", "u", 1)
	f.putKeys(k)
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteKey(f.ctx, a, "subject", "u", 1) })
	if c := changes(a, gen); !c.Complete || !c.Shredded || len(c.IDs) != 0 {
		t.Errorf("changes after a key destruction: %+v", c)
	}

	// Only the last IndexChangeLog entries are kept.
	gen = changes(a, 0).Gen
	f.mustWrite(func(tx store.Tx) error {
		for i := range store.IndexChangeLog + 1 {
			if err := tx.InsertMemory(f.ctx, memory(a, engram.Scope{}, 100+i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if c := changes(a, gen); c.Complete {
		t.Errorf("changes past the log's length: complete")
	}
	if c := changes(a, gen+1); !c.Complete || len(c.IDs) != store.IndexChangeLog {
		t.Errorf("the last %d changes: complete %v, %d ids", store.IndexChangeLog, c.Complete, len(c.IDs))
	}
}

// testDocPostingsOf: the given memories as DocPostings returns them,
// missing ones and other tenants' left out.
func testDocPostingsOf(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	m1, m2 := memory(a, engram.Scope{UserID: "u", AgentID: "g"}, 1), memory(a, engram.Scope{RunID: "r"}, 2)
	m2.Private, m2.AuthorID = true, f.account(a)
	f.insert([]store.Posting{posting("river", 2), posting("dawn", 1)}, m1, m2)
	other := memory(b, engram.Scope{}, 3)
	f.insert([]store.Posting{posting("river", 1)}, other)
	all := mustGet(f, func(tx store.Tx) ([]store.DocPostings, error) { return tx.DocPostings(f.ctx, a, "", 10) })
	got := mustGet(f, func(tx store.Tx) ([]store.DocPostings, error) {
		return tx.DocPostingsOf(f.ctx, a, []string{m2.ID, "missing", other.ID, m1.ID})
	})
	if len(got) != 2 || len(all) != 2 {
		t.Fatalf("DocPostingsOf returned %d, DocPostings %d, want 2", len(got), len(all))
	}
	byID := map[string]store.DocPostings{}
	for _, d := range got {
		slices.SortFunc(d.Postings, func(x, y store.Posting) int { return slices.Compare(x.Token, y.Token) })
		byID[d.MemoryID] = d
	}
	for _, d := range all {
		slices.SortFunc(d.Postings, func(x, y store.Posting) int { return slices.Compare(x.Token, y.Token) })
		g := byID[d.MemoryID]
		same := g.Scope == d.Scope && g.AuthorID == d.AuthorID && g.Private == d.Private && g.DocLen == d.DocLen &&
			slices.EqualFunc(g.Postings, d.Postings, func(x, y store.Posting) bool { return slices.Equal(x.Token, y.Token) && x.TF == y.TF })
		if !same || len(d.Postings) != 2 {
			t.Errorf("DocPostingsOf %s = %+v, DocPostings has %+v", d.MemoryID, g, d)
		}
	}
}
