package mcptest

import (
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The Observe and memory-server tools: the shapes they return, helpers,
// and scenarios both transports run.

// EntityRef names an entity in results.
type EntityRef struct {
	ID, Name, Type, Event string
}

// Observed is the output of observe.
type Observed struct {
	Notice    string `json:"notice"`
	EpisodeID string `json:"episode_id"`
	Status    string `json:"status"`
	Memories  []struct{ ID, Memory, Event string }
	Entities  []EntityRef
	Facts     []struct{ ID, Fact, Event string }
}

// Fact is a fact as search_facts and get_entity return it.
type Fact struct {
	ID        string     `json:"id"`
	Fact      string     `json:"fact"`
	Subject   EntityRef  `json:"subject"`
	Predicate string     `json:"predicate"`
	Object    *EntityRef `json:"object"`
	Value     string     `json:"value"`
	ValidAt   string     `json:"valid_at"`
	InvalidAt string     `json:"invalid_at"`
	UserID    string     `json:"user_id"`
}

// Entity is an entity as list_entities and get_entity return it.
type Entity struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Aliases  []string `json:"aliases"`
	Mentions int64    `json:"mentions"`
	UserID   string   `json:"user_id"`
	Facts    []Fact   `json:"facts"`
}

// ObserveConversation observes lines said by Alice (in user's scope) on
// 2025-06-01 and returns the episode.
func ObserveConversation(t *testing.T, cs *sdk.ClientSession, user string, lines ...string) Observed {
	t.Helper()
	msgs := make([]any, len(lines))
	for i, l := range lines {
		msgs[i] = map[string]any{"role": "user", "name": "Alice", "content": l, "timestamp": "2025-06-01T10:00:00Z"}
	}
	var ep Observed
	MustCall(t, cs, "observe", map[string]any{"messages": msgs, "user_id": user}).Decode(t, &ep)
	return ep
}

// EntityNames are the entities' names, sorted.
func EntityNames(es []Entity) []string {
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	return names
}

// ListEntities calls list_entities.
func ListEntities(t *testing.T, cs *sdk.ClientSession, args map[string]any) []Entity {
	t.Helper()
	var out struct{ Results []Entity }
	MustCall(t, cs, "list_entities", args).Decode(t, &out)
	return out.Results
}

// SearchFacts calls search_facts.
func SearchFacts(t *testing.T, cs *sdk.ClientSession, args map[string]any) []Fact {
	t.Helper()
	var out struct{ Results []Fact }
	MustCall(t, cs, "search_facts", args).Decode(t, &out)
	return out.Results
}

// ObserveLifecycle walks a conversation through the Observe tools: observe
// stores it and extracts entities and facts; list_entities and get_entity
// find them; search_facts answers with the current fact, and as_of with
// the one that held before; forget_entity makes the entity unreadable.
func ObserveLifecycle(t *testing.T, cs *sdk.ClientSession) {

	ep := ObserveConversation(t, cs, "alice", "I live in Paris.")
	if ep.Status != "done" || ep.EpisodeID == "" || len(ep.Memories) != 1 || len(ep.Facts) == 0 || ep.Notice == "" {
		t.Fatalf("observe = %+v", ep)
	}
	var moved Observed
	MustCall(t, cs, "observe", map[string]any{"user_id": "alice", "messages": []any{
		map[string]any{"role": "user", "name": "Alice", "content": "I moved to Berlin.", "timestamp": "2025-09-01T10:00:00Z"},
	}}).Decode(t, &moved)
	if !slices.ContainsFunc(moved.Facts, func(f struct{ ID, Fact, Event string }) bool { return f.Event == "add" }) {
		t.Fatalf("the move added no fact: %+v", moved)
	}

	es := ListEntities(t, cs, map[string]any{"user_id": "alice"})
	if names := EntityNames(es); !slices.Contains(names, "Paris") || !slices.Contains(names, "Berlin") || !slices.Contains(names, "Alice") {
		t.Fatalf("list_entities = %v", names)
	}
	// Another user's scope holds none of them.
	if other := ListEntities(t, cs, map[string]any{"user_id": "bob"}); len(other) != 0 {
		t.Fatalf("bob sees %v", EntityNames(other))
	}
	var berlin Entity
	for _, e := range ListEntities(t, cs, map[string]any{"user_id": "alice", "query": "Berlin"}) {
		if e.Name == "Berlin" {
			berlin = e
		}
	}
	if berlin.ID == "" || berlin.Type != "place" {
		t.Fatalf("list_entities query Berlin: %+v", berlin)
	}

	g := MustCall(t, cs, "get_entity", map[string]any{"id": berlin.ID})
	var got struct {
		Notice string
		Entity Entity
	}
	g.Decode(t, &got)
	if got.Entity.ID != berlin.ID || got.Entity.Name != "Berlin" || len(got.Entity.Facts) == 0 {
		t.Fatalf("get_entity = %+v", got)
	}
	if !strings.Contains(g.Text, `<entity id="`+berlin.ID+`"`) || !strings.Contains(g.Text, "untrusted") {
		t.Fatalf("get_entity text does not frame the entity:\n%s", g.Text)
	}

	// Now: Berlin. As of July: Paris, since ended.
	now := SearchFacts(t, cs, map[string]any{"query": "where does Alice live", "user_id": "alice"})
	if len(now) == 0 || now[0].Object == nil || now[0].Object.Name != "Berlin" || now[0].InvalidAt != "" {
		t.Fatalf("search_facts now = %+v", now)
	}
	then := SearchFacts(t, cs, map[string]any{"query": "where does Alice live", "user_id": "alice", "as_of": "2025-07-01T00:00:00Z"})
	if len(then) == 0 || then[0].Object == nil || then[0].Object.Name != "Paris" {
		t.Fatalf("search_facts as of July = %+v", then)
	}

	var receipt struct {
		EntityID string `json:"entity_id"`
		Keys     int    `json:"keys_destroyed"`
	}
	MustCall(t, cs, "forget_entity", map[string]any{"id": berlin.ID}).Decode(t, &receipt)
	if receipt.EntityID != berlin.ID || receipt.Keys < 1 {
		t.Fatalf("forget_entity = %+v", receipt)
	}
	WantError(t, cs, "not_found", "get_entity", map[string]any{"id": berlin.ID})
	if names := EntityNames(ListEntities(t, cs, map[string]any{"user_id": "alice"})); slices.Contains(names, "Berlin") {
		t.Fatalf("Berlin listed after forget: %v", names)
	}
}

