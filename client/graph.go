package client

import (
	"context"
	"net/http"

	"github.com/engram-memory/engram"
)

// The graph methods make *Client an engram.GraphService: the official MCP
// memory server's nine operations, over POST /v1/graph/{tool}. Errors as
// the Observe methods (observe.go).
var _ engram.GraphService = (*Client)(nil)

// graphScope is the optional scope every graph body carries.
type graphScope struct {
	UserID  string `json:"user_id,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
	RunID   string `json:"run_id,omitempty"`
}

func scopeOf(s engram.Scope) graphScope {
	return graphScope{UserID: s.UserID, AgentID: s.AgentID, RunID: s.RunID}
}

func (c *Client) graph(ctx context.Context, tool string, in, out any) error {
	return c.call(ctx, http.MethodPost, "/v1/graph/"+tool, nil, in, out)
}

// CreateEntities creates the entities whose names are new and returns them.
func (c *Client) CreateEntities(ctx context.Context, scope engram.Scope, es []engram.GraphEntity) ([]engram.GraphEntity, error) {
	in := struct {
		Entities []engram.GraphEntity `json:"entities"`
		graphScope
	}{es, scopeOf(scope)}
	var out struct {
		Entities []engram.GraphEntity `json:"entities"`
	}
	err := c.graph(ctx, "create_entities", in, &out)
	return out.Entities, err
}

// CreateRelations creates the relations not already present and returns
// them.
func (c *Client) CreateRelations(ctx context.Context, scope engram.Scope, rs []engram.GraphRelation) ([]engram.GraphRelation, error) {
	in := struct {
		Relations []engram.GraphRelation `json:"relations"`
		graphScope
	}{rs, scopeOf(scope)}
	var out struct {
		Relations []engram.GraphRelation `json:"relations"`
	}
	err := c.graph(ctx, "create_relations", in, &out)
	return out.Relations, err
}

// graphObs is one entity's observations under the field name the tool
// uses (contents to add, observations to delete).
type graphObs struct {
	EntityName   string   `json:"entityName"`
	Contents     []string `json:"contents,omitempty"`
	Observations []string `json:"observations,omitempty"`
}

// AddObservations adds the observations each entity lacks and returns
// those added.
func (c *Client) AddObservations(ctx context.Context, scope engram.Scope, obs []engram.GraphObservations) ([]engram.GraphAdded, error) {
	list := make([]graphObs, len(obs))
	for i, o := range obs {
		list[i] = graphObs{EntityName: o.EntityName, Contents: nonNilStrings(o.Contents)}
	}
	in := struct {
		Observations []graphObs `json:"observations"`
		graphScope
	}{list, scopeOf(scope)}
	var out struct {
		Results []engram.GraphAdded `json:"results"`
	}
	err := c.graph(ctx, "add_observations", in, &out)
	return out.Results, err
}

// DeleteEntities forgets the named entities with their relations.
func (c *Client) DeleteEntities(ctx context.Context, scope engram.Scope, names []string) error {
	in := struct {
		EntityNames []string `json:"entityNames"`
		graphScope
	}{nonNilStrings(names), scopeOf(scope)}
	return c.graph(ctx, "delete_entities", in, nil)
}

// DeleteObservations removes the given observations.
func (c *Client) DeleteObservations(ctx context.Context, scope engram.Scope, dels []engram.GraphObservations) error {
	list := make([]graphObs, len(dels))
	for i, d := range dels {
		list[i] = graphObs{EntityName: d.EntityName, Observations: nonNilStrings(d.Observations)}
	}
	in := struct {
		Deletions []graphObs `json:"deletions"`
		graphScope
	}{list, scopeOf(scope)}
	return c.graph(ctx, "delete_observations", in, nil)
}

// DeleteRelations removes the given relations.
func (c *Client) DeleteRelations(ctx context.Context, scope engram.Scope, rs []engram.GraphRelation) error {
	in := struct {
		Relations []engram.GraphRelation `json:"relations"`
		graphScope
	}{rs, scopeOf(scope)}
	return c.graph(ctx, "delete_relations", in, nil)
}

// ReadGraph returns the scope's whole graph.
func (c *Client) ReadGraph(ctx context.Context, scope engram.Scope) (*engram.Graph, error) {
	var g engram.Graph
	if err := c.graph(ctx, "read_graph", scopeOf(scope), &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// SearchNodes returns the entities matching query and the relations among
// them.
func (c *Client) SearchNodes(ctx context.Context, scope engram.Scope, q string) (*engram.Graph, error) {
	in := struct {
		Query string `json:"query"`
		graphScope
	}{q, scopeOf(scope)}
	var g engram.Graph
	if err := c.graph(ctx, "search_nodes", in, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// OpenNodes returns the named entities and the relations among them.
func (c *Client) OpenNodes(ctx context.Context, scope engram.Scope, names []string) (*engram.Graph, error) {
	in := struct {
		Names []string `json:"names"`
		graphScope
	}{nonNilStrings(names), scopeOf(scope)}
	var g engram.Graph
	if err := c.graph(ctx, "open_nodes", in, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// nonNilStrings sends an empty list as [] (the server's schema wants an
// array, never null).
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
