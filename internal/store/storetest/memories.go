package storetest

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// memory returns a memory (not stored) whose fields all derive from n.
func memory(tenantID string, scope engram.Scope, n int) *store.Memory {
	return &store.Memory{
		ID: newID(), TenantID: tenantID,
		UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID,
		Subject:    "tenant",
		KeyVersion: 2,
		Content:    sealed("content %d", n),
		Metadata:   sealed("metadata %d", n),
		ContentMAC: mac(n),
		DocLen:     10 + n,
		CreatedAt:  at(n),
		UpdatedAt:  at(n),
	}
}

// mac stands for the keyed MAC of content number n: binary, not text.
func mac(n int) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "mac %d", n))
	return h[:]
}

// tok stands for the blind token of a word: binary, not text.
func tok(word string) []byte {
	h := sha256.Sum256([]byte("token " + word))
	return h[:16]
}

// posting is a posting of word, tf times.
func posting(word string, tf int) store.Posting { return store.Posting{Token: tok(word), TF: tf} }

// insert stores memories, each with the given postings, in one transaction.
func (f *fx) insert(postings []store.Posting, ms ...*store.Memory) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, m := range ms {
			if err := tx.InsertMemory(f.ctx, m, postings); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fx) memory(tenantID, id string) (*store.Memory, error) {
	return get(f, func(tx store.Tx) (*store.Memory, error) { return tx.Memory(f.ctx, tenantID, id) })
}

func (f *fx) search(tenantID string, scope engram.Scope, words ...string) *store.Postings {
	f.t.Helper()
	tokens := make([][]byte, len(words))
	for i, w := range words {
		tokens[i] = tok(w)
	}
	return mustGet(f, func(tx store.Tx) (*store.Postings, error) {
		return tx.SearchPostings(f.ctx, tenantID, scope, tokens)
	})
}

// match renders the match of word in m, as matchStrings renders results.
func match(m *store.Memory, word string, tf int) string {
	return fmt.Sprintf("%s/%x/tf=%d/len=%d", m.ID, tok(word), tf, m.DocLen)
}

func matchStrings(p *store.Postings) []string {
	out := make([]string, len(p.Matches))
	for i, mt := range p.Matches {
		out[i] = fmt.Sprintf("%s/%x/tf=%d/len=%d", mt.MemoryID, mt.Token, mt.TF, mt.DocLen)
	}
	slices.Sort(out)
	return out
}

// checkPostings compares a search result with the expected statistics and
// matches (in any order).
func (f *fx) checkPostings(what string, got *store.Postings, docs int, totalLen int64, matches ...string) {
	f.t.Helper()
	if got.Docs != docs || got.TotalLen != totalLen {
		f.t.Errorf("%s: Docs, TotalLen = %d, %d, want %d, %d", what, got.Docs, got.TotalLen, docs, totalLen)
	}
	slices.Sort(matches)
	if g := matchStrings(got); !slices.Equal(g, matches) {
		f.t.Errorf("%s: matches\n%q\nwant\n%q", what, g, matches)
	}
}

func testMemory(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	full := memory(a, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, 1)
	bare := memory(a, engram.Scope{}, 2)
	bare.Metadata = nil
	f.insert([]store.Posting{posting("w", 1)}, full, bare)

	for _, m := range []*store.Memory{full, bare} {
		got, err := f.memory(a, m.ID)
		if err != nil {
			t.Fatalf("Memory: %v", err)
		}
		checkEqual(t, "Memory", got, m)
	}
	if got, _ := f.memory(a, bare.ID); got != nil && got.Metadata != nil {
		t.Errorf("Metadata = %q, want nil", got.Metadata)
	}

	dup := *full
	err := f.write(func(tx store.Tx) error { return tx.InsertMemory(f.ctx, &dup, nil) })
	wantErr(t, "InsertMemory with a taken id", err, store.ErrConflict)
	_, err = f.memory(b, full.ID)
	wantErr(t, "Memory of another tenant", err, store.ErrNotFound)
	_, err = f.memory(a, newID())
	wantErr(t, "Memory(unknown)", err, store.ErrNotFound)
}

