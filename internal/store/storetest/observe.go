package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// Observe's records: episodes, entities with their blind name index, and
// facts (docs/OBSERVE.md).

// episode returns an episode (not stored) whose fields all derive from n.
func episode(tenantID string, scope engram.Scope, n int) *store.Episode {
	return &store.Episode{ID: newID(), TenantID: tenantID, UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID,
		Subject: "tenant", KeyVersion: 1, Status: "pending", Extractor: "rules",
		Messages: sealed("messages %d", n), Result: fmt.Appendf(nil, `{"n":%d}`, n), Attempts: n % 3,
		CreatedAt: at(n), UpdatedAt: at(n + 1)}
}

// entity returns an entity (not stored) of the user, its own key subject,
// whose other fields derive from n.
func entity(tenantID, userID string, n int) *store.Entity {
	id := newID()
	return &store.Entity{ID: id, TenantID: tenantID, UserID: userID, Subject: "e:" + id, KeyVersion: 1,
		Type: "person", Body: sealed("entity %d", n), Mentions: int64(n), CreatedAt: at(n), UpdatedAt: at(n + 1)}
}

// nameKeys stands for the blind keys of an entity's name and alias: unique
// to the entity.
func nameKeys(e *store.Entity) [][]byte { return [][]byte{tok("name " + e.ID), tok("alias " + e.ID)} }

// fact returns a current fact (not stored) about entity subj (and obj when
// not empty), whose other fields derive from n.
func fact(tenantID string, scope engram.Scope, subj, obj string, n int) *store.Fact {
	return &store.Fact{ID: newID(), TenantID: tenantID, UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID,
		Subject: "tenant", KeyVersion: 1, SubjectEntity: subj, ObjectEntity: obj, PredicateTok: tok("likes"),
		Body: sealed("fact %d", n), Episodes: []string{newID(), newID()}, ValidAt: at(n), CreatedAt: at(n + 1),
		Vector: sealed("vector %d", n), VectorModel: "model"}
}

func ptr[T any](v T) *T { return &v }

