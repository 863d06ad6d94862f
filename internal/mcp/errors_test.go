package mcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// rpc posts body to /mcp with key and returns the status, Content-Type
// and body.
func rpc(t *testing.T, s *testserver.Server, key, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestHTTPMalformedJSONRPC: a body the SDK cannot take gets a JSON-RPC
// error object (not text/plain) with the right code, a message that starts
// with Engram's stable code, and nothing of the input in it.
func TestHTTPMalformedJSONRPC(t *testing.T) {
	s := testserver.Start(t)
	key := newTenant(t, s, "acme")
	const secret = "SECRETzq81"
	cases := []struct {
		name, body string
		rpcCode    int
	}{
		{"not json", `{"jsonrpc":"2.0","method":"` + secret, -32700},
		{"invalid utf-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"add_memory\",\"arguments\":{\"content\":\"a\xff" + secret + "\"}}}", -32700},
		{"lone surrogate", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_memory","arguments":{"content":"\ud800` + secret + `"}}}`, -32700},
		{"empty batch", `[]`, -32600},
		{"not an object", `"` + secret + `"`, -32600},
		{"no jsonrpc", `{"id":1,"method":"` + secret + `"}`, -32600},
		{"neither request nor response", `{"jsonrpc":"2.0","id":1}`, -32600},
		{"params not an object", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"` + secret + `"}`, -32600},
		{"arguments not an object", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_memory","arguments":["` + secret + `"]}}`, -32600},
		{"tool name not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["` + secret + `"]}}`, -32600},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"` + secret + `"}`, -32600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, ct, body := rpc(t, s, key, c.body)
			if status != http.StatusBadRequest || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("got %d %s: %s", status, ct, body)
			}
			if strings.Contains(body, secret) {
				t.Fatalf("the error echoes the input: %s", body)
			}
			var resp struct {
				JSONRPC string `json:"jsonrpc"`
				Error   struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.JSONRPC != "2.0" {
				t.Fatalf("not a JSON-RPC response: %s", body)
			}
			if resp.Error.Code != c.rpcCode || !strings.HasPrefix(resp.Error.Message, "invalid: ") {
				t.Fatalf("error %d %q, want %d \"invalid: …\"", resp.Error.Code, resp.Error.Message, c.rpcCode)
			}
		})
	}
	// Over the body limit: 413, still JSON-RPC.
	status, ct, body := rpc(t, s, key, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_memory","arguments":{"content":"`+strings.Repeat(secret, 110_000)+`"}}}`)
	if status != http.StatusRequestEntityTooLarge || !strings.HasPrefix(ct, "application/json") || !strings.Contains(body, `"too_large: `) || strings.Contains(body, secret) {
		t.Fatalf("oversized body: %d %s %.300s", status, ct, body)
	}

	// A GET (no server-sent stream on a stateless endpoint): the SDK's
	// plain-text 405 comes out as JSON-RPC.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(string(b), `"jsonrpc":"2.0"`) {
		t.Fatalf("GET /mcp: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	// Nothing was stored by the refused tool calls.
	res, err := s.Client(key).List(t.Context(), client.ListRequest{})
	if err != nil || len(res.Results) != 0 {
		t.Fatalf("list after refusals: %v %v", res, err)
	}
}

// TestHTTPToolArgumentErrors: a tool call whose arguments break the input
// schema fails with the stable code, the argument's name and the rule, and
// never the value (a 70 kB content, a secret in metadata).
func TestHTTPToolArgumentErrors(t *testing.T) {
	s := testserver.Start(t)
	_, cs := connect(t, s, "acme")
	const secret = "SECRETk3j9"
	long := strings.Repeat("A", 70<<10)
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"add_memory", map[string]any{"content": long + secret}, "invalid: content is longer than 65536 characters"},
		{"add_memory", map[string]any{"content": "x", "metadata": secret}, "invalid: metadata must be a JSON object"},
		{"add_memory", map[string]any{"content": "x", "user_id": []string{secret}}, "invalid: user_id must be a string"},
		{"add_memory", map[string]any{"content": ""}, "invalid: content must not be empty"},
		{"add_memory", map[string]any{"user_id": "alice"}, "invalid: content is required"},
		{"add_memory", map[string]any{"content": "x", secret: "y"}, "invalid: unknown argument: this tool takes agent_id, content, expiration_date, metadata, run_id, user_id"},
		{"add_memory", map[string]any{"content": "x", "user_id": "ali\u202e" + secret}, "invalid: user_id must not contain invisible formatting characters"},
		{"search_memories", map[string]any{"query": "x", "limit": secret}, "invalid: limit must be an integer"},
		{"search_memories", map[string]any{"query": "x", "limit": 1000}, "invalid: limit must be between 1 and 100"},
		{"list_memories", map[string]any{"cursor": secret}, "invalid: cursor is not one this server issued"},
		{"get_memory", map[string]any{}, "invalid: id is required"},
		{"get_memory", nil, "invalid: id is required"},
		{"update_memory", map[string]any{"id": secret, "content": 5}, "invalid: content must be a string"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: c.tool, Arguments: c.args})
			if err != nil {
				t.Fatal(err)
			}
			txt := text(res)
			if !res.IsError || !strings.HasPrefix(txt, c.want) {
				t.Fatalf("%s: got error=%v %.200q, want %q", c.tool, res.IsError, txt, c.want)
			}
			if strings.Contains(txt, secret) || strings.Contains(txt, "AAAA") {
				t.Fatalf("the error echoes the input: %.200q", txt)
			}
		})
	}
}

// TestHTTPScopeIDsNormalised: MCP tool calls reach the engine's scope-id
// rules: an id typed in NFD is the NFC one.
func TestHTTPScopeIDsNormalised(t *testing.T) {
	s := testserver.Start(t)
	_, cs := connect(t, s, "acme")
	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "add_memory", Arguments: map[string]any{"content": "likes tea", "user_id": "jose\u0301"}})
	if err != nil || res.IsError {
		t.Fatalf("add: %v %q", err, text(res))
	}
	res, err = cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "list_memories", Arguments: map[string]any{"user_id": "jos\u00e9"}})
	if err != nil || res.IsError {
		t.Fatalf("list: %v %q", err, text(res))
	}
	var out struct {
		Results []struct {
			UserID string `json:"user_id"`
		} `json:"results"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != 1 || out.Results[0].UserID != "jos\u00e9" {
		t.Fatalf("list by the NFC id: %s", b)
	}
}

func text(res *sdk.CallToolResult) string {
	if res == nil || len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(*sdk.TextContent); ok {
		return tc.Text
	}
	return ""
}
