package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// observed is what one tenant's observations made, by id.
type observed struct {
	ctx      context.Context
	entities map[string]string // id -> user
	facts    map[string]string
	episodes []string
}

// sameNames is a conversation every tenant and user tells, word for word.
var sameNames = []string{
	"My friend Marta Quist lives in Lisbon. I work at Globex.",
	"Marta Quist works at Initech. I play the cello.",
	"I moved to Lisbon last month. Marta Quist loves sailing.",
}

// TestObserveTenantsIsolated has three tenants, two users each, observe
// the same conversation concurrently: no tenant can reach another's
// entities, facts or episodes by id, listings hold only their own, and
// the two users of a tenant each get their own entities.
func TestObserveTenantsIsolated(t *testing.T) {
	e, _, _ := observeEngine(t)
	users := []string{"alice", "bob"}
	ts := make([]*observed, 3)
	for i := range ts {
		ts[i] = &observed{ctx: tenantCtx(t, e, fmt.Sprintf("tenant-%d", i)), entities: map[string]string{}, facts: map[string]string{}}
	}
	var mu sync.Mutex
	concurrently(t, len(ts)*len(users), len(sameNames), func(w, i int) error {
		o, user := ts[w/len(users)], users[w%len(users)]
		ep, err := e.Observe(o.ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: user},
			Messages: []engram.ObserveMessage{{Role: "user", Content: sameNames[i], Timestamp: day(fmt.Sprintf("2024-0%d-01", i+1))}}})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		o.episodes = append(o.episodes, ep.ID)
		for _, en := range ep.Entities {
			o.entities[en.ID] = user
		}
		for _, f := range ep.Facts {
			o.facts[f.ID] = user
		}
		return nil
	})
	for i, o := range ts {
		if len(o.entities) == 0 || len(o.facts) == 0 {
			t.Fatalf("tenant %d made %d entities and %d facts", i, len(o.entities), len(o.facts))
		}
		// Listings hold exactly the tenant's own records.
		list, err := e.ListEntities(o.ctx, engram.EntityQuery{Limit: engram.MaxEntityLimit})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, en := range list.Results {
			got = append(got, en.ID)
			if o.entities[en.ID] != en.UserID {
				t.Errorf("tenant %d lists entity %s of user %q, not its own", i, en.ID, en.UserID)
			}
		}
		if len(got) != len(o.entities) {
			t.Errorf("tenant %d lists %d entities, made %d", i, len(got), len(o.entities))
		}
		fs, err := e.Facts(o.ctx, engram.FactQuery{IncludeInvalid: true, Limit: engram.MaxFactLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if _, ok := o.facts[f.ID]; !ok {
				t.Errorf("tenant %d lists fact %s it did not make", i, f.ID)
			}
		}
		eps, _, err := e.Episodes(o.ctx, engram.Scope{}, "", engram.MaxListLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) != len(o.episodes) {
			t.Errorf("tenant %d lists %d episodes, made %d", i, len(eps), len(o.episodes))
		}
		for _, ep := range eps {
			if !slices.Contains(o.episodes, ep.ID) {
				t.Errorf("tenant %d lists episode %s it did not make", i, ep.ID)
			}
		}
		hits, err := e.SearchFacts(o.ctx, engram.FactSearch{Query: "where does Marta Quist work"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range hits {
			if _, ok := o.facts[f.ID]; !ok {
				t.Errorf("tenant %d finds fact %s it did not make", i, f.ID)
			}
		}
		// Two users, the same names: separate entities, one per name each.
		byUser := map[string]string{}
		for _, user := range users {
			l, err := e.ListEntities(o.ctx, engram.EntityQuery{UserID: user, Query: "Marta Quist"})
			if err != nil {
				t.Fatal(err)
			}
			exact := 0
			for _, en := range l.Results {
				if en.UserID != user {
					t.Errorf("tenant %d: user %s's query finds %s's entity", i, user, en.UserID)
				}
				if en.Name == "Marta Quist" {
					exact++
					byUser[user] = en.ID
				}
			}
			if exact != 1 {
				t.Errorf("tenant %d user %s: %d entities named Marta Quist, want 1", i, user, exact)
			}
			ufs, err := e.Facts(o.ctx, engram.FactQuery{UserID: user, Limit: engram.MaxFactLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range ufs {
				if f.UserID != user || o.facts[f.ID] != user {
					t.Errorf("tenant %d: user %s's facts hold %s of %q", i, user, f.ID, f.UserID)
				}
			}
		}
		for _, user := range users {
			g, err := e.ReadGraph(o.ctx, engram.Scope{UserID: user})
			if err != nil {
				t.Fatal(err)
			}
			own := 0
			for _, u := range o.entities {
				if u == user {
					own++
				}
			}
			if len(g.Entities) != own {
				t.Errorf("tenant %d: %s's graph holds %d entities, the tenant made %d for them", i, user, len(g.Entities), own)
			}
		}
		if byUser["alice"] == byUser["bob"] {
			t.Errorf("tenant %d: alice and bob share an entity", i)
		}
		_, err = e.MergeEntities(o.ctx, byUser["alice"], byUser["bob"])
		obsWantCode(t, err, engram.CodeConflict)
	}
	// Nothing of one tenant is reachable from another, by any id.
	for i, o := range ts {
		for j, other := range ts {
			if i == j {
				continue
			}
			// Every id is probed by reading; the writes (each an audited
			// call) by one id of each kind.
			probe := true
			for id := range other.entities {
				_, err := e.GetEntity(o.ctx, id)
				obsWantCode(t, err, engram.CodeNotFound)
				if probe {
					_, err = e.ForgetEntity(o.ctx, id)
					obsWantCode(t, err, engram.CodeNotFound)
					if fs, err := e.Facts(o.ctx, engram.FactQuery{EntityID: id, IncludeInvalid: true}); err != nil || len(fs) != 0 {
						t.Errorf("tenant %d lists %d facts of tenant %d's entity (%v)", i, len(fs), j, err)
					}
				}
				probe = false
			}
			probe = true
			for id := range other.facts {
				_, err := e.GetFact(o.ctx, id)
				obsWantCode(t, err, engram.CodeNotFound)
				if probe {
					obsWantCode(t, e.DeleteFact(o.ctx, id), engram.CodeNotFound)
				}
				probe = false
			}
			for _, id := range other.episodes {
				_, err := e.Episode(o.ctx, id)
				obsWantCode(t, err, engram.CodeNotFound)
			}
			var mine, theirs string
			for id := range o.entities {
				mine = id
				break
			}
			for id := range other.entities {
				theirs = id
				break
			}
			_, err := e.MergeEntities(o.ctx, mine, theirs)
			obsWantCode(t, err, engram.CodeNotFound)
		}
	}
	// The other tenants' records survived the attempts.
	for i, o := range ts {
		for id := range o.facts {
			if _, err := e.GetFact(o.ctx, id); err != nil {
				t.Errorf("tenant %d lost fact %s: %v", i, id, err)
			}
		}
	}
}

// TestObserveConcurrentCreateOneEntity: concurrent creates of one name in
// one scope, through the MCP graph and through conversations, make one
// entity.
func TestObserveConcurrentCreateOneEntity(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	scope := engram.Scope{UserID: "carol"}
	name := marker(t)
	var mu sync.Mutex
	created := 0
	concurrently(t, 4, 2, func(w, i int) error {
		got, err := e.CreateEntities(ctx, scope, []engram.GraphEntity{{Name: name, EntityType: "person",
			Observations: []string{fmt.Sprintf("seen by %d/%d", w, i)}}})
		mu.Lock()
		created += len(got)
		mu.Unlock()
		return err
	})
	if created != 1 {
		t.Errorf("%d creates reported the entity created, want 1", created)
	}
	oneNamed(t, e, ctx, "carol", name)

	// A first name the extractor knows: a bare random word is sometimes
	// typed a place in "X has 3 cats", and another type is another entity.
	other := "Anna " + marker(t)
	concurrently(t, 4, 2, func(w, i int) error {
		_, err := e.Observe(ctx, engram.ObserveRequest{Scope: scope, Messages: []engram.ObserveMessage{{Role: "user",
			Content: fmt.Sprintf("My friend %s lives in Oslo. %s has %d cats.", other, other, w*10+i), Timestamp: day("2024-05-01")}}})
		return err
	})
	en := oneNamed(t, e, ctx, "carol", other)
	if en.Mentions < 8 {
		t.Errorf("the entity counts %d mentions, want at least 8", en.Mentions)
	}
	oneNamed(t, e, ctx, "carol", "Oslo")
	// The same names in another scope are other entities.
	if _, err := e.CreateEntities(ctx, engram.Scope{UserID: "dave"}, []engram.GraphEntity{{Name: name}}); err != nil {
		t.Fatal(err)
	}
	if d := oneNamed(t, e, ctx, "dave", name); d.UserID != "dave" {
		t.Errorf("dave's entity belongs to %q", d.UserID)
	}
}

// oneNamed fails unless exactly one entity of user is named name, and
// returns it.
func oneNamed(t *testing.T, e *engine.Engine, ctx context.Context, user, name string) engram.Entity {
	t.Helper()
	list, err := e.ListEntities(ctx, engram.EntityQuery{UserID: user, Limit: engram.MaxEntityLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []engram.Entity
	for _, en := range list.Results {
		if strings.EqualFold(en.Name, name) || slices.ContainsFunc(en.Aliases, func(a string) bool { return strings.EqualFold(a, name) }) {
			out = append(out, en)
		}
	}
	if len(out) != 1 {
		var types []string
		for _, en := range out {
			types = append(types, en.Type+" "+en.Name)
		}
		t.Fatalf("user %s has %d entities named %q, want 1: %v", user, len(out), name, types)
	}
	return out[0]
}
