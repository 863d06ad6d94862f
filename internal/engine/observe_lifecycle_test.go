package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// lifeStory is observed for a user: entities, facts, topics and a pattern.
var lifeStory = []string{
	"My friend Rosa Tamm lives in Tallinn. I work at Skype and I love sailing.",
	"I love sailing. I went hiking and my doctor says my health is fine.",
	"I love sailing. I adopted a dog named Pilvi.",
}

// otherStory shares no name with lifeStory: blind name tokens are per
// tenant, so the same name told by two users has the same tokens.
var otherStory = []string{
	"My friend Joaquim Ferreira lives in Porto. I work at Nokia and I love chess.",
	"I love chess. I cooked pasta and my doctor says my health is fine.",
}

func tell(t *testing.T, e *engine.Engine, ctx context.Context, user string) []string {
	return tellStory(t, e, ctx, user, lifeStory)
}

func tellStory(t *testing.T, e *engine.Engine, ctx context.Context, user string, story []string) []string {
	t.Helper()
	var eps []string
	for i, text := range story {
		eps = append(eps, observe(t, e, ctx, user, text, fmt.Sprintf("2024-0%d-05", i+1)).ID)
	}
	return eps
}

// userRecords is what the store holds of one user's observations.
type userRecords struct {
	episodes []store.Episode
	entities []store.Entity
	facts    []store.Fact
}

