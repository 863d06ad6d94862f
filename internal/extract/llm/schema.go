package llm

import (
	"github.com/engram-memory/engram/internal/extract"
)

// entityTypes are the types the model may use, the built-in extractor's set.
var entityTypes = []string{
	string(extract.Person), string(extract.Organisation), string(extract.Place), string(extract.Product),
	string(extract.Pet), string(extract.Event), string(extract.Other),
}

// predicateNames is the built-in extractor's predicates (extract.Predicates, sorted, so the schema and prompt
// are stable): each is in facts.DefaultTable(), whose cardinality the caller applies.
func predicateNames() []string { return extract.Predicates() }

// schemaName names the response format (a-z, 0-9, _ and -, at most 64).
const schemaName = "engram_extraction"

// outputSchema is the JSON Schema of the answer. It keeps to the subset that
// OpenAI's strict mode accepts: every property required, no additional
// properties, "" standing for absent. Maps are built fresh per call because
// the SDK may hold on to them.
func outputSchema() map[string]any {
	// No maxLength or minimum: OpenAI's strict mode has rejected them; the caps are enforced in validate.
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	enum := func(vals []string) map[string]any { return map[string]any{"type": "string", "enum": vals} }
	entity := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name":    str,
			"type":    enum(entityTypes),
			"message": integer,
		},
		"required":             []string{"name", "type", "message"},
		"additionalProperties": false,
	}
	fact := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"subject":      str,
			"subject_type": enum(entityTypes),
			"predicate":    enum(predicateNames()),
			"object":       str,
			"object_type":  enum(append([]string{""}, entityTypes...)),
			"value":        str,
			"negated":      map[string]any{"type": "boolean"},
			"valid_at":     str,
			"message":      integer,
			"sentence":     str,
		},
		"required": []string{"subject", "subject_type", "predicate", "object", "object_type", "value",
			"negated", "valid_at", "message", "sentence"},
		"additionalProperties": false,
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"entities": map[string]any{"type": "array", "items": entity},
			"facts":    map[string]any{"type": "array", "items": fact},
		},
		"required":             []string{"entities", "facts"},
		"additionalProperties": false,
	}
}

// wireEntity and wireFact are the answer's items as the schema names them.
type wireEntity struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Message int    `json:"message"`
}

type wireFact struct {
	Subject     string `json:"subject"`
	SubjectType string `json:"subject_type"`
	Predicate   string `json:"predicate"`
	Object      string `json:"object"`
	ObjectType  string `json:"object_type"`
	Value       string `json:"value"`
	Negated     bool   `json:"negated"`
	ValidAt     string `json:"valid_at"`
	Message     int    `json:"message"`
	Sentence    string `json:"sentence"`
}