func (f *fx) insertEpisodes(es ...*store.Episode) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, e := range es {
			if err := tx.InsertEpisode(f.ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertEntities stores entities, each with its nameKeys.
func (f *fx) insertEntities(es ...*store.Entity) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, e := range es {
			if err := tx.InsertEntity(f.ctx, e, nameKeys(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fx) insertFacts(fs ...*store.Fact) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, fc := range fs {
			if err := tx.InsertFact(f.ctx, fc); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fx) episode(tenantID, id string) (*store.Episode, error) {
	return get(f, func(tx store.Tx) (*store.Episode, error) { return tx.Episode(f.ctx, tenantID, id) })
}

func (f *fx) entity(tenantID, id string) (*store.Entity, error) {
	return get(f, func(tx store.Tx) (*store.Entity, error) { return tx.Entity(f.ctx, tenantID, id) })
}

func (f *fx) fact(tenantID, id string) (*store.Fact, error) {
	return get(f, func(tx store.Tx) (*store.Fact, error) { return tx.Fact(f.ctx, tenantID, id) })
}

func (f *fx) entitiesByKeys(tenantID, userID string, tokens ...[]byte) []string {
	f.t.Helper()
	return mustGet(f, func(tx store.Tx) ([]string, error) { return tx.EntitiesByKeys(f.ctx, tenantID, userID, tokens) })
}

func (f *fx) factsOf(tenantID string, entityIDs ...string) []store.Fact {
	f.t.Helper()
	return mustGet(f, func(tx store.Tx) ([]store.Fact, error) { return tx.FactsOf(f.ctx, tenantID, entityIDs) })
}

// idsOf returns the ids of records, in order.
func idsOf[T any](rs []T, id func(*T) string) []string {
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = id(&rs[i])
	}
	return out
}

func episodeID(e *store.Episode) string { return e.ID }
func entityID(e *store.Entity) string   { return e.ID }
func factID(fc *store.Fact) string      { return fc.ID }

// descending returns ids sorted, newest first.
func descending(ids []string) []string {
	out := slices.Sorted(slices.Values(ids))
	slices.Reverse(out)
	return out
}

// checkPages lists every page for limits 2 and 100, each page after the
// last id of the one before, and compares the ids with want, in order.
// (Limit 1 is checked once per list: pages of one per filter cost more
// transactions than the suite's time allows.)
func checkPages[T any](t *testing.T, what string, want []string, id func(*T) string, list func(before string, limit int) []T) {
	t.Helper()
	for _, limit := range []int{2, 100} {
		var got []string
		before := ""
		for page := 0; page <= len(want)+1; page++ {
			rs := list(before, limit)
			if len(rs) > limit {
				t.Errorf("%s: %d records in a page of %d", what, len(rs), limit)
				break
			}
			got = append(got, idsOf(rs, id)...)
			if len(rs) < limit {
				break
			}
			before = id(&rs[len(rs)-1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s in pages of %d:\n%q\nwant\n%q", what, limit, got, want)
		}
	}
}

// shuffle returns xs in an order unrelated to their ids.
func shuffle[T any](xs []T) []T {
	out := slices.Clone(xs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func testEpisode(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	full := episode(a, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, 1)
	full.Subject, full.KeyVersion, full.Status, full.ErrorCode, full.Attempts = "user:u1", 3, "failed", "extractor_unavailable", 4
	bare := episode(a, engram.Scope{}, 2)
	bare.Messages, bare.Attempts = nil, 0
	f.insertEpisodes(full, bare)

	for _, e := range []*store.Episode{full, bare} {
		got, err := f.episode(a, e.ID)
		if err != nil {
			t.Fatalf("Episode: %v", err)
		}
		checkEqual(t, "Episode", got, e)
	}
	if got, _ := f.episode(a, bare.ID); got != nil && got.Messages != nil {
		t.Errorf("Messages = %q, want nil", got.Messages)
	}

	dup := *full
	err := f.write(func(tx store.Tx) error { return tx.InsertEpisode(f.ctx, &dup) })
	wantErr(t, "InsertEpisode with a taken id", err, store.ErrConflict)
	_, err = f.episode(b, full.ID)
	wantErr(t, "Episode of another tenant", err, store.ErrNotFound)
	_, err = f.episode(a, newID())
	wantErr(t, "Episode(unknown)", err, store.ErrNotFound)
}

func testUpdateEpisode(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	scope := engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}
	e, other := episode(a, scope, 1), episode(a, scope, 2)
	e.Subject = "user:u1"
	f.insertEpisodes(e, other)

	upd := *e
	upd.Status, upd.Extractor, upd.Messages, upd.KeyVersion = "done", "llm", nil, 2
	upd.Result, upd.ErrorCode, upd.Attempts, upd.UpdatedAt = []byte(`{"facts":["f1"]}`), "", 1, at(50)
	// Not rewritten: the scope, the key's subject and the creation time.
	upd.UserID, upd.AgentID, upd.RunID, upd.Subject, upd.CreatedAt = "u2", "a2", "r2", "user:u2", at(99)
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateEpisode(f.ctx, &upd) })
	want := *e
	want.Status, want.Extractor, want.Messages, want.KeyVersion = upd.Status, upd.Extractor, nil, upd.KeyVersion
	want.Result, want.ErrorCode, want.Attempts, want.UpdatedAt = upd.Result, upd.ErrorCode, upd.Attempts, upd.UpdatedAt
	got, err := f.episode(a, e.ID)
	if err != nil {
		t.Fatalf("Episode after UpdateEpisode: %v", err)
	}
	checkEqual(t, "updated episode", got, &want)
	if got.Messages != nil {
		t.Errorf("Messages after discarding = %q, want nil", got.Messages)
	}
	gotOther, err := f.episode(a, other.ID)
	if err != nil {
		t.Fatalf("Episode(other): %v", err)
	}
	checkEqual(t, "episode beside the updated one", gotOther, other)

	// An error code and messages again (a retry that failed).
	want.Messages, want.ErrorCode, want.Status, want.Attempts = sealed("messages again"), "timeout", "failed", 2
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateEpisode(f.ctx, &want) })
	got, err = f.episode(a, e.ID)
	if err != nil {
		t.Fatalf("Episode after the second UpdateEpisode: %v", err)
	}
	checkEqual(t, "episode updated twice", got, &want)

	// A failed update changes nothing, even in a transaction that goes on
	// to commit.
	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		theirs := want
		theirs.TenantID, theirs.Status, theirs.Messages = b, "done", nil
		errOther = tx.UpdateEpisode(f.ctx, &theirs)
		unknown := theirs
		unknown.TenantID, unknown.ID = a, newID()
		errUnknown = tx.UpdateEpisode(f.ctx, &unknown)
		return nil
	})
	wantErr(t, "UpdateEpisode in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "UpdateEpisode(unknown)", errUnknown, store.ErrNotFound)
	got, err = f.episode(a, e.ID)
	if err != nil {
		t.Fatalf("Episode after failed updates: %v", err)
	}
	checkEqual(t, "episode after failed updates", got, &want)
	_, err = f.episode(b, e.ID)
	wantErr(t, "Episode(B) after UpdateEpisode in B", err, store.ErrNotFound)
}

func testListEpisodes(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var all []*store.Episode
	for _, u := range []string{"", "u1", "u2"} {
		for _, ag := range []string{"", "a1"} {
			for _, r := range []string{"", "r1"} {
				for range 2 {
					all = append(all, episode(a, engram.Scope{UserID: u, AgentID: ag, RunID: r}, len(all)))
				}
			}
		}
	}
	f.insertEpisodes(shuffle(all)...)
	f.insertEpisodes(episode(b, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, 0),
		episode(b, engram.Scope{}, 1))

	for _, u := range []string{"", "u1", "u2", "nobody"} {
		for _, ag := range []string{"", "a1"} {
			for _, r := range []string{"", "r1"} {
				var want []string
				for _, e := range all {
					if (u == "" || e.UserID == u) && (ag == "" || e.AgentID == ag) && (r == "" || e.RunID == r) {
						want = append(want, e.ID)
					}
				}
				checkPages(t, fmt.Sprintf("ListEpisodes(%q, %q, %q)", u, ag, r), descending(want), episodeID,
					func(before string, limit int) []store.Episode {
						return mustGet(f, func(tx store.Tx) ([]store.Episode, error) {
							return tx.ListEpisodes(f.ctx, a, u, ag, r, before, limit)
						})
					})
			}
		}
	}
	// Every field comes back.
	got := mustGet(f, func(tx store.Tx) ([]store.Episode, error) { return tx.ListEpisodes(f.ctx, a, "", "", "", "", 1) })
	newest := slices.MaxFunc(all, func(x, y *store.Episode) int { return cmpID(x.ID, y.ID) })
	checkList(t, "ListEpisodes(limit 1)", got, []*store.Episode{newest})
}

func cmpID(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func testPendingEpisodes(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	scope := engram.Scope{UserID: "u1"}
	var eps []*store.Episode
	for i, c := range []struct {
		tenant, status string
	}{{a, "pending"}, {b, "pending"}, {a, "done"}, {a, "pending"}, {b, "failed"}, {b, "pending"}, {a, "running"}} {
		e := episode(c.tenant, scope, i)
		e.Status = c.status
		eps = append(eps, e)
	}
	f.insertEpisodes(shuffle(eps)...)
	pending := func(limit int) []store.Episode {
		return mustGet(f, func(tx store.Tx) ([]store.Episode, error) { return tx.PendingEpisodes(f.ctx, limit) })
	}
	p1, p2, p4, p6 := eps[0], eps[1], eps[3], eps[5]
	checkList(t, "PendingEpisodes", pending(100), []*store.Episode{p1, p2, p4, p6})
	checkList(t, "PendingEpisodes(limit 2)", pending(2), []*store.Episode{p1, p2})

	// Done: out of the queue.
	done := *p1
	done.Status, done.Messages, done.UpdatedAt = "done", nil, at(20)
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateEpisode(f.ctx, &done) })
	checkList(t, "PendingEpisodes after one is done", pending(100), []*store.Episode{p2, p4, p6})
}

