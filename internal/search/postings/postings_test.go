package postings_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/store"
)

func tok(w string) []byte { return []byte("tok:" + w) }

func doc(id string, scope engram.Scope, n int, words ...string) store.DocPostings {
	d := store.DocPostings{MemoryID: id, Scope: scope, DocLen: n}
	for _, w := range words {
		d.Postings = append(d.Postings, store.Posting{Token: tok(w), TF: 1})
	}
	return d
}

func render(p *store.Postings) string {
	var ms []string
	for _, m := range p.Matches {
		ms = append(ms, fmt.Sprintf("%s/%s/%d/%d", m.MemoryID, m.Token, m.TF, m.DocLen))
	}
	slices.Sort(ms)
	return fmt.Sprintf("docs=%d len=%d %v", p.Docs, p.TotalLen, ms)
}

func TestPutRemoveStats(t *testing.T) {
	x := postings.New()
	u1, u2 := engram.Scope{UserID: "u1"}, engram.Scope{UserID: "u2", RunID: "r"}
	x.Put(doc("m1", u1, 3, "a", "b", "a")) // a listed twice: tf summed
	x.Put(doc("m2", u2, 5, "a"))
	x.Put(doc("m3", u1, 7)) // no postings: still counts
	q := [][]byte{tok("a"), tok("b"), tok("a")}
	if got, want := render(x.Postings(engram.Scope{}, q)), "docs=3 len=15 [m1/tok:a/2/3 m1/tok:b/1/3 m2/tok:a/1/5]"; got != want {
		t.Errorf("whole tenant: %s, want %s", got, want)
	}
	if got, want := render(x.Postings(u1, q)), "docs=2 len=10 [m1/tok:a/2/3 m1/tok:b/1/3]"; got != want {
		t.Errorf("u1: %s, want %s", got, want)
	}
	if got, want := render(x.Postings(engram.Scope{RunID: "r"}, q)), "docs=1 len=5 [m2/tok:a/1/5]"; got != want {
		t.Errorf("run r: %s, want %s", got, want)
	}
	if got, want := render(x.Postings(engram.Scope{UserID: "nobody"}, q)), "docs=0 len=0 []"; got != want {
		t.Errorf("empty scope: %s, want %s", got, want)
	}

	// Replace, then remove; a removed memory is not put back.
	x.Put(doc("m1", u2, 4, "b"))
	x.Remove("m2")
	x.Put(doc("m2", u2, 5, "a"))
	if got, want := render(x.Postings(engram.Scope{}, q)), "docs=2 len=11 [m1/tok:b/1/4]"; got != want {
		t.Errorf("after replace and remove: %s, want %s", got, want)
	}
	if x.Len() != 2 {
		t.Errorf("Len %d", x.Len())
	}
	x.Remove("m1")
	x.Remove("m3")
	if got := render(x.Postings(engram.Scope{}, q)); got != "docs=0 len=0 []" {
		t.Errorf("emptied: %s", got)
	}
}

