package mcp_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

// The official MCP memory server as published on npm (testdata/
// server-memory.md says which release and how it was recorded).

type officialTool struct {
	Name         string               `json:"name"`
	Title        string               `json:"title"`
	Description  string               `json:"description"`
	InputSchema  *jsonschema.Schema   `json:"inputSchema"`
	OutputSchema *jsonschema.Schema   `json:"outputSchema"`
	Annotations  *sdk.ToolAnnotations `json:"annotations"`
}

func officialTools(t *testing.T) map[string]officialTool {
	t.Helper()
	var ref struct {
		Version string         `json:"version"`
		Tools   []officialTool `json:"tools"`
	}
	readJSON(t, "server-memory.tools.json", &ref)
	if ref.Version == "" || len(ref.Tools) != len(mcptest.GraphToolNames) {
		t.Fatalf("testdata: version %q, %d tools", ref.Version, len(ref.Tools))
	}
	m := map[string]officialTool{}
	for _, tool := range ref.Tools {
		m[tool.Name] = tool
	}
	return m
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// ourTools lists the tools a session offers, by name.
func ourTools(t *testing.T, cs *sdk.ClientSession) map[string]*sdk.Tool {
	t.Helper()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*sdk.Tool{}
	for _, tool := range res.Tools {
		m[tool.Name] = tool
	}
	return m
}

// asSchema turns a tool's schema as the client decoded it (a map) into a
// jsonschema.Schema.
func asSchema(t *testing.T, v any) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func typeOf(s *jsonschema.Schema) string {
	if s.Type != "" {
		return s.Type
	}
	return strings.Join(s.Types, "|")
}

// sameShape reports how ours differs from the official schema: the same
// type, the same required properties, every official property with the
// same shape, array items with the same shape. Ours may have more
// properties only where extra is true (the top level: user_id), and then
// optional ones.
func sameShape(path string, official, ours *jsonschema.Schema, extra bool) []string {
	var diffs []string
	if typeOf(official) != typeOf(ours) {
		return []string{fmt.Sprintf("%s: type %q, official %q", path, typeOf(ours), typeOf(official))}
	}
	if !slices.Equal(slices.Sorted(slices.Values(official.Required)), slices.Sorted(slices.Values(ours.Required))) {
		diffs = append(diffs, fmt.Sprintf("%s: required %v, official %v", path, ours.Required, official.Required))
	}
	for name, p := range official.Properties {
		q, ok := ours.Properties[name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, name))
			continue
		}
		diffs = append(diffs, sameShape(path+"."+name, p, q, false)...)
	}
	for name := range ours.Properties {
		if _, ok := official.Properties[name]; !ok && (!extra || slices.Contains(ours.Required, name)) {
			diffs = append(diffs, fmt.Sprintf("%s.%s: not in the official schema", path, name))
		}
	}
	if (official.Items == nil) != (ours.Items == nil) {
		diffs = append(diffs, fmt.Sprintf("%s: items differ", path))
	} else if official.Items != nil {
		diffs = append(diffs, sameShape(path+"[]", official.Items, ours.Items, false)...)
	}
	return diffs
}

// examples generates instances of an official schema: one with only the
// required properties and empty arrays, one with every property, arrays
// of two items, and ordinary strings (names, sentences with punctuation
// and non-ASCII letters, as models write them).
func examples(s *jsonschema.Schema) []any {
	var out []any
	for _, full := range []bool{false, true} {
		for _, word := range []string{"Alice", "Zoë lives in Zürich, near the lake."} {
			out = append(out, instance(s, full, word))
		}
	}
	return out
}

func instance(s *jsonschema.Schema, full bool, word string) any {
	switch typeOf(s) {
	case "string":
		return word
	case "boolean":
		return true
	case "number", "integer":
		return 1
	case "array":
		if !full {
			return []any{}
		}
		return []any{instance(s.Items, full, word), instance(s.Items, full, word+" 2")}
	case "object":
		m := map[string]any{}
		for name, p := range s.Properties {
			if full || slices.Contains(s.Required, name) {
				m[name] = instance(p, full, word)
			}
		}
		return m
	}
	return nil
}

func validates(t *testing.T, s *jsonschema.Schema, v any) error {
	t.Helper()
	r, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Validate(v)
}

