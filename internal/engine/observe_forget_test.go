package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
)

// entityTrace is everything an entity left in the store, read before it
// is forgotten: its sealed body, its wrapped keys, its blind index tokens,
// and the facts and mentions naming it.
type entityTrace struct {
	id, user string
	body     []byte
	keys     [][]byte
	tokens   [][]byte
	facts    map[string][]byte // id -> sealed body
	mentions int
}

func traceEntity(t *testing.T, st store.Store, dir, tenantID, id string) *entityTrace {
	t.Helper()
	ctx := context.Background()
	tr := &entityTrace{id: id, facts: map[string][]byte{}}
	err := st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.Entity(ctx, tenantID, id)
		if err != nil {
			return err
		}
		tr.body, tr.user = rec.Body, rec.UserID
		ks, err := tx.Keys(ctx, tenantID, store.PurposeSubject)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.Owner == "e:"+id {
				tr.keys = append(tr.keys, k.Wrapped)
			}
		}
		fs, err := tx.FactsOf(ctx, tenantID, []string{id})
		if err != nil {
			return err
		}
		for _, f := range fs {
			tr.facts[f.ID] = f.Body
		}
		ms, err := tx.MentionedIn(ctx, tenantID, []string{id}, 1000)
		tr.mentions = len(ms)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The blind index has no reader by entity in the store interface.
	db, err := sql.Open("sqlite", filepath.Join(dir, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT token FROM entity_keys WHERE tenant_id = ? AND entity_id = ?`, tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tok []byte
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		tr.tokens = append(tr.tokens, tok)
	}
	if len(tr.body) == 0 || len(tr.keys) == 0 || len(tr.tokens) == 0 {
		t.Fatalf("entity trace: body %d bytes, %d keys, %d index tokens", len(tr.body), len(tr.keys), len(tr.tokens))
	}
	return tr
}

// gone checks the store and the engine hold nothing of a forgotten entity,
// then scans the data directory for its bytes.
func (tr *entityTrace) gone(t *testing.T, e *engine.Engine, ctx context.Context, st store.Store, dir, tenantID string, names ...string) {
	t.Helper()
	_, err := e.GetEntity(ctx, tr.id)
	obsWantCode(t, err, engram.CodeNotFound)
	for id := range tr.facts {
		_, err := e.GetFact(ctx, id)
		obsWantCode(t, err, engram.CodeNotFound)
	}
	err = st.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.Entity(ctx, tenantID, tr.id); err == nil {
			t.Error("the entity row remains")
		}
		ks, err := tx.Keys(ctx, tenantID, store.PurposeSubject)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.Owner == "e:"+tr.id {
				t.Errorf("version %d of the entity's key remains", k.Version)
			}
		}
		fs, err := tx.FactsOf(ctx, tenantID, []string{tr.id})
		if err != nil {
			return err
		}
		if len(fs) != 0 {
			t.Errorf("%d facts still name the entity", len(fs))
		}
		ms, err := tx.MentionedIn(ctx, tenantID, []string{tr.id}, 1000)
		if err != nil {
			return err
		}
		if len(ms) != 0 {
			t.Errorf("%d mentions of the entity remain", len(ms))
		}
		ids, err := tx.EntitiesByKeys(ctx, tenantID, tr.user, tr.tokens)
		if err != nil {
			return err
		}
		if slices.Contains(ids, tr.id) {
			t.Error("the blind name index still finds the entity")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing names it in any listing.
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: tr.user, IncludeInvalid: true, Limit: engram.MaxFactLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Subject.ID == tr.id || (f.Object != nil && f.Object.ID == tr.id) || tr.facts[f.ID] != nil {
			t.Errorf("fact %s names the forgotten entity", f.ID)
		}
	}
	for _, n := range names {
		hits, err := e.SearchFacts(ctx, engram.FactSearch{UserID: tr.user, Query: n})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range hits {
			if f.Subject.ID == tr.id || (f.Object != nil && f.Object.ID == tr.id) || strings.Contains(strings.ToLower(f.Fact), strings.ToLower(n)) {
				t.Errorf("fact search for the forgotten name finds fact %s", f.ID)
			}
		}
		list, err := e.ListEntities(ctx, engram.EntityQuery{UserID: tr.user, Query: n})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range list.Results {
			if en.ID == tr.id {
				t.Error("the forgotten entity is still listed")
			}
		}
	}
	g, err := e.ReadGraph(ctx, engram.Scope{UserID: tr.user})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		for _, ge := range g.Entities {
			if strings.EqualFold(ge.Name, n) {
				t.Errorf("the graph still holds entity %q", n)
			}
		}
		for _, r := range g.Relations {
			if strings.EqualFold(r.From, n) || strings.EqualFold(r.To, n) {
				t.Errorf("the graph still holds a relation of %q", n)
			}
		}
	}
	// And no copy of its ciphertext is left in any file, WAL included.
	needles := map[string][]byte{"entity body": tr.body}
	for i, k := range tr.keys {
		needles[fmt.Sprintf("wrapped key %d", i)] = k
	}
	for i, tok := range tr.tokens {
		needles[fmt.Sprintf("index token %d", i)] = tok
	}
	for id, b := range tr.facts {
		needles["body of fact "+id] = b
	}
	scanDataDir(t, dir, needles, func(file, name string) { t.Errorf("%s still holds the forgotten entity's %s", file, name) })
}

func entityNamed(t *testing.T, e *engine.Engine, ctx context.Context, user, name string) engram.Entity {
	t.Helper()
	list, err := e.ListEntities(ctx, engram.EntityQuery{UserID: user, Query: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range list.Results {
		if strings.EqualFold(en.Name, name) {
			return en
		}
	}
	t.Fatalf("no entity named %q", name)
	return engram.Entity{}
}

// TestObserveForgetEntity crypto-shreds an entity learned from
// conversations and named by facts (as subject and as object).
func TestObserveForgetEntity(t *testing.T) {
	e, dir, st := observeEngine(t)
	nt, ctx := owner(t, e)
	friend, city, job := marker(t), marker(t), marker(t)
	observe(t, e, ctx, "alice", fmt.Sprintf("My friend %s lives in %s. I work at %s.", friend, city, job), "2024-01-10")
	observe(t, e, ctx, "alice", fmt.Sprintf("%s works at %s too.", friend, job), "2024-02-10")
	observe(t, e, ctx, "alice", fmt.Sprintf("I visited %s.", city), "2024-03-10")
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "alice", Subject: "alice", Predicate: "knows", Object: friend}); err != nil {
		t.Fatal(err)
	}
	en := entityNamed(t, e, ctx, "alice", friend)
	tr := traceEntity(t, st, dir, nt.Tenant.ID, en.ID)
	if len(tr.facts) < 3 || tr.mentions < 2 {
		t.Fatalf("the entity has %d facts and %d mentions, want at least 3 and 2", len(tr.facts), tr.mentions)
	}
	cityID := entityNamed(t, e, ctx, "alice", city).ID

	er, err := e.ForgetEntity(ctx, en.ID)
	if err != nil {
		t.Fatal(err)
	}
	if er.EntityID != en.ID || er.Facts != len(tr.facts) || er.Mentions != tr.mentions || er.Keys != len(tr.keys) {
		t.Errorf("receipt %+v, want %d facts, %d mentions, %d keys", er, len(tr.facts), tr.mentions, len(tr.keys))
	}
	tr.gone(t, e, ctx, st, dir, nt.Tenant.ID, friend)
	_, err = e.ForgetEntity(ctx, en.ID)
	obsWantCode(t, err, engram.CodeNotFound)

	// The others stay whole, and the name can come back as a new entity.
	if c, err := e.GetEntity(ctx, cityID); err != nil || !strings.EqualFold(c.Name, city) || len(c.Facts) == 0 {
		t.Fatalf("the city after forgetting the friend: %v", err)
	}
	observe(t, e, ctx, "alice", fmt.Sprintf("My friend %s lives in %s.", friend, city), "2024-04-10")
	if again := entityNamed(t, e, ctx, "alice", friend); again.ID == en.ID {
		t.Error("the forgotten entity's id came back")
	}
}

// TestObserveDeleteEntitiesByName is the MCP memory server's
// delete_entities: the same crypto-shredding, found by name.
func TestObserveDeleteEntitiesByName(t *testing.T) {
	e, dir, st := observeEngine(t)
	nt, ctx := owner(t, e)
	scope := engram.Scope{UserID: "bob"}
	gone, kept := marker(t), marker(t)
	if _, err := e.CreateEntities(ctx, scope, []engram.GraphEntity{
		{Name: gone, EntityType: "person", Observations: []string{"likes " + marker(t), "lives near " + marker(t)}},
		{Name: kept, EntityType: "organisation", Observations: []string{"founded long ago"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateRelations(ctx, scope, []engram.GraphRelation{{From: gone, To: kept, RelationType: "works_at"},
		{From: kept, To: gone, RelationType: "employs"}}); err != nil {
		t.Fatal(err)
	}
	en := entityNamed(t, e, ctx, "bob", gone)
	tr := traceEntity(t, st, dir, nt.Tenant.ID, en.ID)
	if len(tr.facts) != 4 {
		t.Fatalf("the entity has %d facts, want 2 observations and 2 relations", len(tr.facts))
	}
	if err := e.DeleteEntities(ctx, scope, []string{strings.ToUpper(gone), "nobody at all"}); err != nil {
		t.Fatal(err)
	}
	tr.gone(t, e, ctx, st, dir, nt.Tenant.ID, gone)
	g, err := e.ReadGraph(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Entities) != 1 || g.Entities[0].Name != kept || len(g.Entities[0].Observations) != 1 || len(g.Relations) != 0 {
		t.Errorf("graph after delete: %+v", g)
	}
}