func testEntity(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	full := entity(a, "u1", 1)
	full.KeyVersion = 3
	bare := entity(a, "", 0)
	bare.Type = "other"
	theirs := entity(b, "u1", 2)
	f.insertEntities(full, bare, theirs)

	for _, e := range []*store.Entity{full, bare} {
		got, err := f.entity(a, e.ID)
		if err != nil {
			t.Fatalf("Entity: %v", err)
		}
		checkEqual(t, "Entity", got, e)
	}
	dup := *full
	err := f.write(func(tx store.Tx) error { return tx.InsertEntity(f.ctx, &dup, nil) })
	wantErr(t, "InsertEntity with a taken id", err, store.ErrConflict)
	_, err = f.entity(b, full.ID)
	wantErr(t, "Entity of another tenant", err, store.ErrNotFound)
	_, err = f.entity(a, newID())
	wantErr(t, "Entity(unknown)", err, store.ErrNotFound)

	// Entities: those of the tenant among ids, over more than one batch of
	// any reasonable IN list.
	ask := []string{full.ID}
	for range 1200 {
		ask = append(ask, newID())
	}
	ask = append(ask, theirs.ID, bare.ID)
	got := mustGet(f, func(tx store.Tx) ([]store.Entity, error) { return tx.Entities(f.ctx, a, ask) })
	slices.SortFunc(got, func(x, y store.Entity) int { return cmpID(x.ID, y.ID) })
	checkList(t, "Entities", got, []*store.Entity{full, bare})
	got = mustGet(f, func(tx store.Tx) ([]store.Entity, error) { return tx.Entities(f.ctx, b, ask[:1]) })
	checkList(t, "Entities of another tenant", got, nil)
	got = mustGet(f, func(tx store.Tx) ([]store.Entity, error) { return tx.Entities(f.ctx, a, nil) })
	checkList(t, "Entities(none)", got, nil)
}

