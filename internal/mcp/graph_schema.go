package mcp

import (
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/engram-memory/engram"
)

// The nine tools of the official MCP memory server
// (@modelcontextprotocol/server-memory): the same names, property names,
// types, required properties and descriptions, so that a host configured
// for that server calls Engram unchanged (TestMemoryServerSchemas holds
// them to the published schemas in testdata/server-memory.tools.json).
// Two things are added: an optional user_id on every tool (a property
// that server does not have, which its callers simply leave out), and
// bounds from limits.go, which that server does not have.

type graphEntityIn struct {
	Name         string   `json:"name" jsonschema:"The name of the entity"`
	EntityType   string   `json:"entityType" jsonschema:"The type of the entity"`
	Observations []string `json:"observations" jsonschema:"An array of observation contents associated with the entity"`
}

type graphRelationIn struct {
	From         string `json:"from" jsonschema:"The name of the entity where the relation starts"`
	To           string `json:"to" jsonschema:"The name of the entity where the relation ends"`
	RelationType string `json:"relationType" jsonschema:"The type of the relation"`
}

type graphScope struct {
	UserID string `json:"user_id,omitempty" jsonschema:"Engram only: the end user whose graph this is (an identifier). Absent: the graph not tied to a user."`
}

type createEntitiesInput struct {
	Entities []graphEntityIn `json:"entities"`
	graphScope
}

type createRelationsInput struct {
	Relations []graphRelationIn `json:"relations"`
	graphScope
}

type observationsIn struct {
	EntityName string   `json:"entityName" jsonschema:"The name of the entity to add the observations to"`
	Contents   []string `json:"contents" jsonschema:"An array of observation contents to add"`
}

type addObservationsInput struct {
	Observations []observationsIn `json:"observations"`
	graphScope
}

type deleteEntitiesInput struct {
	EntityNames []string `json:"entityNames" jsonschema:"An array of entity names to delete"`
	graphScope
}

type deletionIn struct {
	EntityName   string   `json:"entityName" jsonschema:"The name of the entity containing the observations"`
	Observations []string `json:"observations" jsonschema:"An array of observations to delete"`
}

type deleteObservationsInput struct {
	Deletions []deletionIn `json:"deletions"`
	graphScope
}

type deleteRelationsInput struct {
	Relations []graphRelationIn `json:"relations" jsonschema:"An array of relations to delete"`
	graphScope
}

type readGraphInput struct {
	graphScope
}

type searchNodesInput struct {
	Query string `json:"query" jsonschema:"The search query to match against entity names, types, and observation content"`
	graphScope
}

type openNodesInput struct {
	Names []string `json:"names" jsonschema:"An array of entity names to retrieve"`
	graphScope
}

// Outputs: that server's structured content, property for property.

type graphEntitiesOutput struct {
	Entities []graphEntityIn `json:"entities"`
}

type graphRelationsOutput struct {
	Relations []graphRelationIn `json:"relations"`
}

type graphAddedOut struct {
	EntityName        string   `json:"entityName"`
	AddedObservations []string `json:"addedObservations"`
}

type graphAddedOutput struct {
	Results []graphAddedOut `json:"results"`
}

type graphDeletedOutput struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

type graphOutput struct {
	Entities  []graphEntityIn   `json:"entities"`
	Relations []graphRelationIn `json:"relations"`
}

var (
	graphName        = text(1, engram.MaxNameBytes)
	graphType        = text(1, engram.MaxNameBytes)
	graphObservation = text(1, engram.MaxValueBytes)
	graphEntityItem  = fields(map[string]func(*jsonschema.Schema){
		"name": graphName, "entityType": graphType, "observations": items(0, engram.MaxGraphNames, graphObservation),
	})
	graphRelationItem = fields(map[string]func(*jsonschema.Schema){
		"from": graphName, "to": graphName, "relationType": text(1, engram.MaxNameBytes),
	})
	graphUser = map[string]func(*jsonschema.Schema){"user_id": text(0, engram.MaxScopeIDBytes)}
)

// graphSchema infers T's schema with plain arrays and applies the limits.
func graphSchema[T any](limits map[string]func(*jsonschema.Schema)) *jsonschema.Schema {
	m := map[string]func(*jsonschema.Schema){}
	for k, v := range graphUser {
		m[k] = v
	}
	for k, v := range limits {
		m[k] = v
	}
	return nonNullArrays(inputSchema[T](m))
}

func createEntitiesSchema() *jsonschema.Schema {
	return graphSchema[createEntitiesInput](map[string]func(*jsonschema.Schema){
		"entities": items(0, engram.MaxGraphNames, graphEntityItem),
	})
}

func createRelationsSchema() *jsonschema.Schema {
	return graphSchema[createRelationsInput](map[string]func(*jsonschema.Schema){
		"relations": items(0, engram.MaxGraphNames, graphRelationItem),
	})
}

func addObservationsSchema() *jsonschema.Schema {
	return graphSchema[addObservationsInput](map[string]func(*jsonschema.Schema){
		"observations": items(0, engram.MaxGraphNames, fields(map[string]func(*jsonschema.Schema){
			"entityName": graphName, "contents": items(0, engram.MaxGraphNames, graphObservation),
		})),
	})
}

func deleteEntitiesSchema() *jsonschema.Schema {
	return graphSchema[deleteEntitiesInput](map[string]func(*jsonschema.Schema){
		"entityNames": items(0, engram.MaxGraphNames, graphName),
	})
}

func deleteObservationsSchema() *jsonschema.Schema {
	return graphSchema[deleteObservationsInput](map[string]func(*jsonschema.Schema){
		"deletions": items(0, engram.MaxGraphNames, fields(map[string]func(*jsonschema.Schema){
			"entityName": graphName, "observations": items(0, engram.MaxGraphNames, graphObservation),
		})),
	})
}

func deleteRelationsSchema() *jsonschema.Schema {
	return graphSchema[deleteRelationsInput](map[string]func(*jsonschema.Schema){
		"relations": items(0, engram.MaxGraphNames, graphRelationItem),
	})
}

func readGraphSchema() *jsonschema.Schema { return graphSchema[readGraphInput](nil) }

func searchNodesSchema() *jsonschema.Schema {
	return graphSchema[searchNodesInput](map[string]func(*jsonschema.Schema){"query": text(0, engram.MaxQueryBytes)})
}

func openNodesSchema() *jsonschema.Schema {
	return graphSchema[openNodesInput](map[string]func(*jsonschema.Schema){
		"names": items(0, engram.MaxGraphNames, graphName),
	})
}
