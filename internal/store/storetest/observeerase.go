package storetest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// Forgetting what Observe stored: an entity, a user's observations, a
// subject, a tenant; and finding its records sealed under old keys.

// observed is what Observe stores about one user of a tenant, or a part of
// it, to check it is all still there or all gone.
type observed struct {
	tenant, user string
	memories     []*store.Memory // mentioned and labelled
	episodes     []*store.Episode
	entities     []*store.Entity // stored with their nameKeys
	facts        []*store.Fact
	keys         []*store.WrappedKey
	mentions     []store.EntityMention
	topics       [][]byte // labels of the memories, unique to them
}

// observe stores, for one user of a tenant: a memory of the user's subject
// mentioning two entities and labelled with a topic, the two entities (each
// with its own keys), an episode and two facts of the user's subject, and
// the subject's key.
func (f *fx) observe(tenantID, userID string) *observed {
	f.t.Helper()
	s := store.PurposeSubject
	subject := "user:" + userID
	if userID == "" {
		subject = "tenant"
	}
	sc := engram.Scope{UserID: userID}
	m := memory(tenantID, sc, 1)
	m.Subject = subject
	e1, e2 := entity(tenantID, userID, 1), entity(tenantID, userID, 2)
	ep := episode(tenantID, sc, 1)
	ep.Subject = subject
	f1, f2 := fact(tenantID, sc, e1.ID, e2.ID, 1), fact(tenantID, sc, e2.ID, "", 2)
	f1.Subject, f2.Subject = subject, subject
	o := &observed{tenant: tenantID, user: userID, memories: []*store.Memory{m}, episodes: []*store.Episode{ep},
		entities: []*store.Entity{e1, e2}, facts: []*store.Fact{f1, f2},
		keys: []*store.WrappedKey{
			wrappedKey(tenantID, s, subject, 1),
			wrappedKey(tenantID, s, e1.Subject, 1), wrappedKey(tenantID, s, e1.Subject, 2),
			wrappedKey(tenantID, s, e2.Subject, 1),
		},
		mentions: []store.EntityMention{{EntityID: e1.ID, MemoryID: m.ID}, {EntityID: e2.ID, MemoryID: m.ID}},
		topics:   [][]byte{tok("topic " + m.ID)},
	}
	f.insert([]store.Posting{posting("w", 1)}, m)
	f.insertEntities(e1, e2)
	f.insertEpisodes(ep)
	f.insertFacts(f1, f2)
	f.putKeys(o.keys...)
	f.addMentions(tenantID, o.mentions...)
	f.mustWrite(func(tx store.Tx) error { return tx.SetTopics(f.ctx, tenantID, m.ID, userID, o.topics) })
	return o
}

// entityKeys and subjectKey split o's keys.
func (o *observed) entityKeys() []*store.WrappedKey { return o.keys[1:] }
func (o *observed) subjectKey() *store.WrappedKey   { return o.keys[0] }