// TestSameRankingAsStoreAnswer: fed to BM25, the index's answer ranks as
// an answer built by brute force (the store's semantics) does, after a
// random sequence of puts and removes.
func TestSameRankingAsStoreAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scopes := []engram.Scope{{UserID: "u1"}, {UserID: "u2", AgentID: "a"}, {AgentID: "a"}, {}}
	x := postings.New()
	live := map[string]store.DocPostings{}
	removed := map[string]bool{}
	for i := range 2000 {
		id := fmt.Sprintf("m%04d", r.IntN(400))
		if r.IntN(5) == 0 {
			x.Remove(id)
			delete(live, id)
			removed[id] = true
			continue
		}
		var words []string
		for range 1 + r.IntN(8) {
			words = append(words, fmt.Sprint("w", r.IntN(30)))
		}
		d := doc(id, scopes[r.IntN(len(scopes))], len(words)+r.IntN(3), words...)
		x.Put(d)
		if !removed[id] {
			live[id] = d
		}
		_ = i
	}
	for _, s := range append(scopes[:3:3], engram.Scope{}) {
		q := [][]byte{tok("w1"), tok("w7"), tok("w20")}
		want := &store.Postings{}
		for _, d := range live {
			if (s.UserID != "" && d.Scope.UserID != s.UserID) || (s.AgentID != "" && d.Scope.AgentID != s.AgentID) {
				continue
			}
			want.Docs++
			want.TotalLen += int64(d.DocLen)
			tf := map[string]int{}
			for _, p := range d.Postings {
				tf[string(p.Token)] += p.TF
			}
			for _, tk := range q {
				if n := tf[string(tk)]; n > 0 {
					want.Matches = append(want.Matches, store.Match{MemoryID: d.MemoryID, Token: tk, TF: n, DocLen: d.DocLen})
				}
			}
		}
		got := x.Postings(s, q)
		if got.Docs != want.Docs || got.TotalLen != want.TotalLen {
			t.Fatalf("%+v: stats %d/%d, want %d/%d", s, got.Docs, got.TotalLen, want.Docs, want.TotalLen)
		}
		g, w := fulltext.BM25(got, q, 1000), fulltext.BM25(want, q, 1000)
		if !slices.Equal(g, w) {
			t.Fatalf("%+v: ranking differs\n%v\n%v", s, g, w)
		}
		// Rank scores without building the matches: the same hits, scores
		// bit for bit, at every limit, with a query token given twice.
		for _, limit := range []int{1, 3, 10, 1000} {
			qq := append(slices.Clone(q), tok("w7"), tok("nowhere"))
			docs, total, r := x.Rank(s, qq, limit)
			if docs != want.Docs || total != want.TotalLen {
				t.Fatalf("%+v: Rank stats %d/%d", s, docs, total)
			}
			if w := fulltext.BM25(want, qq, limit); !slices.Equal(r, w) {
				t.Fatalf("%+v limit %d: Rank differs\n%v\n%v", s, limit, r, w)
			}
		}
	}
	if _, _, r := x.Rank(engram.Scope{UserID: "nobody"}, [][]byte{tok("w1")}, 10); r != nil {
		t.Fatalf("empty scope ranked %v", r)
	}
}

func TestBytesShrinkOnRemove(t *testing.T) {
	x := postings.New()
	for i := range 100 {
		x.Put(doc(fmt.Sprint("m", i), engram.Scope{}, 3, "a", "b", fmt.Sprint("c", i)))
	}
	full := x.Bytes()
	for i := range 100 {
		x.Remove(fmt.Sprint("m", i))
	}
	if left := x.Bytes(); left <= 0 || left >= full/2 {
		t.Errorf("bytes %d after removing all, %d full (tombstones only expected)", left, full)
	}
}

func TestConcurrent(t *testing.T) {
	x := postings.New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprint("m", w, "-", i%50)
				if i%7 == 0 {
					x.Remove(id)
				} else {
					x.Put(doc(id, engram.Scope{UserID: fmt.Sprint("u", i%3)}, 4, "a", fmt.Sprint("b", i%5)))
				}
				_ = x.Postings(engram.Scope{UserID: "u1"}, [][]byte{tok("a"), tok("b1")})
				_ = x.Bytes()
			}
		}()
	}
	wg.Wait()
}

