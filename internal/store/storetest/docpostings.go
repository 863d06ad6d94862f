package storetest

import (
	"fmt"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// testDocPostings covers DocPostings: paging in id order, every memory
// listed (one without postings too), scope and length, each posting once,
// deletes and updates reflected, tenant isolation.
func testDocPostings(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	m1 := memory(a, engram.Scope{UserID: "u1"}, 0)
	m2 := memory(a, engram.Scope{UserID: "u2", AgentID: "g", RunID: "r1"}, 1)
	m3 := memory(a, engram.Scope{}, 2)
	m4 := memory(a, engram.Scope{UserID: "u1"}, 3)
	other := memory(b, engram.Scope{UserID: "u1"}, 4)
	f.insert([]store.Posting{posting("t1", 2), posting("t2", 1)}, m1)
	f.insert([]store.Posting{posting("t1", 1)}, m2)
	f.insert(nil, m3)
	f.insert([]store.Posting{posting("t3", 4)}, m4)
	f.insert([]store.Posting{posting("t1", 9)}, other)

	word := map[string]string{}
	for _, w := range []string{"t1", "t2", "t3", "t9"} {
		word[string(tok(w))] = w
	}
	render := func(ds []store.DocPostings) []string {
		var out []string
		for _, d := range ds {
			ps := make([]string, 0, len(d.Postings))
			for _, p := range d.Postings {
				ps = append(ps, fmt.Sprintf("%s:%d", word[string(p.Token)], p.TF))
			}
			slices.Sort(ps)
			out = append(out, fmt.Sprintf("%s %s/%s/%s len=%d %v", d.MemoryID, d.Scope.UserID, d.Scope.AgentID, d.Scope.RunID, d.DocLen, ps))
		}
		return out
	}
	page := func(after string, limit int) []store.DocPostings {
		return mustGet(f, func(tx store.Tx) ([]store.DocPostings, error) { return tx.DocPostings(f.ctx, a, after, limit) })
	}
	p1 := page("", 3)
	p2 := page(p1[len(p1)-1].MemoryID, 3)
	got := render(append(p1, p2...))
	want := []string{
		fmt.Sprintf("%s u1// len=10 [t1:2 t2:1]", m1.ID),
		fmt.Sprintf("%s u2/g/r1 len=11 [t1:1]", m2.ID),
		fmt.Sprintf("%s // len=12 []", m3.ID),
		fmt.Sprintf("%s u1// len=13 [t3:4]", m4.ID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("DocPostings pages =\n%q\nwant\n%q", got, want)
	}
	if len(p1) != 3 || len(p2) != 1 {
		t.Errorf("page sizes %d, %d; want 3, 1", len(p1), len(p2))
	}
	if n := page("", 0); len(n) != 0 {
		t.Errorf("limit 0 returned %d", len(n))
	}

	// An update replaces the postings and length; a delete removes the
	// memory from the listing.
	m1.DocLen = 20
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateMemory(f.ctx, m1, []store.Posting{posting("t9", 5)}) })
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m2.ID) })
	got = render(page("", 10))
	want = []string{
		fmt.Sprintf("%s u1// len=20 [t9:5]", m1.ID),
		fmt.Sprintf("%s // len=12 []", m3.ID),
		fmt.Sprintf("%s u1// len=13 [t3:4]", m4.ID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("DocPostings after update and delete =\n%q\nwant\n%q", got, want)
	}
	if got := render(mustGet(f, func(tx store.Tx) ([]store.DocPostings, error) { return tx.DocPostings(f.ctx, b, "", 10) })); len(got) != 1 {
		t.Errorf("tenant b sees %q", got)
	}
}