func testUpdateEntity(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	e, other := entity(a, "u1", 1), entity(a, "u1", 2)
	f.mustWrite(func(tx store.Tx) error {
		return errors.Join(tx.InsertEntity(f.ctx, e, [][]byte{tok("old name"), tok("shared")}),
			tx.InsertEntity(f.ctx, other, [][]byte{tok("shared"), tok("other")}))
	})

	upd := *e
	upd.Type, upd.Body, upd.KeyVersion, upd.Mentions, upd.UpdatedAt = "place", sealed("renamed"), 2, 9, at(50)
	// Not rewritten: the scope, the key's subject and the creation time.
	upd.UserID, upd.Subject, upd.CreatedAt = "u2", "e:other", at(99)
	f.mustWrite(func(tx store.Tx) error {
		return tx.UpdateEntity(f.ctx, &upd, [][]byte{tok("new name"), tok("shared")})
	})
	want := *e
	want.Type, want.Body, want.KeyVersion, want.Mentions, want.UpdatedAt = upd.Type, upd.Body, upd.KeyVersion, upd.Mentions, upd.UpdatedAt
	got, err := f.entity(a, e.ID)
	if err != nil {
		t.Fatalf("Entity after UpdateEntity: %v", err)
	}
	checkEqual(t, "updated entity", got, &want)
	gotOther, err := f.entity(a, other.ID)
	if err != nil {
		t.Fatalf("Entity(other): %v", err)
	}
	checkEqual(t, "entity beside the updated one", gotOther, other)

	// The keys are replaced, under the entity's own user.
	checkKeysOf := func(what string, name []string) {
		t.Helper()
		for _, c := range []struct {
			user, word string
			want       []string
		}{
			{"u1", "old name", nil},
			{"u1", "new name", name},
			{"u1", "shared", slices.Sorted(slices.Values(append([]string{other.ID}, name...)))},
			{"u1", "other", []string{other.ID}},
			{"u2", "new name", nil},
		} {
			if got := f.entitiesByKeys(a, c.user, tok(c.word)); !slices.Equal(got, c.want) {
				t.Errorf("%s: EntitiesByKeys(%s, %q) = %q, want %q", what, c.user, c.word, got, c.want)
			}
		}
	}
	checkKeysOf("after UpdateEntity", []string{e.ID})
	// nil keys: kept.
	want.Mentions = 10
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateEntity(f.ctx, &want, nil) })
	checkKeysOf("after UpdateEntity without keys", []string{e.ID})
	if got, _ := f.entity(a, e.ID); got != nil {
		checkEqual(t, "entity updated without keys", got, &want)
	}

	// A failed update changes nothing, its keys included, even in a
	// transaction that goes on to commit.
	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		theirs := want
		theirs.TenantID, theirs.Body = b, sealed("from another tenant")
		errOther = tx.UpdateEntity(f.ctx, &theirs, [][]byte{})
		unknown := theirs
		unknown.TenantID, unknown.ID = a, newID()
		errUnknown = tx.UpdateEntity(f.ctx, &unknown, [][]byte{tok("new name")})
		return nil
	})
	wantErr(t, "UpdateEntity in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "UpdateEntity(unknown)", errUnknown, store.ErrNotFound)
	checkKeysOf("after failed updates", []string{e.ID})
	if got, _ := f.entity(a, e.ID); got != nil {
		checkEqual(t, "entity after failed updates", got, &want)
	}
	_, err = f.entity(b, e.ID)
	wantErr(t, "Entity(B) after UpdateEntity in B", err, store.ErrNotFound)

	// Empty keys: none left.
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateEntity(f.ctx, &want, [][]byte{}) })
	checkKeysOf("after UpdateEntity with no keys", nil)
}