// checkObserved fails unless every record of o is stored as given (present)
// or none can be found by any of the ways to look it up (!present).
func (f *fx) checkObserved(what string, o *observed, present bool) {
	f.t.Helper()
	t, a := f.t, o.tenant
	if present {
		f.checkPresent(what, &records{memories: o.memories, keys: o.keys})
	} else {
		f.checkGone(what, &records{memories: o.memories, keys: o.keys})
	}
	pending := idsOf(mustGet(f, func(tx store.Tx) ([]store.Episode, error) { return tx.PendingEpisodes(f.ctx, 1000) }), episodeID)
	for _, e := range o.episodes {
		got, err := f.episode(a, e.ID)
		listed := idsOf(mustGet(f, func(tx store.Tx) ([]store.Episode, error) {
			return tx.ListEpisodes(f.ctx, a, e.UserID, "", "", "", 1000)
		}), episodeID)
		if present {
			if err != nil {
				t.Errorf("%s: Episode: %v", what, err)
				continue
			}
			checkEqual(t, what+": Episode", got, e)
			if !slices.Contains(listed, e.ID) || !slices.Contains(pending, e.ID) {
				t.Errorf("%s: episode missing from ListEpisodes or PendingEpisodes", what)
			}
			continue
		}
		wantErr(t, what+": Episode", err, store.ErrNotFound)
		if slices.Contains(listed, e.ID) || slices.Contains(pending, e.ID) {
			t.Errorf("%s: ListEpisodes or PendingEpisodes still lists an episode", what)
		}
	}
	for _, e := range o.entities {
		got, err := f.entity(a, e.ID)
		byKeys := f.entitiesByKeys(a, e.UserID, nameKeys(e)...)
		listed := idsOf(mustGet(f, func(tx store.Tx) ([]store.Entity, error) {
			return tx.ListEntities(f.ctx, a, "", true, "", "", 1000)
		}), entityID)
		if present {
			if err != nil {
				t.Errorf("%s: Entity: %v", what, err)
				continue
			}
			checkEqual(t, what+": Entity", got, e)
			if !slices.Equal(byKeys, []string{e.ID}) || !slices.Contains(listed, e.ID) {
				t.Errorf("%s: EntitiesByKeys = %q; listed %v", what, byKeys, slices.Contains(listed, e.ID))
			}
			continue
		}
		wantErr(t, what+": Entity", err, store.ErrNotFound)
		if len(byKeys) != 0 || slices.Contains(listed, e.ID) {
			t.Errorf("%s: EntitiesByKeys = %q; listed %v; want neither", what, byKeys, slices.Contains(listed, e.ID))
		}
	}
	for _, fc := range o.facts {
		got, err := f.fact(a, fc.ID)
		of := idsOf(f.factsOf(a, fc.SubjectEntity), factID)
		listed := idsOf(mustGet(f, func(tx store.Tx) ([]store.Fact, error) {
			return tx.ListFacts(f.ctx, a, store.FactFilter{AllUsers: true, Limit: 1000})
		}), factID)
		if present {
			if err != nil {
				t.Errorf("%s: Fact: %v", what, err)
				continue
			}
			checkEqual(t, what+": Fact", got, fc)
			if !slices.Contains(of, fc.ID) || !slices.Contains(listed, fc.ID) {
				t.Errorf("%s: fact missing from FactsOf or ListFacts", what)
			}
			continue
		}
		wantErr(t, what+": Fact", err, store.ErrNotFound)
		if slices.Contains(of, fc.ID) || slices.Contains(listed, fc.ID) {
			t.Errorf("%s: FactsOf or ListFacts still lists a fact", what)
		}
	}
	for _, m := range o.mentions {
		got := mentionStrings(f.mentionedIn(a, 1000, m.EntityID))
		if slices.Contains(got, mention(m.EntityID, m.MemoryID)) != present {
			t.Errorf("%s: MentionedIn = %q, link present %v, want %v", what, got, !present, present)
		}
	}
	counts := topicStrings(mustGet(f, func(tx store.Tx) ([]store.TopicCount, error) {
		return tx.TopicCounts(f.ctx, a, o.user, false)
	}))
	for _, tk := range o.topics {
		if slices.Contains(counts, fmt.Sprintf("%x=1", tk)) != present {
			t.Errorf("%s: TopicCounts = %q, label present %v, want %v", what, counts, !present, present)
		}
	}
}

func testDeleteEntity(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	s := store.PurposeSubject
	e, other, third := entity(a, "u1", 1), entity(a, "u1", 2), entity(a, "u1", 3)
	theirs := entity(b, "u1", 4)
	f.insertEntities(e, other, third, theirs)
	sc := engram.Scope{UserID: "u1"}
	fS, fO, fLit := fact(a, sc, e.ID, other.ID, 1), fact(a, sc, other.ID, e.ID, 2), fact(a, sc, e.ID, "", 3)
	fKeep, fKeepLit := fact(a, sc, other.ID, third.ID, 4), fact(a, sc, third.ID, "", 5)
	// The same id in another tenant's fact is another tenant's business.
	fB := fact(b, sc, e.ID, theirs.ID, 6)
	f.insertFacts(fS, fO, fLit, fKeep, fKeepLit, fB)
	m1, m2, mb := memory(a, sc, 1), memory(a, sc, 2), memory(b, sc, 3)
	f.insert(nil, m1, m2, mb)
	f.addMentions(a, store.EntityMention{EntityID: e.ID, MemoryID: m1.ID}, store.EntityMention{EntityID: e.ID, MemoryID: m2.ID},
		store.EntityMention{EntityID: other.ID, MemoryID: m1.ID})
	f.addMentions(b, store.EntityMention{EntityID: theirs.ID, MemoryID: mb.ID})
	goneKeys := []*store.WrappedKey{wrappedKey(a, s, e.Subject, 1), wrappedKey(a, s, e.Subject, 2), wrappedKey(a, s, e.Subject, 3)}
	keptKeys := []*store.WrappedKey{
		wrappedKey(a, s, other.Subject, 1),
		wrappedKey(a, s, "user:u1", 1),
		// Owners name subjects only for the subject purpose.
		wrappedKey(a, "tenant", e.Subject, 1),
		wrappedKey(b, s, e.Subject, 1),
		wrappedKey(b, s, theirs.Subject, 1),
	}
	f.putKeys(append(slices.Clone(goneKeys), keptKeys...)...)

	gone := &observed{tenant: a, user: "u1", entities: []*store.Entity{e}, facts: []*store.Fact{fS, fO, fLit}, keys: goneKeys,
		mentions: []store.EntityMention{{EntityID: e.ID, MemoryID: m1.ID}, {EntityID: e.ID, MemoryID: m2.ID}}}
	kept := &observed{tenant: a, user: "u1", memories: []*store.Memory{m1, m2}, entities: []*store.Entity{other, third},
		facts: []*store.Fact{fKeep, fKeepLit}, keys: keptKeys,
		mentions: []store.EntityMention{{EntityID: other.ID, MemoryID: m1.ID}}}
	keptB := &observed{tenant: b, user: "u1", memories: []*store.Memory{mb}, entities: []*store.Entity{theirs},
		facts: []*store.Fact{fB}, mentions: []store.EntityMention{{EntityID: theirs.ID, MemoryID: mb.ID}}}

	// From another tenant: not found, and nothing forgotten, even in a
	// transaction that goes on to commit.
	var errOther error
	f.mustWrite(func(tx store.Tx) error {
		_, errOther = tx.DeleteEntity(f.ctx, b, e.ID)
		return nil
	})
	wantErr(t, "DeleteEntity in another tenant", errOther, store.ErrNotFound)
	f.checkObserved("entity after a delete from another tenant", gone, true)
	f.checkObserved("another tenant after its failed delete", keptB, true)

	var er *store.EntityErasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		er, err = tx.DeleteEntity(f.ctx, a, e.ID)
		return err
	})
	checkEqual(t, "EntityErasure", er, &store.EntityErasure{Facts: 3, Mentions: 2, Keys: 3})
	f.checkObserved("forgotten entity", gone, false)
	f.checkObserved("other entities", kept, true)
	f.checkObserved("another tenant", keptB, true)
	for _, tk := range nameKeys(e) {
		if got := f.entitiesByKeys(a, "u1", tk); len(got) != 0 {
			t.Errorf("EntitiesByKeys after DeleteEntity = %q, want none", got)
		}
	}

	err := f.write(func(tx store.Tx) error {
		_, err := tx.DeleteEntity(f.ctx, a, e.ID)
		return err
	})
	wantErr(t, "DeleteEntity twice", err, store.ErrNotFound)
}