func testUpdateMemory(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	scope := engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}
	m := memory(a, scope, 1)
	f.insert([]store.Posting{posting("old", 3), posting("shared", 1)}, m)

	upd := *m
	upd.Content = sealed("updated")
	upd.Metadata = nil
	upd.ContentMAC = mac(99)
	upd.DocLen = 42
	upd.UpdatedAt = at(100)
	upd.KeyVersion = m.KeyVersion + 1
	// Not rewritten: scope, subject and creation time are the memory's
	// identity.
	upd.UserID, upd.AgentID, upd.RunID = "u2", "a2", "r2"
	upd.Subject = "other"
	upd.CreatedAt = at(999)
	f.mustWrite(func(tx store.Tx) error {
		return tx.UpdateMemory(f.ctx, &upd, []store.Posting{posting("new", 2), posting("shared", 5)})
	})
	want := *m
	want.Content, want.Metadata, want.ContentMAC, want.DocLen, want.UpdatedAt, want.KeyVersion =
		upd.Content, nil, upd.ContentMAC, upd.DocLen, upd.UpdatedAt, upd.KeyVersion
	got, err := f.memory(a, m.ID)
	if err != nil {
		t.Fatalf("Memory after update: %v", err)
	}
	checkEqual(t, "updated memory", got, &want)
	f.checkPostings("postings after update", f.search(a, engram.Scope{}, "old", "new", "shared"), 1, 42,
		match(&want, "new", 2), match(&want, "shared", 5))
	if _, err := get(f, func(tx store.Tx) (*store.Memory, error) {
		return tx.MemoryByMAC(f.ctx, a, scope, upd.ContentMAC)
	}); err != nil {
		t.Errorf("MemoryByMAC(new MAC): %v", err)
	}

	// A failed update changes nothing, even in a transaction that goes on
	// to commit.
	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		other := want
		other.TenantID = b
		other.Content = sealed("from another tenant")
		errOther = tx.UpdateMemory(f.ctx, &other, []store.Posting{posting("intruder", 1)})
		unknown := want
		unknown.ID = newID()
		errUnknown = tx.UpdateMemory(f.ctx, &unknown, []store.Posting{posting("intruder", 1)})
		return nil
	})
	wantErr(t, "UpdateMemory in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "UpdateMemory(unknown)", errUnknown, store.ErrNotFound)
	got, err = f.memory(a, m.ID)
	if err != nil {
		t.Fatalf("Memory after failed updates: %v", err)
	}
	checkEqual(t, "memory after failed updates", got, &want)
	f.checkPostings("postings after failed updates", f.search(a, engram.Scope{}, "new", "intruder"), 1, 42,
		match(&want, "new", 2))
	f.checkPostings("postings of the other tenant", f.search(b, engram.Scope{}, "new", "intruder"), 0, 0)
}

func testDeleteMemory(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	m := memory(a, engram.Scope{UserID: "u1"}, 1)
	keep := memory(a, engram.Scope{UserID: "u1"}, 2)
	f.insert([]store.Posting{posting("w", 1)}, m)
	f.insert([]store.Posting{posting("w", 2)}, keep)
	f.mustWrite(func(tx store.Tx) error {
		return tx.InsertHistory(f.ctx, &store.History{ID: newID(), TenantID: a, MemoryID: m.ID,
			Subject: "tenant", Event: string(engram.EventAdd), New: m.Content, CreatedAt: at(1)})
	})

	var errOther error
	f.mustWrite(func(tx store.Tx) error {
		errOther = tx.DeleteMemory(f.ctx, b, m.ID)
		return nil
	})
	wantErr(t, "DeleteMemory in another tenant", errOther, store.ErrNotFound)
	if _, err := f.memory(a, m.ID); err != nil {
		t.Fatalf("Memory after a delete from another tenant: %v", err)
	}
	f.checkPostings("postings after a delete from another tenant", f.search(a, engram.Scope{}, "w"),
		2, int64(m.DocLen+keep.DocLen), match(m, "w", 1), match(keep, "w", 2))

	f.mustWrite(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m.ID) })
	_, err := f.memory(a, m.ID)
	wantErr(t, "Memory after delete", err, store.ErrNotFound)
	f.checkPostings("postings after delete", f.search(a, engram.Scope{}, "w"),
		1, int64(keep.DocLen), match(keep, "w", 2))
	got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Memories(f.ctx, a, []string{m.ID}) })
	if len(got) != 0 {
		t.Errorf("Memories after delete: %q", ids(got))
	}
	_, err = get(f, func(tx store.Tx) (*store.Memory, error) {
		return tx.MemoryByMAC(f.ctx, a, engram.Scope{UserID: "u1"}, m.ContentMAC)
	})
	wantErr(t, "MemoryByMAC after delete", err, store.ErrNotFound)
	hist := mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, a, m.ID) })
	if len(hist) != 1 {
		t.Errorf("History after delete: %d entries, want 1 (history outlives the memory)", len(hist))
	}

	err = f.write(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m.ID) })
	wantErr(t, "DeleteMemory twice", err, store.ErrNotFound)
}