// Graph is the output of read_graph, search_nodes and open_nodes.
type Graph struct {
	Entities []struct {
		Name         string   `json:"name"`
		EntityType   string   `json:"entityType"`
		Observations []string `json:"observations"`
	} `json:"entities"`
	Relations []struct {
		From         string `json:"from"`
		To           string `json:"to"`
		RelationType string `json:"relationType"`
	} `json:"relations"`
}

// Names are the entities' names, sorted.
func (g Graph) Names() []string {
	var n []string
	for _, e := range g.Entities {
		n = append(n, e.Name)
	}
	slices.Sort(n)
	return n
}

// ReadGraph calls tool (read_graph, search_nodes or open_nodes).
func ReadGraph(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) Graph {
	t.Helper()
	var g Graph
	MustCall(t, cs, tool, args).Decode(t, &g)
	return g
}

// GraphLifecycle: the nine memory-server tools end to end in user carol's
// scope, with what Engram does differently: a relation to an entity that
// does not exist and an observation on one are refused (not_found) and
// write nothing; another user's scope and the unscoped graph stay empty.
func GraphLifecycle(t *testing.T, cs *sdk.ClientSession) {
	u := func(args map[string]any) map[string]any { args["user_id"] = "carol"; return args }
	ent := func(name, typ string, obs ...string) map[string]any {
		o := []any{}
		for _, x := range obs {
			o = append(o, x)
		}
		return map[string]any{"name": name, "entityType": typ, "observations": o}
	}
	rel := func(from, to, typ string) map[string]any {
		return map[string]any{"from": from, "to": to, "relationType": typ}
	}

	MustCall(t, cs, "create_entities", u(map[string]any{"entities": []any{ent("Alice", "person", "likes tea"), ent("Acme", "organisation"), ent("Lyon", "place")}}))
	MustCall(t, cs, "create_relations", u(map[string]any{"relations": []any{rel("Alice", "Acme", "works_at"), rel("Alice", "Lyon", "lives_in")}}))
	WantError(t, cs, "not_found", "create_relations", u(map[string]any{"relations": []any{rel("Alice", "Lyon", "visits"), rel("Alice", "Nowhere", "visits")}}))
	MustCall(t, cs, "add_observations", u(map[string]any{"observations": []any{map[string]any{"entityName": "Acme", "contents": []any{"makes anvils"}}}}))
	WantError(t, cs, "not_found", "add_observations", u(map[string]any{"observations": []any{
		map[string]any{"entityName": "Alice", "contents": []any{"half written"}},
		map[string]any{"entityName": "Nobody", "contents": []any{"x"}},
	}}))

	g := ReadGraph(t, cs, "read_graph", u(map[string]any{}))
	if !slices.Equal(g.Names(), []string{"Acme", "Alice", "Lyon"}) || len(g.Relations) != 2 {
		t.Fatalf("read_graph = %+v", g)
	}
	for _, e := range g.Entities {
		if e.Name == "Alice" && !slices.Equal(e.Observations, []string{"likes tea"}) {
			t.Fatalf("Alice's observations %v: the refused call wrote one", e.Observations)
		}
	}
	if g := ReadGraph(t, cs, "search_nodes", u(map[string]any{"query": "ANVIL"})); !slices.Equal(g.Names(), []string{"Acme"}) || len(g.Relations) != 1 {
		t.Fatalf("search_nodes anvil = %+v", g)
	}
	if g := ReadGraph(t, cs, "open_nodes", u(map[string]any{"names": []any{"Lyon"}})); !slices.Equal(g.Names(), []string{"Lyon"}) || len(g.Relations) != 1 || g.Relations[0].From != "Alice" {
		t.Fatalf("open_nodes Lyon = %+v", g)
	}
	for _, scope := range []map[string]any{{}, {"user_id": "bob"}} {
		if g := ReadGraph(t, cs, "read_graph", scope); len(g.Entities) != 0 || len(g.Relations) != 0 {
			t.Fatalf("read_graph %v = %+v", scope, g)
		}
	}

	MustCall(t, cs, "delete_observations", u(map[string]any{"deletions": []any{map[string]any{"entityName": "Alice", "observations": []any{"likes tea"}}}}))
	MustCall(t, cs, "delete_relations", u(map[string]any{"relations": []any{rel("Alice", "Lyon", "lives_in")}}))
	d := MustCall(t, cs, "delete_entities", u(map[string]any{"entityNames": []any{"Acme", "Unknown"}}))
	if d.Text != "Entities deleted successfully" {
		t.Fatalf("delete_entities text %q", d.Text)
	}
	g = ReadGraph(t, cs, "read_graph", u(map[string]any{}))
	if !slices.Equal(g.Names(), []string{"Alice", "Lyon"}) || len(g.Relations) != 0 {
		t.Fatalf("after deletes: %+v", g)
	}
	for _, e := range g.Entities {
		if len(e.Observations) != 0 {
			t.Fatalf("%s keeps observations %v", e.Name, e.Observations)
		}
	}
}
