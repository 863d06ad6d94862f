package storetest

import (
	"fmt"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// The links Observe keeps beside its records: which memories mention which
// entities, topic labels of memories, and tenant settings.

// mention renders a link, as mentionStrings renders results.
func mention(entityID, memoryID string) string { return entityID + "@" + memoryID }

// mentionStrings renders links in order.
func mentionStrings(ms []store.EntityMention) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = mention(m.EntityID, m.MemoryID)
	}
	return out
}

func (f *fx) mentionedIn(tenantID string, limit int, entityIDs ...string) []store.EntityMention {
	f.t.Helper()
	return mustGet(f, func(tx store.Tx) ([]store.EntityMention, error) {
		return tx.MentionedIn(f.ctx, tenantID, entityIDs, limit)
	})
}

// checkMentions compares MentionedIn with the links expected (in any order),
// and checks that they come newest memory first.
func (f *fx) checkMentions(what, tenantID string, entityIDs []string, want ...string) {
	f.t.Helper()
	got := f.mentionedIn(tenantID, 1000, entityIDs...)
	for i := 1; i < len(got); i++ {
		if got[i].MemoryID > got[i-1].MemoryID {
			f.t.Errorf("%s: MentionedIn not newest memory first: %q", what, mentionStrings(got))
			break
		}
	}
	g := slices.Sorted(slices.Values(mentionStrings(got)))
	if slices.Sort(want); !slices.Equal(g, want) {
		f.t.Errorf("%s: MentionedIn\n%q\nwant\n%q", what, g, want)
	}
}

func (f *fx) addMentions(tenantID string, ms ...store.EntityMention) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error { return tx.AddMentions(f.ctx, tenantID, ms) })
}

func testMentions(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	e1, e2, e3 := entity(a, "u1", 1), entity(a, "u1", 2), entity(a, "u1", 3)
	eb := entity(b, "u1", 4)
	f.insertEntities(e1, e2, e3, eb)
	sc := engram.Scope{UserID: "u1"}
	m1, m2, m3 := memory(a, sc, 1), memory(a, sc, 2), memory(a, sc, 3)
	mb := memory(b, sc, 4)
	f.insert(nil, m1, m2, m3, mb)

	f.addMentions(a, store.EntityMention{EntityID: e1.ID, MemoryID: m1.ID}, store.EntityMention{EntityID: e1.ID, MemoryID: m2.ID},
		store.EntityMention{EntityID: e2.ID, MemoryID: m2.ID})
	// Again, with one more: the links already there are kept, not doubled.
	f.addMentions(a, store.EntityMention{EntityID: e2.ID, MemoryID: m2.ID}, store.EntityMention{EntityID: e2.ID, MemoryID: m3.ID},
		store.EntityMention{EntityID: e1.ID, MemoryID: m1.ID})
	f.addMentions(a)
	f.addMentions(b, store.EntityMention{EntityID: eb.ID, MemoryID: mb.ID})

	f.checkMentions("e1", a, []string{e1.ID}, mention(e1.ID, m1.ID), mention(e1.ID, m2.ID))
	f.checkMentions("e1, e2", a, []string{e1.ID, e2.ID},
		mention(e1.ID, m1.ID), mention(e1.ID, m2.ID), mention(e2.ID, m2.ID), mention(e2.ID, m3.ID))
	f.checkMentions("e3", a, []string{e3.ID})
	f.checkMentions("none", a, nil)
	f.checkMentions("another tenant's entity", a, []string{eb.ID})
	f.checkMentions("another tenant", b, []string{e1.ID, e2.ID, eb.ID}, mention(eb.ID, mb.ID))

	// The limit keeps the newest memories, over batches of any reasonable
	// IN list too.
	many := []string{e1.ID}
	for range 1200 {
		many = append(many, newID())
	}
	many = append(many, e2.ID)
	f.checkMentions("many", a, many,
		mention(e1.ID, m1.ID), mention(e1.ID, m2.ID), mention(e2.ID, m2.ID), mention(e2.ID, m3.ID))
	for _, ask := range [][]string{{e1.ID, e2.ID}, many} {
		got := mentionStrings(f.mentionedIn(a, 1, ask...))
		if want := []string{mention(e2.ID, m3.ID)}; !slices.Equal(got, want) {
			t.Errorf("MentionedIn(%d entities, limit 1) = %q, want %q", len(ask), got, want)
		}
		got = mentionStrings(f.mentionedIn(a, 3, ask...))
		if len(got) != 3 || got[0] != mention(e2.ID, m3.ID) || !slices.Contains(got, mention(e1.ID, m2.ID)) ||
			!slices.Contains(got, mention(e2.ID, m2.ID)) {
			t.Errorf("MentionedIn(%d entities, limit 3) = %q, want m3's link then m2's two", len(ask), got)
		}
	}

	// A link across tenants is refused or ignored: it never shows.
	_ = f.write(func(tx store.Tx) error {
		return tx.AddMentions(f.ctx, a, []store.EntityMention{{EntityID: eb.ID, MemoryID: m1.ID}, {EntityID: e3.ID, MemoryID: mb.ID}})
	})
	f.checkMentions("another tenant's entity after a crossing link", a, []string{eb.ID})
	f.checkMentions("e3 after a crossing link", a, []string{e3.ID})
	f.checkMentions("another tenant after a crossing link", b, []string{eb.ID, e3.ID}, mention(eb.ID, mb.ID))

	// A merge moves e1's links to e2; m2, mentioned by both, once.
	f.mustWrite(func(tx store.Tx) error { return tx.MoveMentions(f.ctx, a, e1.ID, e2.ID) })
	f.checkMentions("e1 after the move", a, []string{e1.ID})
	f.checkMentions("e2 after the move", a, []string{e2.ID}, mention(e2.ID, m1.ID), mention(e2.ID, m2.ID), mention(e2.ID, m3.ID))
	// Another tenant's move does not touch A's links.
	f.mustWrite(func(tx store.Tx) error { return tx.MoveMentions(f.ctx, b, e2.ID, eb.ID) })
	f.checkMentions("e2 after another tenant's move", a, []string{e2.ID},
		mention(e2.ID, m1.ID), mention(e2.ID, m2.ID), mention(e2.ID, m3.ID))
	f.checkMentions("B after its move", b, []string{eb.ID, e2.ID}, mention(eb.ID, mb.ID))

	// Deleting a memory deletes its links.
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m2.ID) })
	f.checkMentions("e2 after DeleteMemory", a, []string{e2.ID}, mention(e2.ID, m1.ID), mention(e2.ID, m3.ID))
}

