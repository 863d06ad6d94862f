package engine_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// team is one tenant with an owner and members of each role, each acting
// through its own API key.
type team struct {
	e                                   *engine.Engine
	owner, admin, operator, alice, bob  context.Context
	reader                              context.Context
	ownerID, aliceID, bobID, tenantID   string
	aliceMember, bobMember, adminMember *testserver.Member
}

func newTeam(t *testing.T, opts ...engine.Option) *team {
	t.Helper()
	e, st := testserver.NewEngineStore(t, opts...)
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	tm := &team{e: e, owner: engram.WithPrincipal(ctx, p), ownerID: p.AccountID, tenantID: p.TenantID}
	tm.aliceMember = testserver.AddMember(t, e, st, p.TenantID, engram.RoleMember)
	tm.bobMember = testserver.AddMember(t, e, st, p.TenantID, engram.RoleMember)
	tm.adminMember = testserver.AddMember(t, e, st, p.TenantID, engram.RoleAdmin)
	tm.alice, tm.aliceID = tm.aliceMember.Context(t, e), tm.aliceMember.AccountID
	tm.bob, tm.bobID = tm.bobMember.Context(t, e), tm.bobMember.AccountID
	tm.admin = tm.adminMember.Context(t, e)
	tm.operator = testserver.AddMember(t, e, st, p.TenantID, engram.RoleOperator).Context(t, e)
	tm.reader = testserver.AddMember(t, e, st, p.TenantID, engram.RoleReader).Context(t, e)
	return tm
}

func add(t *testing.T, e *engine.Engine, ctx context.Context, content string, v engram.Visibility) string {
	t.Helper()
	rs, err := e.Add(ctx, engram.AddRequest{Content: content, Scope: engram.Scope{UserID: "u1"}, Visibility: v})
	if err != nil {
		t.Fatal(err)
	}
	return rs[0].ID
}

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func hitIDs(hs []engram.SearchHit) []string {
	return idsOf(hs, func(h engram.SearchHit) string { return h.ID })
}

// TestPrivateMemoryEveryPath: a member's private memory is invisible to
// another member, an operator, an admin and a reader through every read
// path (get, list, each search mode, history, scope entities), answers
// not_found to them for update and delete exactly as another tenant's
// memory does, survives their delete-all; its author and the owner (reach
// all) see it everywhere. Run with the in-memory keyword index and
// without it (the store's postings), so both keyword paths are covered.
func TestPrivateMemoryEveryPath(t *testing.T) {
	for _, kw := range []bool{true, false} {
		t.Run(fmt.Sprintf("keyword-index=%v", kw), func(t *testing.T) {
			opts := []engine.Option{engine.WithEmbedder(embedtest.New(16), 1<<20)}
			if !kw {
				opts = append(opts, engine.WithKeywordBudget(0))
			}
			privateEveryPath(t, newTeam(t, opts...))
		})
	}
}