func recordsOf(t *testing.T, st store.Store, tenantID, user string) userRecords {
	t.Helper()
	ctx := context.Background()
	var r userRecords
	err := st.Read(ctx, func(tx store.Tx) (err error) {
		if r.episodes, err = tx.ListEpisodes(ctx, tenantID, user, "", "", "", 1000); err != nil {
			return err
		}
		if r.entities, err = tx.ListEntities(ctx, tenantID, user, false, "", "", 1000); err != nil {
			return err
		}
		r.facts, err = tx.ListFacts(ctx, tenantID, store.FactFilter{UserID: user, Limit: 1000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestObserveForgetUser erases one user's episodes, entities (with their
// keys), facts and topic labels, leaves another user's untouched, and no
// ciphertext of the erased user is left in the data directory.
func TestObserveForgetUser(t *testing.T) {
	e, dir, st := observeEngine(t)
	nt, ctx := owner(t, e)
	aliceEps := tell(t, e, ctx, "alice")
	tellStory(t, e, ctx, "bob", otherStory)
	before := recordsOf(t, st, nt.Tenant.ID, "alice")
	bobBefore := recordsOf(t, st, nt.Tenant.ID, "bob")
	if len(before.entities) < 4 || len(before.facts) < 4 || len(before.episodes) != 3 {
		t.Fatalf("alice has %d entities, %d facts, %d episodes", len(before.entities), len(before.facts), len(before.episodes))
	}
	traces := make([]*entityTrace, len(before.entities))
	for i, en := range before.entities {
		traces[i] = traceEntity(t, st, dir, nt.Tenant.ID, en.ID)
	}
	bobTopics, err := e.Topics(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	aliceTopics, err := e.Topics(ctx, "alice")
	if err != nil || len(aliceTopics) < 3 {
		t.Fatalf("alice's topics: %v %v", aliceTopics, err)
	}
	if ps, err := e.Patterns(ctx, "alice"); err != nil || len(ps) == 0 {
		t.Fatalf("alice's patterns: %d %v", len(ps), err)
	}

	er, err := e.ForgetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if er.Episodes != 3 || er.Entities != len(before.entities) || er.Facts != len(before.facts) || er.Memories < 3 ||
		er.Keys < 1+len(before.entities) {
		t.Errorf("receipt %+v, want 3 episodes, %d entities, %d facts and %d keys", er, len(before.entities), len(before.facts),
			1+len(before.entities))
	}
	if after := recordsOf(t, st, nt.Tenant.ID, "alice"); len(after.episodes)+len(after.entities)+len(after.facts) != 0 {
		t.Errorf("left in the store: %d episodes, %d entities, %d facts", len(after.episodes), len(after.entities), len(after.facts))
	}
	for _, id := range aliceEps {
		_, err := e.Episode(ctx, id)
		obsWantCode(t, err, engram.CodeNotFound)
	}
	if ts, err := e.Topics(ctx, "alice"); err != nil || len(ts) != 0 {
		t.Errorf("alice's topics after erasure: %v %v", ts, err)
	}
	if ps, err := e.Patterns(ctx, "alice"); err != nil || len(ps) != 0 {
		t.Errorf("alice's patterns after erasure: %d %v", len(ps), err)
	}
	if all, err := e.Topics(ctx, ""); err != nil || !slices.Equal(all, bobTopics) {
		t.Errorf("the tenant's topics after erasure %v, want bob's %v (%v)", all, bobTopics, err)
	}
	if l, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "alice"}); err != nil || len(l.Results) != 0 {
		t.Errorf("alice's entities after erasure: %v", err)
	}
	if bobAfter := recordsOf(t, st, nt.Tenant.ID, "bob"); len(bobAfter.entities) != len(bobBefore.entities) ||
		len(bobAfter.facts) != len(bobBefore.facts) || len(bobAfter.episodes) != len(bobBefore.episodes) {
		t.Error("bob lost records in alice's erasure")
	}
	if fs, err := e.Facts(ctx, engram.FactQuery{UserID: "bob"}); err != nil || len(fs) == 0 {
		t.Errorf("bob's facts: %d %v", len(fs), err)
	}
	for _, tr := range traces {
		tr.gone(t, e, ctx, st, dir, nt.Tenant.ID)
	}
	needles := map[string][]byte{}
	for _, ep := range before.episodes {
		needles["messages of episode "+ep.ID] = ep.Messages
	}
	for _, f := range before.facts {
		needles["body of fact "+f.ID] = f.Body
	}
	scanDataDir(t, dir, needles, func(file, name string) { t.Errorf("%s still holds alice's %s", file, name) })
	_, err = e.ForgetUser(ctx, "alice")
	obsWantCode(t, err, engram.CodeNotFound)
}

// TestObserveForgetTenant: deleting a tenant removes every episode,
// entity, entity key and fact of it, and counts them in the receipt.
func TestObserveForgetTenant(t *testing.T) {
	e, dir, st := observeEngine(t)
	gone, kept := tenantCtx(t, e, "gone"), tenantCtx(t, e, "kept")
	tell(t, e, gone, "alice")
	tell(t, e, kept, "alice")
	goneID := engram.PrincipalFrom(gone).TenantID
	keptID := engram.PrincipalFrom(kept).TenantID
	before := recordsOf(t, st, goneID, "alice")
	keptBefore := recordsOf(t, st, keptID, "alice")
	er, err := e.ForgetTenant(context.Background(), "gone")
	if err != nil {
		t.Fatal(err)
	}
	if er.Episodes != len(before.episodes) || er.Entities != len(before.entities) || er.Facts != len(before.facts) {
		t.Errorf("receipt %+v, want %d episodes, %d entities, %d facts", er, len(before.episodes), len(before.entities), len(before.facts))
	}
	if after := recordsOf(t, st, goneID, "alice"); len(after.episodes)+len(after.entities)+len(after.facts) != 0 {
		t.Error("records of the deleted tenant remain")
	}
	err = st.Read(context.Background(), func(tx store.Tx) error {
		ks, err := tx.Keys(context.Background(), goneID, store.PurposeSubject)
		if len(ks) != 0 {
			t.Errorf("%d subject keys of the deleted tenant remain", len(ks))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := recordsOf(t, st, keptID, "alice"); len(k.facts) != len(keptBefore.facts) || len(k.entities) != len(keptBefore.entities) {
		t.Error("the other tenant lost records")
	}
	needles := map[string][]byte{}
	for _, en := range before.entities {
		needles["body of entity "+en.ID] = en.Body
	}
	for _, f := range before.facts {
		needles["body of fact "+f.ID] = f.Body
	}
	scanDataDir(t, dir, needles, func(file, name string) { t.Errorf("%s still holds the deleted tenant's %s", file, name) })
}

// TestObserveKeyRotation rotates the tenant's keys: episodes, entities
// (their own keys) and facts are stale until re-encryption moves them to
// the new versions; retiring keys meanwhile destroys none they use; they
// open throughout, and after a restart.
func TestObserveKeyRotation(t *testing.T) {
	e, dir, st := observeEngine(t)
	nt, ctx := owner(t, e)
	tenantID := nt.Tenant.ID
	tell(t, e, ctx, "alice")
	if _, err := e.CreateEntities(ctx, engram.Scope{UserID: "alice"}, []engram.GraphEntity{{Name: "Kalev", EntityType: "person",
		Observations: []string{"builds boats"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "alice", Subject: "Kalev", Predicate: "lives_in", Object: "Tartu"}); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, e, ctx)
	before := recordsOf(t, st, tenantID, "alice")
	// Another process's view of the same keys, to retire keys at will.
	kk, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.New(st, kk, nil)

	rot, err := e.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := len(before.episodes) + len(before.entities) + len(before.facts)
	if rot.Pending < n {
		t.Fatalf("%d records pending after rotation, want at least the %d observed", rot.Pending, n)
	}
	if got := readAll(t, e, ctx); !slices.Equal(got, want) {
		t.Errorf("after rotation, before re-encryption: %v, want %v", got, want)
	}
	if k, err := ring.RetireSubjectKeys(ctx, tenantID); err != nil || k != 0 {
		t.Fatalf("retired %d key versions still in use (%v)", k, err)
	}
	moved, remaining, err := e.Reencrypt(ctx, tenantID, n/2)
	if err != nil || moved != n/2 || remaining == 0 {
		t.Fatalf("partial re-encryption: moved %d, %d remaining, %v", moved, remaining, err)
	}
	if k, err := ring.RetireSubjectKeys(ctx, tenantID); err != nil || k != 0 {
		t.Fatalf("retired %d key versions still in use halfway (%v)", k, err)
	}
	if got := readAll(t, e, ctx); !slices.Equal(got, want) {
		t.Errorf("halfway: %v, want %v", got, want)
	}
	for remaining > 0 {
		if _, remaining, err = e.Reencrypt(ctx, tenantID, 100); err != nil {
			t.Fatal(err)
		}
	}
	after := recordsOf(t, st, tenantID, "alice")
	latest := map[string]int{}
	err = st.Read(ctx, func(tx store.Tx) error {
		ks, err := tx.Keys(ctx, tenantID, store.PurposeSubject)
		for _, k := range ks {
			if latest[k.Owner] != 0 {
				t.Errorf("subject %s keeps two key versions after re-encryption", k.Owner)
			}
			latest[k.Owner] = k.Version
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(kind, id, subject string, v int) {
		if v != 2 || latest[subject] != 2 {
			t.Errorf("%s %s under key version %d (subject's newest %d), want 2", kind, id, v, latest[subject])
		}
	}
	for _, r := range after.episodes {
		check("episode", r.ID, r.Subject, r.KeyVersion)
	}
	for _, r := range after.entities {
		check("entity", r.ID, r.Subject, r.KeyVersion)
	}
	for _, r := range after.facts {
		check("fact", r.ID, r.Subject, r.KeyVersion)
	}
	if len(after.entities) != len(before.entities) || len(after.facts) != len(before.facts) {
		t.Error("re-encryption lost records")
	}
	for i := range after.entities {
		if slices.Equal(after.entities[i].Body, before.entities[i].Body) {
			t.Errorf("entity %s was not resealed", after.entities[i].ID)
		}
	}
	if got := readAll(t, e, ctx); !slices.Equal(got, want) {
		t.Errorf("after re-encryption: %v, want %v", got, want)
	}
	// A fresh engine (no cached keys) reads them too, and resolution
	// still finds the entities by name (the blind index is not rotated).
	fresh := testserver.OpenEngine(t, dir, nil)
	p, err := fresh.Authenticate(context.Background(), nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	fctx := engram.WithPrincipal(context.Background(), p)
	if got := readAll(t, fresh, fctx); !slices.Equal(got, want) {
		t.Errorf("after a restart: %v, want %v", got, want)
	}
	observe(t, fresh, fctx, "alice", "Rosa Tamm moved to Tartu.", "2024-05-01")
	oneNamed(t, fresh, fctx, "alice", "Rosa Tamm")
	oneNamed(t, fresh, fctx, "alice", "Tartu")
}

// readAll is everything the tenant's owner reads of alice's observations,
// as sorted lines.
func readAll(t *testing.T, e *engine.Engine, ctx context.Context) []string {
	t.Helper()
	var out []string
	eps, _, err := e.Episodes(ctx, engram.Scope{UserID: "alice"}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		full, err := e.Episode(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range full.Messages {
			out = append(out, "message "+m.Content)
		}
	}
	list, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "alice", Limit: engram.MaxEntityLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range list.Results {
		full, err := e.GetEntity(ctx, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("entity %s %s %v %v", full.Name, full.Type, full.Aliases, full.Observations))
	}
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: "alice", IncludeInvalid: true, Limit: engram.MaxFactLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("fact %s %s=%s %s", f.Subject.Name, f.Predicate, valueOf(f), f.Fact))
	}
	slices.Sort(out)
	return out
}

// TestObserveMinimisation: with the tenant's data minimisation on, an
// episode keeps no messages once extracted (nothing sealed in the row), its
// entities and facts are made all the same, and key rotation moves it; off
// again, episodes keep their messages.
func TestObserveMinimisation(t *testing.T) {
	e, _, st := observeEngine(t)
	nt, ctx := owner(t, e)
	if err := e.SetDiscardEpisodeText(context.Background(), "t", true); err != nil {
		t.Fatal(err)
	}
	ep := observe(t, e, ctx, "gus", "My friend Anna Kask lives in Tartu.", "2024-01-10")
	if len(ep.Facts) == 0 {
		t.Fatal("no fact extracted")
	}
	stored := func(id string) *store.Episode {
		t.Helper()
		var rec *store.Episode
		if err := st.Read(ctx, func(tx store.Tx) (err error) { rec, err = tx.Episode(ctx, nt.Tenant.ID, id); return err }); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := stored(ep.ID); rec.Messages != nil {
		t.Errorf("the minimised episode row holds %d bytes of messages", len(rec.Messages))
	}
	if got, err := e.Episode(ctx, ep.ID); err != nil || len(got.Messages) != 0 || len(got.Facts) == 0 {
		t.Fatalf("minimised episode: %v", err)
	}
	if _, err := e.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	for remaining := 1; remaining > 0; {
		var err error
		if _, remaining, err = e.Reencrypt(ctx, nt.Tenant.ID, 100); err != nil {
			t.Fatal(err)
		}
	}
	if rec := stored(ep.ID); rec.KeyVersion != 2 || rec.Messages != nil {
		t.Errorf("after re-encryption: key version %d, %d bytes of messages", rec.KeyVersion, len(rec.Messages))
	}
	if err := e.SetDiscardEpisodeText(context.Background(), "t", false); err != nil {
		t.Fatal(err)
	}
	kept := observe(t, e, ctx, "gus", "I work at Skype.", "2024-02-10")
	if got, err := e.Episode(ctx, kept.ID); err != nil || len(got.Messages) != 1 || got.Messages[0].Content != "I work at Skype." {
		t.Errorf("episode with minimisation off: %v", err)
	}
}