// topicStrings renders topic counts, sorted.
func topicStrings(cs []store.TopicCount) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%x=%d", c.Token, c.Memories)
	}
	slices.Sort(out)
	return out
}

// topic renders the count of a topic word, as topicStrings renders results.
func topic(word string, n int) string { return fmt.Sprintf("%x=%d", tok(word), n) }

func (f *fx) checkTopics(what, tenantID, userID string, all bool, want ...string) {
	f.t.Helper()
	got := mustGet(f, func(tx store.Tx) ([]store.TopicCount, error) { return tx.TopicCounts(f.ctx, tenantID, userID, all) })
	if slices.Sort(want); !slices.Equal(topicStrings(got), want) {
		f.t.Errorf("%s: TopicCounts\n%q\nwant\n%q", what, topicStrings(got), want)
	}
}

func (f *fx) setTopics(tenantID, memoryID, userID string, words ...string) {
	f.t.Helper()
	var tokens [][]byte
	for _, w := range words {
		tokens = append(tokens, tok(w))
	}
	f.mustWrite(func(tx store.Tx) error { return tx.SetTopics(f.ctx, tenantID, memoryID, userID, tokens) })
}

func testTopics(f *fx) {
	a, b := f.tenant(), f.tenant()
	u1, u2 := engram.Scope{UserID: "u1"}, engram.Scope{UserID: "u2"}
	m1, m2, m3, m4 := memory(a, u1, 1), memory(a, u1, 2), memory(a, u2, 3), memory(a, engram.Scope{}, 4)
	mb := memory(b, u1, 5)
	f.insert(nil, m1, m2, m3, m4, mb)
	f.setTopics(a, m1.ID, "u1", "travel", "work")
	f.setTopics(a, m2.ID, "u1", "travel")
	f.setTopics(a, m3.ID, "u2", "travel", "food")
	f.setTopics(a, m4.ID, "", "work")
	f.setTopics(b, mb.ID, "u1", "travel")

	f.checkTopics("u1", a, "u1", false, topic("travel", 2), topic("work", 1))
	f.checkTopics("u2", a, "u2", false, topic("travel", 1), topic("food", 1))
	f.checkTopics("no user", a, "", false, topic("work", 1))
	f.checkTopics("nobody", a, "nobody", false)
	f.checkTopics("every user", a, "u1", true, topic("travel", 3), topic("work", 2), topic("food", 1))
	f.checkTopics("another tenant", b, "u1", true, topic("travel", 1))

	// SetTopics replaces the memory's labels.
	f.setTopics(a, m1.ID, "u1", "food")
	f.checkTopics("u1 after relabelling", a, "u1", false, topic("travel", 1), topic("food", 1))
	f.setTopics(a, m2.ID, "u1")
	f.checkTopics("u1 after removing labels", a, "u1", false, topic("food", 1))
	f.setTopics(a, m2.ID, "u1", "work", "work")
	f.checkTopics("u1 after a label twice", a, "u1", false, topic("food", 1), topic("work", 1))
	f.checkTopics("another tenant after A's labels", b, "u1", false, topic("travel", 1))

	// Deleting a memory deletes its labels.
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteMemory(f.ctx, a, m1.ID) })
	f.checkTopics("u1 after DeleteMemory", a, "u1", false, topic("work", 1))
	f.checkTopics("every user after DeleteMemory", a, "", true, topic("travel", 1), topic("food", 1), topic("work", 2))
}

func testTenantSettings(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	setting := func(tenantID, name string) (string, error) {
		return get(f, func(tx store.Tx) (string, error) { return tx.TenantSetting(f.ctx, tenantID, name) })
	}
	put := func(tenantID, name, value string) {
		t.Helper()
		f.mustWrite(func(tx store.Tx) error { return tx.PutTenantSetting(f.ctx, tenantID, name, value) })
	}
	check := func(what, tenantID, name, want string) {
		t.Helper()
		got, err := setting(tenantID, name)
		if err != nil || got != want {
			t.Errorf("%s: TenantSetting(%s) = %q, %v, want %q", what, name, got, err, want)
		}
	}

	_, err := setting(a, "minimise")
	wantErr(t, "TenantSetting(unset)", err, store.ErrNotFound)
	put(a, "minimise", "on")
	put(a, "retention", "30d")
	put(b, "minimise", "")
	check("set", a, "minimise", "on")
	check("set", a, "retention", "30d")
	check("empty", b, "minimise", "")
	_, err = setting(b, "retention")
	wantErr(t, "TenantSetting(set in another tenant)", err, store.ErrNotFound)

	put(a, "minimise", "off")
	check("replaced", a, "minimise", "off")
	check("beside the replaced one", a, "retention", "30d")
	check("another tenant's after a replacement", b, "minimise", "")
}