func testEntitiesByKeys(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	alice1, alice2, bob := entity(a, "u1", 1), entity(a, "u1", 2), entity(a, "u1", 3)
	aliceU2, aliceTenant, aliceB := entity(a, "u2", 4), entity(a, "", 5), entity(b, "u1", 6)
	keys := map[*store.Entity][][]byte{
		alice1:      {tok("alice"), tok("alice smith")},
		alice2:      {tok("alice")},
		bob:         {tok("bob")},
		aliceU2:     {tok("alice")},
		aliceTenant: {tok("alice")},
		aliceB:      {tok("alice")},
	}
	// Stored newest first: the result is sorted, whatever the order of
	// insertion.
	f.mustWrite(func(tx store.Tx) error {
		for _, e := range []*store.Entity{aliceB, aliceTenant, aliceU2, bob, alice2, alice1} {
			if err := tx.InsertEntity(f.ctx, e, keys[e]); err != nil {
				return err
			}
		}
		return nil
	})
	many := [][]byte{tok("alice")}
	for i := range 1200 {
		many = append(many, tok(fmt.Sprint("nobody ", i)))
	}
	many = append(many, tok("bob"))
	for _, c := range []struct {
		what, tenant, user string
		tokens             [][]byte
		want               []*store.Entity
	}{
		{"alice", a, "u1", [][]byte{tok("alice")}, []*store.Entity{alice1, alice2}},
		{"two keys of one entity", a, "u1", [][]byte{tok("alice smith"), tok("alice")}, []*store.Entity{alice1, alice2}},
		{"keys of two entities", a, "u1", [][]byte{tok("bob"), tok("alice smith")}, []*store.Entity{alice1, bob}},
		{"another user", a, "u2", [][]byte{tok("alice")}, []*store.Entity{aliceU2}},
		{"no user", a, "", [][]byte{tok("alice"), tok("bob")}, []*store.Entity{aliceTenant}},
		{"another tenant", b, "u1", [][]byte{tok("alice"), tok("bob")}, []*store.Entity{aliceB}},
		{"unknown key", a, "u1", [][]byte{tok("carol")}, nil},
		{"no keys", a, "u1", nil, nil},
		{"many keys", a, "u1", many, []*store.Entity{alice1, alice2, bob}},
	} {
		want := make([]string, len(c.want))
		for i, e := range c.want {
			want[i] = e.ID
		}
		slices.Sort(want)
		if got := f.entitiesByKeys(c.tenant, c.user, c.tokens...); !slices.Equal(got, want) {
			t.Errorf("EntitiesByKeys(%s) = %q, want %q", c.what, got, want)
		}
	}
}

