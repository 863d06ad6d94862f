package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// The knowledge-graph operations of the official MCP memory server
// (@modelcontextprotocol/server-memory), one POST route per tool, with that
// server's argument names, so that `engram mcp` on stdio can offer its nine
// tools through the REST client. Each body may add user_id, agent_id and
// run_id to choose the scope.

type graphEntityBody struct {
	Name         string   `json:"name" minLength:"1" maxLength:"256"`
	EntityType   string   `json:"entityType" maxLength:"256" doc:"person, organisation, place, … or any other label."`
	Observations []string `json:"observations,omitempty" maxItems:"100" doc:"Free-text notes about the entity (each at most 1 KiB)."`
}

type graphRelationBody struct {
	From         string `json:"from" minLength:"1" maxLength:"256"`
	To           string `json:"to" minLength:"1" maxLength:"256"`
	RelationType string `json:"relationType" minLength:"1" maxLength:"64" doc:"In active voice: works_at, knows, …"`
}

type graphAddObsBody struct {
	EntityName string   `json:"entityName" minLength:"1" maxLength:"256"`
	Contents   []string `json:"contents,omitempty" maxItems:"100"`
}

type graphDelObsBody struct {
	EntityName   string   `json:"entityName" minLength:"1" maxLength:"256"`
	Observations []string `json:"observations,omitempty" maxItems:"100"`
}

type graphCreateEntitiesInput struct {
	Body struct {
		Entities []graphEntityBody `json:"entities" maxItems:"100"`
		ScopeFields
	}
}

type graphRelationsInput struct {
	Body struct {
		Relations []graphRelationBody `json:"relations" maxItems:"100"`
		ScopeFields
	}
}

type graphAddObservationsInput struct {
	Body struct {
		Observations []graphAddObsBody `json:"observations" maxItems:"100"`
		ScopeFields
	}
}

type graphDeleteEntitiesInput struct {
	Body struct {
		EntityNames []string `json:"entityNames" maxItems:"100"`
		ScopeFields
	}
}

type graphDeleteObservationsInput struct {
	Body struct {
		Deletions []graphDelObsBody `json:"deletions" maxItems:"100"`
		ScopeFields
	}
}

type graphScopeInput struct {
	Body *struct{ ScopeFields }
}

type graphSearchInput struct {
	Body struct {
		Query string `json:"query" minLength:"1" maxLength:"4096" doc:"Matched, case-insensitively, against names, types and observations."`
		ScopeFields
	}
}

type graphOpenInput struct {
	Body struct {
		Names []string `json:"names" maxItems:"100"`
		ScopeFields
	}
}

type graphEntitiesOutput struct {
	Body struct {
		Entities []engram.GraphEntity `json:"entities"`
	}
}

type graphRelationsOutput struct {
	Body struct {
		Relations []engram.GraphRelation `json:"relations"`
	}
}

type graphOutput struct{ Body *engram.Graph }

func graphOp(tool, summary string, status int) huma.Operation {
	id := "graph"
	for _, w := range strings.Split(tool, "_") {
		id += strings.ToUpper(w[:1]) + w[1:]
	}
	o := op(id, http.MethodPost, "/v1/graph/"+tool, summary, status, "graph")
	o.Description = "The " + tool + " tool of the official MCP memory server, over REST. Entities are Engram entities found by exact name within the scope; observations and relations are facts."
	return o
}