func testMemories(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	// More than one batch of any reasonable IN list.
	const n = 1203
	var mine []*store.Memory
	for i := range n {
		m := memory(a, engram.Scope{UserID: "u1", AgentID: fmt.Sprintf("ag%d", i%3)}, i)
		if i%2 == 0 {
			m.Vector, m.VectorModel = sealed("vector %d", i), "model"
		}
		if i%5 == 0 {
			m.AuthorID, m.Private = "acct", true
			exp := at(i + 100)
			m.ExpiresAt = &exp
		}
		mine = append(mine, m)
	}
	f.insert(nil, mine...)
	theirs := memory(b, engram.Scope{UserID: "u1"}, 0)
	f.insert(nil, theirs)

	want := make(map[string]*store.Memory, n)
	var ask []string
	for _, m := range mine {
		want[m.ID] = m
		ask = append(ask, m.ID)
	}
	ask = append(ask, theirs.ID, newID(), mine[0].ID, mine[n-1].ID)
	got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Memories(f.ctx, a, ask) })
	if len(got) != n {
		t.Errorf("Memories: %d memories, want %d", len(got), n)
	}
	seen := make(map[string]bool)
	for i := range got {
		m := &got[i]
		if seen[m.ID] {
			t.Errorf("Memories: %s twice", m.ID)
		}
		seen[m.ID] = true
		w, ok := want[m.ID]
		if !ok {
			t.Errorf("Memories: unexpected %s (tenant %s)", m.ID, m.TenantID)
			continue
		}
		checkEqual(t, "Memories", m, w)
	}

	// MemoryHeads: the same memories, without sealed fields or subject;
	// MemoryTexts: without the vector.
	for _, c := range []struct {
		name string
		get  func(tx store.Tx, tenantID string, ids []string) ([]store.Memory, error)
		cut  func(m store.Memory) store.Memory
	}{
		{"MemoryHeads", func(tx store.Tx, tenantID string, ids []string) ([]store.Memory, error) {
			return tx.MemoryHeads(f.ctx, tenantID, ids)
		}, func(m store.Memory) store.Memory {
			return store.Memory{ID: m.ID, TenantID: m.TenantID, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID,
				CreatedAt: m.CreatedAt, AuthorID: m.AuthorID, Private: m.Private, ExpiresAt: m.ExpiresAt}
		}},
		{"MemoryTexts", func(tx store.Tx, tenantID string, ids []string) ([]store.Memory, error) {
			return tx.MemoryTexts(f.ctx, tenantID, ids)
		}, func(m store.Memory) store.Memory {
			m.Vector, m.VectorModel = nil, ""
			return m
		}},
	} {
		got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return c.get(tx, a, ask) })
		if len(got) != n {
			t.Errorf("%s: %d memories, want %d", c.name, len(got), n)
		}
		seen := make(map[string]bool)
		for i := range got {
			m := &got[i]
			if seen[m.ID] {
				t.Errorf("%s: %s twice", c.name, m.ID)
			}
			seen[m.ID] = true
			w, ok := want[m.ID]
			if !ok {
				t.Errorf("%s: unexpected %s (tenant %s)", c.name, m.ID, m.TenantID)
				continue
			}
			checkEqual(t, c.name, m, c.cut(*w))
		}
		for _, ask := range [][]string{nil, {newID()}} {
			if got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return c.get(tx, a, ask) }); len(got) != 0 {
				t.Errorf("%s(%d ids): %q, want none", c.name, len(ask), ids(got))
			}
		}
		if got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return c.get(tx, b, ask[:10]) }); len(got) != 0 {
			t.Errorf("%s of another tenant: %q, want none", c.name, ids(got))
		}
	}

	for _, c := range []struct {
		tenant string
		ask    []string
	}{{a, nil}, {a, []string{newID()}}, {b, ask[:10]}} {
		got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Memories(f.ctx, c.tenant, c.ask) })
		if len(got) != 0 {
			t.Errorf("Memories(%d ids): %q, want none", len(c.ask), ids(got))
		}
	}
}