func testListEntities(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var all []*store.Entity
	for _, u := range []string{"", "u1", "u2"} {
		for _, typ := range []string{"person", "place"} {
			for range 3 {
				e := entity(a, u, len(all))
				e.Type = typ
				all = append(all, e)
			}
		}
	}
	f.insertEntities(shuffle(all)...)
	f.insertEntities(entity(b, "u1", 0), entity(b, "", 1))

	for _, u := range []string{"", "u1", "u2", "nobody"} {
		for _, every := range []bool{false, true} {
			for _, typ := range []string{"", "place", "pet"} {
				var want []string
				for _, e := range all {
					if (every || e.UserID == u) && (typ == "" || e.Type == typ) {
						want = append(want, e.ID)
					}
				}
				checkPages(t, fmt.Sprintf("ListEntities(%q, all %v, %q)", u, every, typ), descending(want), entityID,
					func(before string, limit int) []store.Entity {
						return mustGet(f, func(tx store.Tx) ([]store.Entity, error) {
							return tx.ListEntities(f.ctx, a, u, every, typ, before, limit)
						})
					})
			}
		}
	}
	got := mustGet(f, func(tx store.Tx) ([]store.Entity, error) {
		return tx.ListEntities(f.ctx, a, "", true, "", "", 1)
	})
	newest := slices.MaxFunc(all, func(x, y *store.Entity) int { return cmpID(x.ID, y.ID) })
	checkList(t, "ListEntities(limit 1)", got, []*store.Entity{newest})
}

func testFact(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	full := fact(a, engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}, newID(), newID(), 1)
	full.Subject, full.KeyVersion, full.InvalidAt, full.ExpiredAt = "user:u1", 4, ptr(at(10)), ptr(at(11))
	bare := fact(a, engram.Scope{}, newID(), "", 2)
	bare.Episodes, bare.Vector, bare.VectorModel = nil, nil, ""
	f.insertFacts(full, bare)

	for _, fc := range []*store.Fact{full, bare} {
		got, err := f.fact(a, fc.ID)
		if err != nil {
			t.Fatalf("Fact: %v", err)
		}
		checkEqual(t, "Fact", got, fc)
	}
	if got, _ := f.fact(a, bare.ID); got != nil && (got.InvalidAt != nil || got.ExpiredAt != nil || got.Vector != nil ||
		len(got.Episodes) != 0) {
		t.Errorf("InvalidAt, ExpiredAt, Vector, Episodes = %v, %v, %q, %q, want nil, nil, nil, none",
			got.InvalidAt, got.ExpiredAt, got.Vector, got.Episodes)
	}

	dup := *full
	err := f.write(func(tx store.Tx) error { return tx.InsertFact(f.ctx, &dup) })
	wantErr(t, "InsertFact with a taken id", err, store.ErrConflict)
	_, err = f.fact(b, full.ID)
	wantErr(t, "Fact of another tenant", err, store.ErrNotFound)
	_, err = f.fact(a, newID())
	wantErr(t, "Fact(unknown)", err, store.ErrNotFound)
}

func testUpdateFact(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	scope := engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}
	fc, other := fact(a, scope, newID(), newID(), 1), fact(a, scope, newID(), "", 2)
	fc.InvalidAt = ptr(at(5))
	f.insertFacts(fc, other)

	upd := *fc
	upd.Subject, upd.KeyVersion, upd.SubjectEntity, upd.ObjectEntity = "user:u1", 2, newID(), ""
	upd.PredicateTok, upd.Body, upd.Episodes = tok("works_at"), sealed("updated"), []string{newID(), newID(), newID()}
	upd.ValidAt, upd.InvalidAt, upd.CreatedAt, upd.ExpiredAt = at(20), nil, at(21), ptr(at(22))
	upd.Vector, upd.VectorModel = nil, ""
	// Not rewritten: the scope.
	upd.UserID, upd.AgentID, upd.RunID = "u2", "a2", "r2"
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateFact(f.ctx, &upd) })
	want := upd
	want.UserID, want.AgentID, want.RunID = fc.UserID, fc.AgentID, fc.RunID
	got, err := f.fact(a, fc.ID)
	if err != nil {
		t.Fatalf("Fact after UpdateFact: %v", err)
	}
	checkEqual(t, "updated fact", got, &want)
	if got.InvalidAt != nil || got.Vector != nil {
		t.Errorf("InvalidAt, Vector = %v, %q, want nil", got.InvalidAt, got.Vector)
	}
	gotOther, err := f.fact(a, other.ID)
	if err != nil {
		t.Fatalf("Fact(other): %v", err)
	}
	checkEqual(t, "fact beside the updated one", gotOther, other)

	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		theirs := want
		theirs.TenantID, theirs.Body = b, sealed("from another tenant")
		errOther = tx.UpdateFact(f.ctx, &theirs)
		unknown := theirs
		unknown.TenantID, unknown.ID = a, newID()
		errUnknown = tx.UpdateFact(f.ctx, &unknown)
		return nil
	})
	wantErr(t, "UpdateFact in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "UpdateFact(unknown)", errUnknown, store.ErrNotFound)
	if got, _ := f.fact(a, fc.ID); got != nil {
		checkEqual(t, "fact after failed updates", got, &want)
	}
	_, err = f.fact(b, fc.ID)
	wantErr(t, "Fact(B) after UpdateFact in B", err, store.ErrNotFound)
}