func registerGraph(api huma.API, svc engram.GraphService) {
	if svc == nil {
		return
	}
	huma.Register(api, graphOp("create_entities", "Create the entities whose names are new; returns them", http.StatusOK),
		func(ctx context.Context, in *graphCreateEntitiesInput) (*graphEntitiesOutput, error) {
			es := make([]engram.GraphEntity, len(in.Body.Entities))
			for i, e := range in.Body.Entities {
				es[i] = engram.GraphEntity{Name: e.Name, EntityType: e.EntityType, Observations: nonNil(e.Observations)}
			}
			got, err := svc.CreateEntities(ctx, in.Body.scope(), es)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &graphEntitiesOutput{}
			out.Body.Entities = graphEntities(got)
			return out, nil
		})

	huma.Register(api, graphOp("create_relations", "Create relations not already present; returns them", http.StatusOK),
		func(ctx context.Context, in *graphRelationsInput) (*graphRelationsOutput, error) {
			got, err := svc.CreateRelations(ctx, in.Body.scope(), graphRelations(in.Body.Relations))
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &graphRelationsOutput{}
			out.Body.Relations = nonNil(got)
			return out, nil
		})

	huma.Register(api, graphOp("add_observations", "Add observations to existing entities; returns those added", http.StatusOK),
		func(ctx context.Context, in *graphAddObservationsInput) (*resultsBody[engram.GraphAdded], error) {
			obs := make([]engram.GraphObservations, len(in.Body.Observations))
			for i, o := range in.Body.Observations {
				obs[i] = engram.GraphObservations{EntityName: o.EntityName, Contents: o.Contents}
			}
			got, err := svc.AddObservations(ctx, in.Body.scope(), obs)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			for i := range got {
				got[i].AddedObservations = nonNil(got[i].AddedObservations)
			}
			out := &resultsBody[engram.GraphAdded]{}
			out.Body.Results = nonNil(got)
			return out, nil
		})

	huma.Register(api, graphOp("delete_entities", "Forget entities by name, with their relations", http.StatusNoContent), func(ctx context.Context, in *graphDeleteEntitiesInput) (*struct{}, error) {
		return nil, problemOrNil(ctx, svc.DeleteEntities(ctx, in.Body.scope(), in.Body.EntityNames))
	})

	huma.Register(api, graphOp("delete_observations", "Remove observations from entities", http.StatusNoContent),
		func(ctx context.Context, in *graphDeleteObservationsInput) (*struct{}, error) {
			dels := make([]engram.GraphObservations, len(in.Body.Deletions))
			for i, d := range in.Body.Deletions {
				dels[i] = engram.GraphObservations{EntityName: d.EntityName, Observations: d.Observations}
			}
			return nil, problemOrNil(ctx, svc.DeleteObservations(ctx, in.Body.scope(), dels))
		})

	huma.Register(api, graphOp("delete_relations", "Remove relations", http.StatusNoContent),
		func(ctx context.Context, in *graphRelationsInput) (*struct{}, error) {
			return nil, problemOrNil(ctx, svc.DeleteRelations(ctx, in.Body.scope(), graphRelations(in.Body.Relations)))
		})

	huma.Register(api, graphOp("read_graph", "The whole graph of the scope", http.StatusOK),
		func(ctx context.Context, in *graphScopeInput) (*graphOutput, error) {
			var scope engram.Scope
			if in.Body != nil {
				scope = in.Body.scope()
			}
			g, err := svc.ReadGraph(ctx, scope)
			return graphAnswer(ctx, g, err)
		})

	huma.Register(api, graphOp("search_nodes", "Entities whose name, type or observations contain the query, and the relations among them", http.StatusOK),
		func(ctx context.Context, in *graphSearchInput) (*graphOutput, error) {
			g, err := svc.SearchNodes(ctx, in.Body.scope(), in.Body.Query)
			return graphAnswer(ctx, g, err)
		})

	huma.Register(api, graphOp("open_nodes", "The named entities and the relations among them", http.StatusOK),
		func(ctx context.Context, in *graphOpenInput) (*graphOutput, error) {
			g, err := svc.OpenNodes(ctx, in.Body.scope(), in.Body.Names)
			return graphAnswer(ctx, g, err)
		})
}

func problemOrNil(ctx context.Context, err error) error {
	if err != nil {
		return problemOf(ctx, err)
	}
	return nil
}

func graphRelations(rs []graphRelationBody) []engram.GraphRelation {
	out := make([]engram.GraphRelation, len(rs))
	for i, r := range rs {
		out[i] = engram.GraphRelation(r)
	}
	return out
}

func graphEntities(es []engram.GraphEntity) []engram.GraphEntity {
	for i := range es {
		es[i].Observations = nonNil(es[i].Observations)
	}
	return nonNil(es)
}

func graphAnswer(ctx context.Context, g *engram.Graph, err error) (*graphOutput, error) {
	if err != nil {
		return nil, problemOf(ctx, err)
	}
	g.Entities = graphEntities(g.Entities)
	g.Relations = nonNil(g.Relations)
	return &graphOutput{Body: g}, nil
}