func testMemoryByMAC(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	user := memory(a, engram.Scope{UserID: "u1"}, 1)
	userAgent := memory(a, engram.Scope{UserID: "u1", AgentID: "a1"}, 1)
	none := memory(a, engram.Scope{}, 1)
	theirs := memory(b, engram.Scope{UserID: "u1"}, 1)
	f.insert(nil, user, userAgent, none, theirs)

	for _, c := range []struct {
		tenant string
		scope  engram.Scope
		mac    []byte
		want   *store.Memory // nil: ErrNotFound
	}{
		{a, engram.Scope{UserID: "u1"}, mac(1), user},
		{a, engram.Scope{UserID: "u1", AgentID: "a1"}, mac(1), userAgent},
		{a, engram.Scope{}, mac(1), none},
		{a, engram.Scope{UserID: "u2"}, mac(1), nil},
		{a, engram.Scope{AgentID: "a1"}, mac(1), nil},
		{a, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, mac(1), nil},
		{a, engram.Scope{UserID: "u1"}, mac(2), nil},
		{b, engram.Scope{UserID: "u1"}, mac(1), theirs},
		{b, engram.Scope{}, mac(1), nil},
	} {
		got, err := get(f, func(tx store.Tx) (*store.Memory, error) {
			return tx.MemoryByMAC(f.ctx, c.tenant, c.scope, c.mac)
		})
		what := fmt.Sprintf("MemoryByMAC(%+v)", c.scope)
		if c.want == nil {
			wantErr(t, what, err, store.ErrNotFound)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		checkEqual(t, what, got, c.want)
	}
}

func testListMemories(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var all []*store.Memory
	for _, u := range []string{"", "u1", "u2"} {
		for _, ag := range []string{"", "a1"} {
			for _, r := range []string{"", "r1"} {
				for range 3 {
					all = append(all, memory(a, engram.Scope{UserID: u, AgentID: ag, RunID: r}, len(all)))
				}
			}
		}
	}
	// Stored in an order unrelated to their ids: the list is by id.
	shuffled := slices.Clone(all)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	f.insert(nil, shuffled...)
	var theirs []*store.Memory
	for range 5 {
		theirs = append(theirs, memory(b, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, 0))
	}
	f.insert(nil, theirs...)

	list := func(scope engram.Scope, before string, limit int) []store.Memory {
		return mustGet(f, func(tx store.Tx) ([]store.Memory, error) {
			return tx.ListMemories(f.ctx, a, scope, before, limit)
		})
	}
	for _, u := range []string{"", "u1", "u2", "nobody"} {
		for _, ag := range []string{"", "a1"} {
			for _, r := range []string{"", "r1"} {
				scope := engram.Scope{UserID: u, AgentID: ag, RunID: r}
				var want []string
				for _, m := range all {
					if (u == "" || m.UserID == u) && (ag == "" || m.AgentID == ag) && (r == "" || m.RunID == r) {
						want = append(want, m.ID)
					}
				}
				slices.Sort(want)
				slices.Reverse(want)
				for _, limit := range []int{1, 5, 100} {
					var got []string
					before := ""
					for page := 0; ; page++ {
						ms := list(scope, before, limit)
						if len(ms) > limit {
							t.Fatalf("ListMemories(%+v, limit %d): %d memories", scope, limit, len(ms))
						}
						got = append(got, ids(ms)...)
						if len(ms) < limit || page > len(all) {
							break
						}
						before = ms[len(ms)-1].ID
					}
					if !slices.Equal(got, want) {
						t.Errorf("ListMemories(%+v) in pages of %d:\n%q\nwant\n%q", scope, limit, got, want)
					}
				}
			}
		}
	}

	// Every field comes back, and the cursor need not be a listed id.
	got := list(engram.Scope{}, newID(), len(all))
	byID := make(map[string]*store.Memory)
	for _, m := range all {
		byID[m.ID] = m
	}
	if len(got) != len(all) {
		t.Fatalf("ListMemories(before a newer id): %d memories, want %d", len(got), len(all))
	}
	for i := range got {
		checkEqual(t, "ListMemories", &got[i], byID[got[i].ID])
	}
	if got := list(engram.Scope{}, all[0].ID, 10); len(got) != 0 {
		t.Errorf("ListMemories(before the oldest): %q, want none", ids(got))
	}
}

func testHistory(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	memID := newID()
	h := func(event engram.Event, old, new []byte, n int) *store.History {
		return &store.History{ID: newID(), TenantID: a, MemoryID: memID, Subject: "tenant",
			KeyVersion: n + 1, Event: string(event), Old: old, New: new, CreatedAt: at(n)}
	}
	// Ids made out of time order, and stored out of order: history is by
	// time alone.
	del := h(engram.EventDelete, sealed("v2"), nil, 3)
	add := h(engram.EventAdd, nil, sealed("v1"), 1)
	upd := h(engram.EventUpdate, sealed("v1"), sealed("v2"), 2)
	other := h(engram.EventAdd, nil, sealed("other"), 0)
	other.MemoryID = newID()
	f.mustWrite(func(tx store.Tx) error {
		for _, e := range []*store.History{del, other, add, upd} {
			if err := tx.InsertHistory(f.ctx, e); err != nil {
				return err
			}
		}
		return nil
	})

	got := mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, a, memID) })
	want := []*store.History{add, upd, del}
	if len(got) != len(want) {
		t.Fatalf("History: %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		checkEqual(t, fmt.Sprintf("History[%d]", i), &got[i], want[i])
	}
	for _, c := range []struct{ tenant, memory string }{{b, memID}, {a, newID()}} {
		got, err := get(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, c.tenant, c.memory) })
		if err != nil || len(got) != 0 {
			t.Errorf("History(%s, %s) = %d entries, %v; want none, no error", c.tenant, c.memory, len(got), err)
		}
	}
}