func testDeleteFact(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	subj := newID()
	fc, keep := fact(a, engram.Scope{UserID: "u1"}, subj, "", 1), fact(a, engram.Scope{UserID: "u1"}, subj, "", 2)
	f.insertFacts(fc, keep)

	var errOther error
	f.mustWrite(func(tx store.Tx) error {
		errOther = tx.DeleteFact(f.ctx, b, fc.ID)
		return nil
	})
	wantErr(t, "DeleteFact in another tenant", errOther, store.ErrNotFound)
	checkList(t, "FactsOf after a delete from another tenant", f.factsOf(a, subj), []*store.Fact{fc, keep})

	f.mustWrite(func(tx store.Tx) error { return tx.DeleteFact(f.ctx, a, fc.ID) })
	_, err := f.fact(a, fc.ID)
	wantErr(t, "Fact after delete", err, store.ErrNotFound)
	checkList(t, "FactsOf after delete", f.factsOf(a, subj), []*store.Fact{keep})
	err = f.write(func(tx store.Tx) error { return tx.DeleteFact(f.ctx, a, fc.ID) })
	wantErr(t, "DeleteFact twice", err, store.ErrNotFound)
}

func testFactsOf(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	e1, e2, e3, e4 := newID(), newID(), newID(), newID()
	sc := engram.Scope{UserID: "u1"}
	f1, f2, f3 := fact(a, sc, e1, e2, 1), fact(a, engram.Scope{UserID: "u2"}, e2, "", 2), fact(a, sc, e3, e1, 3)
	f4, f5 := fact(a, engram.Scope{}, e4, "", 4), fact(a, sc, e3, e4, 5)
	f1.InvalidAt = ptr(at(9))
	theirs := fact(b, sc, e1, e2, 6)
	f.insertFacts(shuffle([]*store.Fact{f1, f2, f3, f4, f5, theirs})...)

	many := []string{e1}
	for range 600 {
		many = append(many, newID())
	}
	many = append(many, e2)
	for _, c := range []struct {
		what   string
		tenant string
		ids    []string
		want   []*store.Fact
	}{
		// Subject or object, current or not, of any user.
		{"e1", a, []string{e1}, []*store.Fact{f1, f3}},
		{"e2", a, []string{e2}, []*store.Fact{f1, f2}},
		// f1 names both: once.
		{"e1, e2", a, []string{e2, e1}, []*store.Fact{f1, f2, f3}},
		{"e3, e4", a, []string{e3, e4}, []*store.Fact{f3, f4, f5}},
		{"e1 to e4", a, []string{e4, e3, e2, e1}, []*store.Fact{f1, f2, f3, f4, f5}},
		{"unknown", a, []string{newID()}, nil},
		{"none", a, nil, nil},
		{"another tenant", b, []string{e1, e3}, []*store.Fact{theirs}},
		// e1 and e2 in different batches of any reasonable IN list: f1 is
		// found through both, and listed once.
		{"many", a, many, []*store.Fact{f1, f2, f3}},
	} {
		checkList(t, "FactsOf("+c.what+")", f.factsOf(c.tenant, c.ids...), c.want)
	}
}