func testDeleteUserObservations(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	u1, u2, none, theirs := f.observe(a, "u1"), f.observe(a, "u2"), f.observe(a, ""), f.observe(b, "u1")

	var e *store.Erasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteUserObservations(f.ctx, a, "u1")
		return err
	})
	checkEqual(t, "Erasure", e, &store.Erasure{Keys: 3, Episodes: 1, Entities: 2, Facts: 2})

	f.checkObserved("the user's observations", &observed{tenant: a, user: "u1", episodes: u1.episodes,
		entities: u1.entities, facts: u1.facts, keys: u1.entityKeys(), mentions: u1.mentions, topics: u1.topics}, false)
	// The user's memories and their subject key are not observations.
	f.checkObserved("the user's memories", &observed{tenant: a, user: "u1", memories: u1.memories,
		keys: []*store.WrappedKey{u1.subjectKey()}}, true)
	f.checkObserved("another user", u2, true)
	f.checkObserved("no user", none, true)
	f.checkObserved("the user in another tenant", theirs, true)

	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteUserObservations(f.ctx, a, "u1")
		return err
	})
	checkEqual(t, "Erasure of nothing", e, &store.Erasure{})
}

func testDeleteSubjectObservations(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	u1, u2, theirs := f.observe(a, "u1"), f.observe(a, "u2"), f.observe(b, "u1")

	var e *store.Erasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteSubject(f.ctx, a, "user:u1")
		return err
	})
	checkEqual(t, "Erasure", e, &store.Erasure{Memories: 1, Keys: 1, Episodes: 1, Facts: 2})

	f.checkObserved("the subject's records", &observed{tenant: a, user: "u1", memories: u1.memories,
		episodes: u1.episodes, facts: u1.facts, keys: []*store.WrappedKey{u1.subjectKey()}, mentions: u1.mentions,
		topics: u1.topics}, false)
	// Entities are subjects of their own.
	f.checkObserved("the user's entities", &observed{tenant: a, user: "u1", entities: u1.entities,
		keys: u1.entityKeys()}, true)
	f.checkObserved("another subject", u2, true)
	f.checkObserved("the subject in another tenant", theirs, true)
}