func testSearchPostings(f *fx) {
	a, b := f.tenant(), f.tenant()
	m1 := memory(a, engram.Scope{UserID: "u1"}, 0)                 // DocLen 10
	m2 := memory(a, engram.Scope{UserID: "u2", RunID: "r1"}, -5)   // DocLen 5
	m3 := memory(a, engram.Scope{UserID: "u1", AgentID: "a1"}, -3) // DocLen 7
	m4 := memory(b, engram.Scope{UserID: "u1"}, 90)                // DocLen 100
	f.insert([]store.Posting{posting("t1", 2), posting("t2", 1)}, m1)
	f.insert([]store.Posting{posting("t1", 1)}, m2)
	f.insert([]store.Posting{posting("t1", 1), posting("t3", 4)}, m3)
	f.insert([]store.Posting{posting("t1", 3)}, m4)

	for _, c := range []struct {
		what     string
		tenant   string
		scope    engram.Scope
		words    []string
		docs     int
		totalLen int64
		matches  []string
	}{
		{"whole tenant", a, engram.Scope{}, []string{"t1", "t2"}, 3, 22,
			[]string{match(m1, "t1", 2), match(m1, "t2", 1), match(m2, "t1", 1), match(m3, "t1", 1)}},
		{"user", a, engram.Scope{UserID: "u1"}, []string{"t1", "t2", "t3"}, 2, 17,
			[]string{match(m1, "t1", 2), match(m1, "t2", 1), match(m3, "t1", 1), match(m3, "t3", 4)}},
		{"user and agent", a, engram.Scope{UserID: "u1", AgentID: "a1"}, []string{"t1"}, 1, 7,
			[]string{match(m3, "t1", 1)}},
		{"agent", a, engram.Scope{AgentID: "a1"}, []string{"t3"}, 1, 7,
			[]string{match(m3, "t3", 4)}},
		{"run", a, engram.Scope{RunID: "r1"}, []string{"t1", "t3"}, 1, 5,
			[]string{match(m2, "t1", 1)}},
		{"token outside scope", a, engram.Scope{UserID: "u2"}, []string{"t3"}, 1, 5, nil},
		{"no tokens", a, engram.Scope{}, nil, 3, 22, nil},
		{"unknown token", a, engram.Scope{}, []string{"t9"}, 3, 22, nil},
		{"repeated token", a, engram.Scope{UserID: "u1"}, []string{"t1", "t1"}, 2, 17,
			[]string{match(m1, "t1", 2), match(m3, "t1", 1)}},
		{"empty scope", a, engram.Scope{UserID: "u3"}, []string{"t1"}, 0, 0, nil},
		{"other tenant", b, engram.Scope{}, []string{"t1", "t2", "t3"}, 1, 100,
			[]string{match(m4, "t1", 3)}},
	} {
		f.checkPostings(c.what, f.search(c.tenant, c.scope, c.words...), c.docs, c.totalLen, c.matches...)
	}
}