// TestRankAsFiltersBeforeLimit: RankAs with a visibility filter ranks
// exactly as fulltext.BM25 over the matches the filter keeps (what the
// store's SearchVisiblePostings returns) with the scope's statistics, and
// its hits, as many as asked, are all ones the filter selects.
func TestRankAsFiltersBeforeLimit(t *testing.T) {
	x := postings.New()
	var ds []store.DocPostings
	for i := range 60 {
		d := doc(fmt.Sprintf("m%02d", i), engram.Scope{UserID: "u1"}, 5+i%7, "walrus", "report", fmt.Sprintf("w%d", i%5))
		switch i % 3 {
		case 0:
			d.AuthorID, d.Private = "acct-a", true
		case 1:
			d.AuthorID = "acct-b"
		}
		ds = append(ds, d)
		x.Put(d)
	}
	q := [][]byte{tok("walrus"), tok("w1"), tok("w2")}
	for _, f := range []rbac.Filter{{Reach: rbac.Any}, {Reach: rbac.Shared, AuthorID: "acct-b"}, {Reach: rbac.Own, AuthorID: "acct-a"}, {Reach: rbac.Shared}} {
		all := x.Postings(engram.Scope{UserID: "u1"}, q)
		want := &store.Postings{Docs: all.Docs, TotalLen: all.TotalLen}
		byID := map[string]store.DocPostings{}
		for _, d := range ds {
			byID[d.MemoryID] = d
		}
		for _, m := range all.Matches {
			d := byID[m.MemoryID]
			if f.Match(rbac.Record{AuthorID: d.AuthorID, Private: d.Private}) {
				want.Matches = append(want.Matches, m)
			}
		}
		_, _, got := x.RankAs(engram.Scope{UserID: "u1"}, f, q, 10)
		if w := fulltext.BM25(want, q, 10); !slices.Equal(got, w) {
			t.Errorf("%+v: RankAs %v\nBM25 over the kept matches %v", f, got, w)
		}
		if len(got) != 10 {
			t.Errorf("%+v: %d hits, want a full 10", f, len(got))
		}
		for _, h := range got {
			d := byID[h.MemoryID]
			if !f.Match(rbac.Record{AuthorID: d.AuthorID, Private: d.Private}) {
				t.Errorf("%+v: hit %s is not selected", f, h.MemoryID)
			}
		}
		_, dfs := x.DocFreqsAs(engram.Scope{UserID: "u1"}, f, [][]byte{tok("walrus")})
		if wdf := fulltext.DocFreqs(want, [][]byte{tok("walrus")}); len(dfs) != 1 || !slices.Equal(dfs, wdf) {
			t.Errorf("%+v: DocFreqsAs %v", f, dfs)
		}
	}
}

// TestDocsRebuilds: an index rebuilt from another's Docs ranks exactly as
// it, after puts, replacements and removes.
func TestDocsRebuilds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := postings.New()
	for range 600 {
		id := fmt.Sprintf("m%03d", r.IntN(200))
		if r.IntN(6) == 0 {
			x.Remove(id)
			continue
		}
		var words []string
		for range 1 + r.IntN(6) {
			words = append(words, fmt.Sprint("w", r.IntN(25)))
		}
		d := doc(id, engram.Scope{UserID: fmt.Sprint("u", r.IntN(3))}, len(words), words...)
		d.AuthorID, d.Private = fmt.Sprint("a", r.IntN(2)), r.IntN(2) == 0
		x.Put(d)
	}
	y := postings.New()
	docs := x.Docs()
	for _, d := range docs {
		y.Put(d)
	}
	if !slices.EqualFunc(docs, y.Docs(), func(a, b store.DocPostings) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatal("Docs of the rebuilt index differ")
	}
	q := [][]byte{tok("w1"), tok("w3"), tok("w8"), tok("w20")}
	for _, f := range []rbac.Filter{{Reach: rbac.Any}, {Reach: rbac.Own, AuthorID: "a1"}} {
		for _, s := range []engram.Scope{{}, {UserID: "u1"}} {
			d1, l1, h1 := x.RankAs(s, f, q, 50)
			d2, l2, h2 := y.RankAs(s, f, q, 50)
			if d1 != d2 || l1 != l2 || !slices.Equal(h1, h2) {
				t.Fatalf("%+v %+v: rebuilt ranks differently", s, f)
			}
		}
	}
}
