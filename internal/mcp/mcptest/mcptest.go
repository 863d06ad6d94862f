// Package mcptest is the conformance suite of Engram's MCP tools: scenarios
// run with the SDK's own client against any transport (streamable HTTP in
// internal/mcp, stdio through the real binary in cmd/engram), so both
// transports are held to the same behaviour.
package mcptest

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// ToolNames are the tools every transport must offer.
var ToolNames = []string{"add_memory", "search_memories", "get_memory", "list_memories", "update_memory", "delete_memory", "memory_history"}

// ObserveToolNames are the Observe tools (mcp.Options.Observe).
var ObserveToolNames = []string{"observe", "search_facts", "list_entities", "get_entity", "forget_entity"}

// GraphToolNames are the official MCP memory server's tools
// (mcp.Options.Graph).
var GraphToolNames = []string{"create_entities", "create_relations", "add_observations", "delete_entities",
	"delete_observations", "delete_relations", "read_graph", "search_nodes", "open_nodes"}

func newClient() *sdk.Client {
	return sdk.NewClient(&sdk.Implementation{Name: "engram-test", Version: "test"}, nil)
}

// bearer adds an API key to every request, as a host configured with an
// Authorization header does.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// ConnectHTTP opens a session with the /mcp endpoint at endpoint using key.
func ConnectHTTP(ctx context.Context, endpoint, key string) (*sdk.ClientSession, error) {
	tr := &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer{key}, Timeout: time.Minute}, MaxRetries: -1}
	return newClient().Connect(ctx, tr, nil)
}

// ConnectCommand starts cmd (e.g. `engram mcp`) as a host would and opens a
// session over its stdin and stdout.
func ConnectCommand(ctx context.Context, cmd *exec.Cmd) (*sdk.ClientSession, error) {
	return newClient().Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
}

// Close ends cs when the test ends.
func Close(t testing.TB, cs *sdk.ClientSession) {
	t.Cleanup(func() { _ = cs.Close() })
}

// Result is one tool call's answer, decoded.
type Result struct {
	Text    string   // all text content, joined
	Texts   []string // each text content item
	IsError bool
	raw     *sdk.CallToolResult
}

// Decode unmarshals the structured output into v.
func (r Result) Decode(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(r.raw.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structured output %s: %v", b, err)
	}
}

// Call calls a tool; a protocol failure fails the test, a tool error is
// returned in the Result.
func Call(t testing.TB, cs *sdk.ClientSession, name string, args map[string]any) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return Result{Text: strings.Join(parts, "\n"), Texts: parts, IsError: res.IsError, raw: res}
}

// MustCall is Call that fails the test on a tool error.
func MustCall(t testing.TB, cs *sdk.ClientSession, name string, args map[string]any) Result {
	t.Helper()
	r := Call(t, cs, name, args)
	if r.IsError {
		t.Fatalf("%s: tool error: %s", name, r.Text)
	}
	return r
}

// WantError asserts that the call failed with the given engram error code.
func WantError(t testing.TB, cs *sdk.ClientSession, code, name string, args map[string]any) {
	t.Helper()
	r := Call(t, cs, name, args)
	if !r.IsError || !strings.HasPrefix(r.Text, code+": ") {
		t.Fatalf("%s: want tool error %q, got error=%v %q", name, code, r.IsError, r.Text)
	}
}

// Memory is a memory as the tools return it.
type Memory struct {
	ID        string   `json:"id"`
	Memory    string   `json:"memory"`
	UserID    string   `json:"user_id"`
	Score     *float64 `json:"score"`
	CreatedAt string   `json:"created_at"`
}

// Memories is the output of search_memories and list_memories.
type Memories struct {
	Notice     string   `json:"notice"`
	Results    []Memory `json:"results"`
	NextCursor string   `json:"next_cursor"`
}

// Add stores content and returns the new memory's id.
func Add(t testing.TB, cs *sdk.ClientSession, content, user string) string {
	t.Helper()
	var out struct {
		Results []struct{ ID, Event string } `json:"results"`
	}
	MustCall(t, cs, "add_memory", map[string]any{"content": content, "user_id": user}).Decode(t, &out)
	if len(out.Results) != 1 || out.Results[0].ID == "" {
		t.Fatalf("add_memory: %+v", out)
	}
	return out.Results[0].ID
}

// IDs lists the ids of a search or list result.
func IDs(t testing.TB, r Result) []string {
	t.Helper()
	var out Memories
	r.Decode(t, &out)
	ids := make([]string, len(out.Results))
	for i, m := range out.Results {
		ids[i] = m.ID
	}
	return ids
}