func testListFacts(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	x, y := newID(), newID()
	type row struct {
		fc   *store.Fact
		pred string
	}
	var all []row
	add := func(u, subj, obj, pred string, invalid, expired bool) {
		fc := fact(a, engram.Scope{UserID: u}, subj, obj, len(all))
		fc.PredicateTok = tok(pred)
		if invalid {
			fc.InvalidAt = ptr(at(100))
		}
		if expired {
			fc.ExpiredAt = ptr(at(101))
		}
		all = append(all, row{fc, pred})
	}
	for _, u := range []string{"", "u1", "u2"} {
		add(u, x, y, "knows", false, false)
		add(u, y, "", "likes", true, false)
		add(u, x, "", "likes", false, true)
		add(u, y, x, "works_at", false, false)
		add(u, x, "", "likes", true, true)
	}
	var stored []*store.Fact
	for _, r := range all {
		stored = append(stored, r.fc)
	}
	f.insertFacts(shuffle(stored)...)
	f.insertFacts(fact(b, engram.Scope{UserID: "u1"}, x, y, 0), fact(b, engram.Scope{}, y, "", 1))

	for _, u := range []string{"", "u1"} {
		for _, every := range []bool{false, true} {
			// x is the subject of some facts and the object of others.
			for _, ent := range []string{"", x} {
				for _, pred := range []string{"", "likes"} {
					for _, current := range []bool{false, true} {
						filter := store.FactFilter{UserID: u, AllUsers: every, EntityID: ent, Current: current}
						if pred != "" {
							filter.PredicateTok = tok(pred)
						}
						var want []string
						for _, r := range all {
							fc := r.fc
							if (every || fc.UserID == u) &&
								(ent == "" || fc.SubjectEntity == ent || fc.ObjectEntity == ent) &&
								(pred == "" || r.pred == pred) &&
								(!current || (fc.InvalidAt == nil && fc.ExpiredAt == nil)) {
								want = append(want, fc.ID)
							}
						}
						what := fmt.Sprintf("ListFacts(user %q, all %v, entity %d, predicate %q, current %v)",
							u, every, slices.Index([]string{"", x}, ent), pred, current)
						checkPages(t, what, descending(want), factID, func(before string, limit int) []store.Fact {
							flt := filter
							flt.Before, flt.Limit = before, limit
							return mustGet(f, func(tx store.Tx) ([]store.Fact, error) { return tx.ListFacts(f.ctx, a, flt) })
						})
					}
				}
			}
		}
	}
	got := mustGet(f, func(tx store.Tx) ([]store.Fact, error) {
		return tx.ListFacts(f.ctx, a, store.FactFilter{AllUsers: true, Limit: 1})
	})
	checkList(t, "ListFacts(limit 1)", got, []*store.Fact{all[len(all)-1].fc})
	// An empty token is an empty field: it matches every predicate.
	got = mustGet(f, func(tx store.Tx) ([]store.Fact, error) {
		return tx.ListFacts(f.ctx, a, store.FactFilter{AllUsers: true, PredicateTok: []byte{}, Limit: 100})
	})
	if len(got) != len(all) {
		t.Errorf("ListFacts(empty predicate token): %d facts, want %d", len(got), len(all))
	}
}

func testMoveEntityFacts(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	from, to, other := newID(), newID(), newID()
	sc := engram.Scope{UserID: "u1"}
	f1, f2, f3, f4 := fact(a, sc, from, other, 1), fact(a, sc, other, from, 2), fact(a, sc, from, from, 3), fact(a, sc, other, "", 4)
	theirs := fact(b, sc, from, other, 5)
	f.insertFacts(f1, f2, f3, f4, theirs)

	f.mustWrite(func(tx store.Tx) error { return tx.MoveEntityFacts(f.ctx, a, from, to) })
	w1, w2, w3 := *f1, *f2, *f3
	w1.SubjectEntity, w2.ObjectEntity, w3.SubjectEntity, w3.ObjectEntity = to, to, to, to
	checkList(t, "FactsOf(to) after the move", f.factsOf(a, to), []*store.Fact{&w1, &w2, &w3})
	checkList(t, "FactsOf(from) after the move", f.factsOf(a, from), nil)
	checkList(t, "FactsOf(other) after the move", f.factsOf(a, other), []*store.Fact{&w1, &w2, f4})
	checkList(t, "FactsOf(from) in another tenant", f.factsOf(b, from, to), []*store.Fact{theirs})

	// Nothing to move: no error, nothing changed.
	f.mustWrite(func(tx store.Tx) error { return tx.MoveEntityFacts(f.ctx, a, newID(), to) })
	checkList(t, "FactsOf(to) after an empty move", f.factsOf(a, to), []*store.Fact{&w1, &w2, &w3})
}