func privateEveryPath(t *testing.T, tm *team) {
	e := tm.e
	scope := engram.Scope{UserID: "u1"}
	secret := add(t, e, tm.alice, "the zebra launch code is tangerine", engram.VisibilityPrivate)
	shared := add(t, e, tm.alice, "the zebra launch is on friday", "")
	m, err := e.Get(tm.alice, secret)
	if err != nil || m.Visibility != engram.VisibilityPrivate || m.AuthorID != tm.aliceID {
		t.Fatalf("author's get: %+v, %v", m, err)
	}
	if m, _ := e.Get(tm.alice, shared); m.Visibility != engram.VisibilityShared {
		t.Fatalf("default visibility: %q", m.Visibility)
	}
	zero := 0.0
	for _, c := range []struct {
		who  string
		ctx  context.Context
		sees bool
	}{
		{"alice (author)", tm.alice, true}, {"owner", tm.owner, true},
		{"bob (member)", tm.bob, false}, {"admin", tm.admin, false}, {"operator", tm.operator, false}, {"reader", tm.reader, false},
	} {
		// get
		_, err := e.Get(c.ctx, secret)
		if got := err == nil; got != c.sees {
			t.Errorf("%s: get: %v", c.who, err)
		} else if !c.sees && engram.ErrorCode(err) != engram.CodeNotFound {
			t.Errorf("%s: get answered %v, want not_found like another tenant's", c.who, err)
		}
		// list
		l, err := e.List(c.ctx, engram.ListRequest{Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(idsOf(l.Memories, func(m engram.Memory) string { return m.ID }), secret); got != c.sees {
			t.Errorf("%s: list holds the private memory: %v", c.who, got)
		}
		// search, every mode
		for _, mode := range []string{engram.SearchBM25, engram.SearchVector, engram.SearchHybrid} {
			hs, err := e.Search(c.ctx, engram.SearchRequest{Query: "zebra launch code tangerine", Scope: scope, Mode: mode, Threshold: &zero})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(hitIDs(hs), secret); got != c.sees {
				t.Errorf("%s: %s search finds the private memory: %v", c.who, mode, got)
			}
			if !slices.Contains(hitIDs(hs), shared) {
				t.Errorf("%s: %s search misses the shared memory", c.who, mode)
			}
		}
		// history
		_, err = e.History(c.ctx, secret)
		if got := err == nil; got != c.sees {
			t.Errorf("%s: history: %v", c.who, err)
		} else if !c.sees && engram.ErrorCode(err) != engram.CodeNotFound {
			t.Errorf("%s: history answered %v, want not_found", c.who, err)
		}
		// scope entities count only what may be read
		es, err := e.Entities(c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if c.sees {
			want = 2
		}
		if len(es) != 1 || es[0].Memories != want {
			t.Errorf("%s: entities %+v, want u1 with %d memories", c.who, es, want)
		}
	}
	// Update and delete by those who may not read it: not_found, as for an
	// id of another tenant.
	for _, ctx := range []context.Context{tm.bob, tm.admin, tm.operator} {
		if _, err := e.Update(ctx, secret, engram.UpdateRequest{Content: "x"}); engram.ErrorCode(err) != engram.CodeNotFound {
			t.Errorf("update of another's private memory: %v, want not_found", err)
		}
		if err := e.Delete(ctx, secret); engram.ErrorCode(err) != engram.CodeNotFound {
			t.Errorf("delete of another's private memory: %v, want not_found", err)
		}
	}
	// Delete-all by bob and by the admin leaves it (and, for bob, alice's
	// shared memory: members delete only their own).
	if n, err := e.DeleteAll(tm.bob, scope); err != nil || n != 0 {
		t.Errorf("bob's delete-all: %d, %v; want 0", n, err)
	}
	if n, err := e.DeleteAll(tm.admin, scope); err != nil || n != 1 {
		t.Errorf("admin's delete-all: %d, %v; want 1 (the shared memory)", n, err)
	}
	if _, err := e.Get(tm.alice, secret); err != nil {
		t.Fatalf("the private memory did not survive others' delete-all: %v", err)
	}
	// Deleted, its history stays as private as it was.
	if err := e.Delete(tm.alice, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := e.History(tm.bob, secret); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Errorf("history of a deleted private memory, to another member: %v", err)
	}
	if h, err := e.History(tm.alice, secret); err != nil || len(h) != 2 {
		t.Errorf("history of a deleted private memory, to its author: %d entries, %v", len(h), err)
	}
	if _, err := e.History(tm.owner, secret); err != nil {
		t.Errorf("history to the owner: %v", err)
	}
}

// TestVisibleCrossTenant: another tenant's owner finds nothing either.
func TestVisibleCrossTenant(t *testing.T) {
	tm := newTeam(t)
	secret := add(t, tm.e, tm.alice, "a private thing", engram.VisibilityPrivate)
	other := tenantCtx(t, tm.e, "other")
	_, err1 := tm.e.Get(other, secret)
	_, err2 := tm.e.Get(tm.bob, secret)
	if engram.ErrorCode(err1) != engram.CodeNotFound || engram.ErrorCode(err2) != engram.CodeNotFound ||
		engram.ErrorMessage(err1) != engram.ErrorMessage(err2) {
		t.Errorf("another tenant's %v and a member's %v differ", err1, err2)
	}
}

// TestVisiblePagesFull: the newest memories of the scope are another
// member's private ones; a page of list, and of search in each mode, is
// still full of what bob may read, because the filter is applied before
// limits and ranking.
func TestVisiblePagesFull(t *testing.T) {
	tm := newTeam(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	e := tm.e
	scope := engram.Scope{UserID: "u1"}
	var visible []string
	for i := range 6 {
		visible = append(visible, add(t, e, tm.bob, fmt.Sprintf("walrus report number %d", i), ""))
	}
	for batch := range 2 {
		var msgs []engram.Message
		for i := range 60 {
			msgs = append(msgs, engram.Message{Role: "user", Content: fmt.Sprintf("walrus report number %d, private copy", batch*60+i)})
		}
		if _, err := e.Add(tm.alice, engram.AddRequest{Messages: msgs, Scope: scope, Visibility: engram.VisibilityPrivate}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.List(tm.bob, engram.ListRequest{Scope: scope, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Memories) != 5 || l.NextCursor == "" {
		t.Fatalf("bob's first page: %d memories, cursor %q; want 5 and more", len(l.Memories), l.NextCursor)
	}
	l2, err := e.List(tm.bob, engram.ListRequest{Scope: scope, Limit: 5, Cursor: l.NextCursor})
	if err != nil || len(l2.Memories) != 1 || l2.NextCursor != "" {
		t.Fatalf("bob's second page: %+v, %v; want the last one", l2, err)
	}
	zero := 0.0
	for _, mode := range []string{engram.SearchBM25, engram.SearchVector, engram.SearchHybrid} {
		hs, err := e.Search(tm.bob, engram.SearchRequest{Query: "walrus report number", Scope: scope, Mode: mode, Limit: 5, Threshold: &zero})
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 5 {
			t.Errorf("%s: bob's search returned %d hits, want a full page of 5", mode, len(hs))
		}
		for _, id := range hitIDs(hs) {
			if !slices.Contains(visible, id) {
				t.Errorf("%s: bob's search returned %s, not one of his", mode, id)
			}
		}
		// The owner's page is full too, of everything.
		hs, err = e.Search(tm.owner, engram.SearchRequest{Query: "walrus report number", Scope: scope, Mode: mode, Limit: 5, Threshold: &zero})
		if err != nil || len(hs) != 5 {
			t.Errorf("%s: owner's search: %d hits, %v", mode, len(hs), err)
		}
	}
	if es, err := e.Entities(tm.bob); err != nil || len(es) != 1 || es[0].Memories != 6 {
		t.Errorf("bob's entities: %+v, %v", es, err)
	}
}

// TestVisibleGraphSignal: a memory found only through the knowledge graph
// (one hop from the entity the query names) is not offered to a member who
// may not read it.
func TestVisibleGraphSignal(t *testing.T) {
	tm := newTeam(t)
	scope := engram.Scope{UserID: "u1"}
	obs := seed(t, tm.e, tm.alice, scope, true)
	const hop = "Where does Alice work these days?"
	if rankOf(search(t, tm.e, tm.bob, scope, hop), obs[3]) == 0 {
		t.Fatalf("the test needs the one-hop memory found while shared")
	}
	if _, err := tm.e.Update(tm.alice, obs[3], engram.UpdateRequest{Content: graphTurns[3].text, Visibility: engram.VisibilityPrivate}); err != nil {
		t.Fatal(err)
	}
	if r := rankOf(search(t, tm.e, tm.bob, scope, hop), obs[3]); r != 0 {
		t.Errorf("another member's search offers the private one-hop memory at rank %d", r)
	}
	if rankOf(search(t, tm.e, tm.alice, scope, hop), obs[3]) == 0 {
		t.Errorf("its author no longer finds it")
	}
}

// TestVisibilityChanges: only the author (or an owner) changes a memory's
// visibility; others who may update it change its content only; a
// member may not update another's shared memory (forbidden: it can read
// it); bad values are invalid; deduplication never crosses visibility.
func TestVisibilityChanges(t *testing.T) {
	tm := newTeam(t)
	e := tm.e
	id := add(t, e, tm.alice, "the tapir sleeps at noon", "")
	if _, err := e.Update(tm.bob, id, engram.UpdateRequest{Content: "changed"}); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("a member updating another's shared memory: %v, want forbidden", err)
	}
	if err := e.Delete(tm.bob, id); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("a member deleting another's shared memory: %v, want forbidden", err)
	}
	if _, err := e.Update(tm.admin, id, engram.UpdateRequest{Content: "the tapir sleeps at one", Visibility: engram.VisibilityPrivate}); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("an admin making another's memory private: %v, want forbidden", err)
	}
	if m, err := e.Update(tm.admin, id, engram.UpdateRequest{Content: "the tapir sleeps at one"}); err != nil || m.AuthorID != tm.aliceID {
		t.Errorf("an admin updating a shared memory: %+v, %v (the author stays)", m, err)
	}
	if _, err := e.Update(tm.alice, id, engram.UpdateRequest{Content: "the tapir sleeps at one", Visibility: "secret"}); engram.ErrorCode(err) != engram.CodeInvalid {
		t.Errorf("visibility secret: %v, want invalid", err)
	}
	if _, err := e.Add(tm.alice, engram.AddRequest{Content: "x", Visibility: "Private"}); engram.ErrorCode(err) != engram.CodeInvalid {
		t.Errorf("add with visibility Private: %v, want invalid", err)
	}
	m, err := e.Update(tm.alice, id, engram.UpdateRequest{Content: "the tapir sleeps at one", Visibility: engram.VisibilityPrivate})
	if err != nil || m.Visibility != engram.VisibilityPrivate {
		t.Fatalf("the author making it private: %+v, %v", m, err)
	}
	if _, err := e.Get(tm.bob, id); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Errorf("after it became private, bob's get: %v", err)
	}
	// The owner may make it shared again.
	if _, err := e.Update(tm.owner, id, engram.UpdateRequest{Content: "the tapir sleeps at one", Visibility: engram.VisibilityShared}); err != nil {
		t.Errorf("the owner changing visibility: %v", err)
	}
	if _, err := e.Get(tm.bob, id); err != nil {
		t.Errorf("shared again, bob's get: %v", err)
	}
	// Deduplication: the same text private by alice and shared by bob are
	// two memories; alice adding it again privately finds her own.
	p := add(t, e, tm.alice, "the okapi is shy", engram.VisibilityPrivate)
	rs, err := e.Add(tm.bob, engram.AddRequest{Content: "the okapi is shy", Scope: engram.Scope{UserID: "u1"}})
	if err != nil || rs[0].ID == p || rs[0].Event != engram.EventAdd {
		t.Errorf("bob's shared duplicate of alice's private text: %+v, %v", rs, err)
	}
	rs, err = e.Add(tm.alice, engram.AddRequest{Content: "the okapi is shy", Scope: engram.Scope{UserID: "u1"}, Visibility: engram.VisibilityPrivate})
	if err != nil || rs[0].ID != p || rs[0].Event != engram.EventNone {
		t.Errorf("alice's private duplicate: %+v, %v; want her own, NONE", rs, err)
	}
	// A reader may not write at all.
	if _, err := e.Add(tm.reader, engram.AddRequest{Content: "r"}); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("reader's add: %v, want forbidden", err)
	}
}

// TestKeysReachOwn: members and operators list and revoke only their own
// keys (another's answers not_found); admins see every key.
func TestKeysReachOwn(t *testing.T) {
	tm := newTeam(t)
	e := tm.e
	keys, err := e.ListKeys(tm.aliceMember.Session)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].AccountID != tm.aliceID {
		t.Errorf("alice's keys: %+v; want her one", keys)
	}
	all, err := e.ListKeys(tm.adminMember.Session)
	if err != nil || len(all) < 6 {
		t.Fatalf("admin's keys: %d, %v; want every key", len(all), err)
	}
	bobs, _ := e.ListKeys(tm.bobMember.Session)
	if err := e.RevokeKey(tm.aliceMember.Session, bobs[0].ID); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Errorf("alice revoking bob's key: %v, want not_found", err)
	}
	// A member's key holds no keys:admin, so it cannot list or mint keys.
	if _, err := e.ListKeys(tm.alice); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("a member's key listing keys: %v, want forbidden", err)
	}
	if _, err := e.CreateKey(tm.aliceMember.Session, engram.CreateKeyRequest{Name: "k", Scopes: []engram.Permission{engram.PermAuditRead}}); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Errorf("a member granting audit:read: %v, want forbidden", err)
	}
	if err := e.RevokeKey(tm.aliceMember.Session, keys[0].ID); err != nil {
		t.Errorf("alice revoking her own key: %v", err)
	}
}

// TestIdempotencyPerAccountForSessions: sessions have no key id; two
// members' sessions using the same Idempotency-Key for the same private
// write get their own memories, never a replay of the other's (whose id
// names a private memory).
func TestIdempotencyPerAccountForSessions(t *testing.T) {
	tm := newTeam(t)
	req := engram.AddRequest{Content: "my locker code is 1234", Scope: engram.Scope{UserID: "u1"},
		Visibility: engram.VisibilityPrivate, IdempotencyKey: "same-key"}
	a, err := tm.e.Add(tm.aliceMember.Session, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tm.e.Add(tm.bobMember.Session, req)
	if err != nil {
		t.Fatal(err)
	}
	if a[0].ID == b[0].ID || b[0].Event != engram.EventAdd {
		t.Fatalf("bob's session replayed alice's answer: %+v %+v", a, b)
	}
	again, err := tm.e.Add(tm.aliceMember.Session, req)
	if err != nil || again[0].ID != a[0].ID {
		t.Fatalf("alice's own retry: %+v %v; want her first answer", again, err)
	}
}