// TestMemoryServerSchemas: for each of the nine tools, Engram's input
// schema has the official one's required properties, property names,
// types and nested item shapes, and accepts every example the official
// schema accepts — checked by a JSON Schema validator and by calling the
// tool, which must not refuse the arguments (it may answer not_found, for
// an observation on an entity the example did not create). Output
// schemas, titles, descriptions and annotations are the official ones.
func TestMemoryServerSchemas(t *testing.T) {
	official := officialTools(t)
	s := testserver.Start(t)
	_, cs := connect(t, s, "conformance")
	ours := ourTools(t, cs)
	for _, name := range mcptest.GraphToolNames {
		t.Run(name, func(t *testing.T) {
			o, ok := official[name]
			if !ok {
				t.Fatal("not in the reference")
			}
			tool, ok := ours[name]
			if !ok {
				t.Fatal("not offered")
			}
			in := asSchema(t, tool.InputSchema)
			for _, d := range sameShape("input", o.InputSchema, in, true) {
				t.Error(d)
			}
			for _, d := range sameShape("output", o.OutputSchema, asSchema(t, tool.OutputSchema), false) {
				t.Error(d)
			}
			if tool.Title != o.Title || tool.Description != o.Description {
				t.Errorf("title/description %q / %q, official %q / %q", tool.Title, tool.Description, o.Title, o.Description)
			}
			if !reflect.DeepEqual(tool.Annotations, o.Annotations) {
				t.Errorf("annotations %+v, official %+v", tool.Annotations, o.Annotations)
			}
			for i, ex := range examples(o.InputSchema) {
				if err := validates(t, o.InputSchema, ex); err != nil {
					t.Fatalf("example %d: the official schema refuses it: %v", i, err)
				}
				if err := validates(t, in, ex); err != nil {
					t.Errorf("example %d: our schema refuses it: %v", i, err)
				}
				r := mcptest.Call(t, cs, name, ex.(map[string]any))
				if r.IsError && !strings.HasPrefix(r.Text, "not_found: ") {
					t.Errorf("example %d: the call failed: %s", i, r.Text)
				}
			}
		})
	}
}

type transcript struct {
	Steps []struct {
		Name      string         `json:"name"`
		Arguments map[string]any `json:"arguments"`
		Result    struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			StructuredContent map[string]any `json:"structuredContent"`
			IsError           bool           `json:"isError"`
		} `json:"result"`
	} `json:"steps"`
}

// normal sorts the lists of a graph result (entities by name, relations
// by from, to, type, observations): the official server keeps insertion
// order in a file, Engram answers from an index, and neither documents
// an order.
func normal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = normal(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normal(e)
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, _ := json.Marshal(out[i])
			b, _ := json.Marshal(out[j])
			return string(a) < string(b)
		})
		return out
	}
	return v
}

// TestMemoryServerTranscript replays the calls recorded against the
// official server and expects the same answers: structured content, the
// JSON text (or the delete message), and an error where it failed.
func TestMemoryServerTranscript(t *testing.T) {
	var tr transcript
	readJSON(t, "server-memory.transcript.json", &tr)
	s := testserver.Start(t)
	_, cs := connect(t, s, "transcript")
	for i, step := range tr.Steps {
		r := mcptest.Call(t, cs, step.Name, step.Arguments)
		want := step.Result
		if want.IsError {
			if !r.IsError || !strings.HasPrefix(r.Text, "not_found: ") {
				t.Fatalf("step %d %s: got error=%v %q, want not_found", i, step.Name, r.IsError, r.Text)
			}
			continue
		}
		if r.IsError {
			t.Fatalf("step %d %s: %s", i, step.Name, r.Text)
		}
		var got map[string]any
		r.Decode(t, &got)
		if !reflect.DeepEqual(normal(got), normal(want.StructuredContent)) {
			t.Fatalf("step %d %s: structured content\n%v\nwant\n%v", i, step.Name, got, want.StructuredContent)
		}
		first := r.Texts[0]
		var gotText, wantText any
		if json.Unmarshal([]byte(want.Content[0].Text), &wantText) != nil {
			if first != want.Content[0].Text {
				t.Fatalf("step %d %s: text %q, want %q", i, step.Name, first, want.Content[0].Text)
			}
			continue
		}
		if err := json.Unmarshal([]byte(first), &gotText); err != nil {
			t.Fatalf("step %d %s: text is not JSON: %v", i, step.Name, err)
		}
		if !reflect.DeepEqual(normal(gotText), normal(wantText)) {
			t.Fatalf("step %d %s: text %s, want %s", i, step.Name, first, want.Content[0].Text)
		}
	}
}