func testDeleteTenantObservations(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	u1, none, theirs := f.observe(a, "u1"), f.observe(a, ""), f.observe(b, "u1")
	f.mustWrite(func(tx store.Tx) error {
		return errors.Join(tx.PutTenantSetting(f.ctx, a, "minimise", "on"), tx.PutTenantSetting(f.ctx, b, "minimise", "off"))
	})

	var e *store.Erasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteTenant(f.ctx, a)
		return err
	})
	checkEqual(t, "Erasure", e, &store.Erasure{Memories: 2, Keys: 8, Episodes: 2, Entities: 4, Facts: 4})

	f.checkObserved("the erased tenant's user", u1, false)
	f.checkObserved("the erased tenant's shared records", none, false)
	_, err := get(f, func(tx store.Tx) (string, error) { return tx.TenantSetting(f.ctx, a, "minimise") })
	wantErr(t, "TenantSetting of the erased tenant", err, store.ErrNotFound)
	f.checkTopics("the erased tenant", a, "", true)
	f.mustRead(func(tx store.Tx) error {
		es, err := tx.ListEntities(f.ctx, a, "", true, "", "", 10)
		fs, err2 := tx.ListFacts(f.ctx, a, store.FactFilter{AllUsers: true, Limit: 10})
		eps, err3 := tx.ListEpisodes(f.ctx, a, "", "", "", "", 10)
		if err := errors.Join(err, err2, err3); err != nil || len(es)+len(fs)+len(eps) != 0 {
			t.Errorf("the erased tenant lists %d entities, %d facts, %d episodes, %v; want none", len(es), len(fs), len(eps), err)
		}
		return nil
	})

	f.checkObserved("the other tenant", theirs, true)
	got, err := get(f, func(tx store.Tx) (string, error) { return tx.TenantSetting(f.ctx, b, "minimise") })
	if err != nil || got != "off" {
		t.Errorf("TenantSetting of the other tenant = %q, %v, want off", got, err)
	}
}

func testStaleObservations(f *fx) {
	a, b := f.tenant(), f.tenant()
	s := store.PurposeSubject
	sc := engram.Scope{UserID: "u1"}
	ent1, ent2, ent3 := entity(a, "u1", 1), entity(a, "u1", 2), entity(a, "u1", 3)
	ent2.KeyVersion = 2
	entB := entity(b, "u1", 4)
	f.insertEntities(ent1, ent2, ent3, entB)
	f.putKeys(
		wrappedKey(a, s, "s1", 1), wrappedKey(a, s, "s1", 2), wrappedKey(b, s, "s1", 1),
		// ent1 and ent2 have a version 2; ent3 has only version 1.
		wrappedKey(a, s, ent1.Subject, 1), wrappedKey(a, s, ent1.Subject, 2),
		wrappedKey(a, s, ent2.Subject, 1), wrappedKey(a, s, ent2.Subject, 2),
		wrappedKey(a, s, ent3.Subject, 1),
		// A key of entB's subject in another tenant, or of another purpose,
		// does not make it stale.
		wrappedKey(b, s, entB.Subject, 1), wrappedKey(a, s, entB.Subject, 5), wrappedKey(b, "tenant", entB.Subject, 5),
	)
	sealedUnder := func(subject string, version int) func(*store.Episode, *store.Fact) {
		return func(e *store.Episode, fc *store.Fact) {
			if e != nil {
				e.Subject, e.KeyVersion = subject, version
			}
			if fc != nil {
				fc.Subject, fc.KeyVersion = subject, version
			}
		}
	}
	ep1, ep2, epB := episode(a, sc, 1), episode(a, sc, 2), episode(b, sc, 3)
	fa1, fa2, fb := fact(a, sc, ent1.ID, "", 1), fact(a, sc, ent2.ID, "", 2), fact(b, sc, entB.ID, "", 3)
	sealedUnder("s1", 1)(ep1, fa1)
	sealedUnder("s1", 2)(ep2, fa2)
	sealedUnder("s1", 1)(epB, fb)
	f.insertEpisodes(ep1, ep2, epB)
	f.insertFacts(fa1, fa2, fb)

	f.checkStale("tenant A", a,
		stale("episode", ep1.ID, "s1", 1),
		stale("entity", ent1.ID, ent1.Subject, 1),
		stale("fact", fa1.ID, "s1", 1),
	)
	f.checkStale("tenant B", b)

	// Sealing them again under the newest version makes them current.
	f.mustWrite(func(tx store.Tx) error {
		e, n, fc := *ep1, *ent1, *fa1
		e.KeyVersion, e.Messages = 2, sealed("messages under v2")
		n.KeyVersion, n.Body = 2, sealed("entity under v2")
		fc.KeyVersion, fc.Body = 2, sealed("fact under v2")
		return errors.Join(tx.UpdateEpisode(f.ctx, &e), tx.UpdateEntity(f.ctx, &n, nil), tx.UpdateFact(f.ctx, &fc))
	})
	f.checkStale("tenant A after resealing", a)

	// A new version of B's s1 key makes B's episode and fact stale.
	f.putKeys(wrappedKey(b, s, "s1", 2))
	f.checkStale("tenant B after rotating s1", b, stale("episode", epB.ID, "s1", 1), stale("fact", fb.ID, "s1", 1))
	f.checkStale("tenant A after B's rotation", a)
}
