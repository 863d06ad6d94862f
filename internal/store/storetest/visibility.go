package storetest

import (
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// visibilityTests join Run's list (one added line there).
var visibilityTests = []struct {
	name string
	fn   func(*fx)
}{
	{"VisibilityRoundTrip", testVisibilityRoundTrip},
	{"VisibleMemories", testVisibleMemories},
	{"MemoryByMACAs", testMemoryByMACAs},
}

// testVisibilityRoundTrip: author and visibility are stored, returned by
// every read of a memory, kept by history, and UpdateMemory changes the
// visibility (never the author).
func testVisibilityRoundTrip(f *fx) {
	t := f.t
	a := f.tenant()
	m := memory(a, engram.Scope{UserID: "u1"}, 1)
	m.AuthorID, m.Private = "acct-1", true
	old := memory(a, engram.Scope{UserID: "u1"}, 2) // written before accounts
	f.insert([]store.Posting{posting("w", 1)}, m, old)
	got, err := f.memory(a, m.ID)
	if err != nil || got.AuthorID != "acct-1" || !got.Private {
		t.Fatalf("Memory = %+v, %v; want author acct-1, private", got, err)
	}
	got, err = f.memory(a, old.ID)
	if err != nil || got.AuthorID != "" || got.Private {
		t.Fatalf("memory without author = %+v, %v; want shared, no author", got, err)
	}
	docs := mustGet(f, func(tx store.Tx) ([]store.DocPostings, error) { return tx.DocPostings(f.ctx, a, "", 10) })
	for _, d := range docs {
		if want := d.MemoryID == m.ID; d.Private != want || (d.AuthorID == "acct-1") != want {
			t.Errorf("DocPostings %s: author %q private %v", d.MemoryID, d.AuthorID, d.Private)
		}
	}
	m.Private, m.AuthorID = false, "someone else"
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateMemory(f.ctx, m, nil) })
	if got, _ = f.memory(a, m.ID); got.Private || got.AuthorID != "acct-1" {
		t.Errorf("after UpdateMemory: author %q private %v; want acct-1, shared", got.AuthorID, got.Private)
	}
	h := &store.History{ID: newID(), TenantID: a, MemoryID: m.ID, Subject: "tenant", KeyVersion: 1, Event: "ADD",
		CreatedAt: at(1), AuthorID: "acct-1", Private: true}
	f.mustWrite(func(tx store.Tx) error { return tx.InsertHistory(f.ctx, h) })
	hs := mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, a, m.ID) })
	if len(hs) != 1 || hs[0].AuthorID != "acct-1" || !hs[0].Private {
		t.Errorf("History = %+v; want author acct-1, private", hs)
	}
}

// testVisibleMemories: for every filter, ListVisibleMemories and
// SearchVisiblePostings return exactly the memories rbac.Allows lets the
// actor read, pages are full, and the search's statistics are the
// scope's whoever asks.
func testVisibleMemories(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var all []*store.Memory
	for i, author := range []string{"", "acct-1", "acct-2", "acct-1", "acct-2", "", "acct-1", "acct-2"} {
		for _, private := range []bool{false, true} {
			if author == "" && private {
				continue // a private memory always has an author
			}
			m := memory(a, engram.Scope{UserID: "u1"}, len(all))
			m.AuthorID, m.Private = author, private
			if i%2 == 1 {
				m.UserID = "u2"
			}
			all = append(all, m)
		}
	}
	f.insert([]store.Posting{posting("w", 1)}, all...)
	other := memory(b, engram.Scope{UserID: "u1"}, 0)
	other.AuthorID = "acct-1"
	f.insert([]store.Posting{posting("w", 1)}, other)

	filters := []rbac.Filter{
		{Reach: rbac.Any}, {Reach: rbac.Shared, AuthorID: "acct-1"}, {Reach: rbac.Own, AuthorID: "acct-1"},
		{Reach: rbac.Shared, AuthorID: "acct-3"}, {Reach: rbac.Own, AuthorID: "acct-3"}, {Reach: rbac.Shared}, {Reach: rbac.Own},
		{Reach: rbac.No, AuthorID: "acct-1"},
	}
	full := f.search(a, engram.Scope{UserID: "u1"}, "w")
	for _, fl := range filters {
		for _, scope := range []engram.Scope{{}, {UserID: "u1"}} {
			var want []string
			for _, m := range all {
				if fl.Match(store.RecordOf(m)) && (scope.UserID == "" || m.UserID == scope.UserID) {
					want = append(want, m.ID)
				}
			}
			slices.Sort(want)
			slices.Reverse(want)
			// In pages of 2: each page but the last is full.
			var got []string
			before := ""
			for {
				page := mustGet(f, func(tx store.Tx) ([]store.Memory, error) {
					return tx.ListVisibleMemories(f.ctx, a, scope, fl, before, 2)
				})
				for _, m := range page {
					got = append(got, m.ID)
				}
				if len(page) < 2 {
					break
				}
				before = page[1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListVisibleMemories(%+v, %+v) = %q, want %q", fl, scope, got, want)
			}
			p := mustGet(f, func(tx store.Tx) (*store.Postings, error) {
				return tx.SearchVisiblePostings(f.ctx, a, scope, fl, [][]byte{tok("w")})
			})
			var matched []string
			for _, mt := range p.Matches {
				matched = append(matched, mt.MemoryID)
			}
			slices.Sort(matched)
			slices.Reverse(matched)
			if !slices.Equal(matched, want) {
				t.Errorf("SearchVisiblePostings(%+v, %+v) matched %q, want %q", fl, scope, matched, want)
			}
			if scope.UserID == "u1" && (p.Docs != full.Docs || p.TotalLen != full.TotalLen) {
				t.Errorf("SearchVisiblePostings(%+v) statistics %d/%d, want the scope's %d/%d", fl, p.Docs, p.TotalLen, full.Docs, full.TotalLen)
			}
		}
	}
}

// testMemoryByMACAs: a shared write duplicates only a shared memory; a
// private one only the same author's private memory.
func testMemoryByMACAs(f *fx) {
	t := f.t
	a := f.tenant()
	scope := engram.Scope{UserID: "u1"}
	priv := memory(a, scope, 1)
	priv.AuthorID, priv.Private = "acct-1", true
	f.insert(nil, priv)
	find := func(author string, private bool) string {
		m, err := get(f, func(tx store.Tx) (*store.Memory, error) {
			return tx.MemoryByMACAs(f.ctx, a, scope, mac(1), author, private)
		})
		if err != nil {
			return ""
		}
		return m.ID
	}
	if find("acct-1", false) != "" || find("acct-2", true) != "" || find("acct-2", false) != "" {
		t.Errorf("another author's private memory, or a shared write, found a private memory")
	}
	if find("acct-1", true) != priv.ID {
		t.Errorf("the author's private duplicate not found")
	}
	shared := memory(a, scope, 1)
	shared.AuthorID = "acct-2"
	f.insert(nil, shared)
	if find("acct-3", false) != shared.ID {
		t.Errorf("a shared write by anyone duplicates a shared memory")
	}
}
