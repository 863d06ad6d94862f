package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

func TestHTTPLifecycle(t *testing.T) {
	s := testserver.Start(t)
	key, cs := connect(t, s, "acme")
	mcptest.Tools(t, cs, mcptest.ObserveToolNames, mcptest.GraphToolNames)
	mcptest.Lifecycle(t, cs)

	// The access log records MCP requests like REST ones: route and status,
	// never content or keys.
	logs := string(s.Log.Bytes())
	if !strings.Contains(logs, `"route":"/mcp"`) {
		t.Fatalf("no access log line for /mcp:\n%s", logs)
	}
	for _, secret := range []string{"rooibos", "green tea", key} {
		if strings.Contains(logs, secret) {
			t.Fatalf("access log holds %q", secret)
		}
	}
}

func TestHTTPTenantIsolation(t *testing.T) {
	s := testserver.Start(t)
	_, owner := connect(t, s, "owner")
	_, other := connect(t, s, "other")
	mcptest.Isolation(t, owner, other)
}

func TestHTTPStoredPromptInjection(t *testing.T) {
	s := testserver.Start(t)
	_, cs := connect(t, s, "acme")
	mcptest.Injection(t, cs)
}

// initialize is the first message an MCP client sends.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

func postMCP(t *testing.T, url, key string) *http.Response {
	t.Helper()
	return postMCPHost(t, url, key, "")
}

// postMCPHost sends the request with another Host header, as a reverse
// proxy does.
func postMCPHost(t *testing.T, url, key, host string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/mcp", strings.NewReader(initialize))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestHTTPRefusesBadKeys: a missing, malformed, wrong, revoked or expired
// key gets 401 with a problem body and a WWW-Authenticate that points at
// the protected-resource metadata; the SDK client cannot connect.
func TestHTTPRefusesBadKeys(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner, revoked := agentKey(t, s, client.CreateKeyRequest{Name: "revoked"})
	if err := owner.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	exp := s.Clock.Now().Add(time.Hour)
	expired, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "expired", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	good, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "good"})
	if err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * time.Hour)
	wrong := good.Secret[:len(good.Secret)-3] + "xyz"

	// The good key works (also through a reverse proxy that passes its own
	// Host on), so the refusals below are about the keys.
	for _, host := range []string{"", "engram.example.com"} {
		if resp := postMCPHost(t, s.URL, good.Secret, host); resp.StatusCode != http.StatusOK {
			t.Fatalf("good key, host %q: %d", host, resp.StatusCode)
		}
	}
	for name, key := range map[string]string{
		"missing": "", "malformed": "not-a-key", "wrong": wrong, "revoked": revoked.Secret, "expired": expired.Secret,
	} {
		t.Run(name, func(t *testing.T) {
			resp := postMCP(t, s.URL, key)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			want := `Bearer resource_metadata="` + s.URL + `/.well-known/oauth-protected-resource/mcp"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
			}
			var p struct{ Code string }
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code != "unauthenticated" {
				t.Fatalf("problem = %+v, %v", p, err)
			}
			if key == "" {
				return
			}
			if cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", key); err == nil {
				cs.Close()
				t.Fatal("SDK client connected with a refused key")
			}
		})
	}
}

// TestHTTPRevocationTakesEffectAtOnce: a session opened with a key stops
// working at the next call after the key is revoked.
func TestHTTPRevocationTakesEffectAtOnce(t *testing.T) {
	s := testserver.Start(t)
	owner, k := agentKey(t, s, client.CreateKeyRequest{Name: "agent"})
	cs := open(t, s, k.Secret)
	// nil arguments go out as JSON null, which once crashed the SDK.
	mcptest.MustCall(t, cs, "list_memories", nil)
	if err := owner.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "list_memories"}); err == nil {
		t.Fatal("a revoked key still lists memories")
	}
}

// TestHTTPScopes: a read-only key reads through MCP and cannot write, as
// over REST.
func TestHTTPScopes(t *testing.T) {
	s := testserver.Start(t)
	_, k := agentKey(t, s, client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	cs := open(t, s, k.Secret)
	mcptest.MustCall(t, cs, "search_memories", map[string]any{"query": "anything"})
	mcptest.WantError(t, cs, "forbidden", "add_memory", map[string]any{"content": "a reader cannot write"})
}

func TestProtectedResourceMetadata(t *testing.T) {
	s := testserver.Start(t)
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource":     s.URL,
		"/.well-known/oauth-protected-resource/mcp": s.URL + "/mcp",
	} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Resource string   `json:"resource"`
			Methods  []string `json:"bearer_methods_supported"`
			Scopes   []string `json:"scopes_supported"`
		}
		err = json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		if md.Resource != resource || len(md.Methods) != 1 || md.Methods[0] != "header" || !slices.Contains(md.Scopes, "memories:read") {
			t.Fatalf("%s: %+v", path, md)
		}
	}
}

// TestHTTPToolCallsAreAudited: a tool call is an action like a REST call —
// it lands in the tenant's audit trail, marked as coming over MCP, with the
// request id of its access log line and no memory text.
func TestHTTPToolCallsAreAudited(t *testing.T) {
	s := testserver.Start(t)
	key, cs := connect(t, s, "acme")
	id := mcptest.Add(t, cs, "audited through mcp: oolong", "")
	mcptest.MustCall(t, cs, "search_memories", map[string]any{"query": "oolong"})

	page, err := s.Client(key).Audit(t.Context(), engram.AuditQuery{Limit: engram.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[engram.AuditAction]bool{}
	for _, e := range page.Entries {
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), "oolong") {
			t.Fatalf("audit entry holds memory text or query: %s", raw)
		}
		if e.Transport != "mcp" || e.RequestID == "" {
			continue
		}
		seen[e.Action] = true
		if e.Action == engram.AuditMemoryCreate && e.TargetID != id {
			t.Fatalf("memory.create over mcp names %q, want %q", e.TargetID, id)
		}
	}
	for _, a := range []engram.AuditAction{engram.AuditMemoryCreate, engram.AuditMemorySearch} {
		if !seen[a] {
			t.Fatalf("no %s entry with transport mcp in %+v", a, page.Entries)
		}
	}
}

// TestPublicURL: with a configured public URL, the metadata and the 401
// challenge name it whatever Host the request carried, so a client cannot
// steer them elsewhere.
func TestPublicURL(t *testing.T) {
	const pub = "https://memory.example.com/engram"
	s := testserver.StartWith(t, testserver.Options{PublicURL: pub})
	resp := postMCPHost(t, s.URL, "", "attacker.example")
	if want := `Bearer resource_metadata="` + pub + `/.well-known/oauth-protected-resource/mcp"`; resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("%d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
	req, err := http.NewRequest(http.MethodGet, s.URL+"/.well-known/oauth-protected-resource/mcp", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example"
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var md struct{ Resource string }
	if err := json.NewDecoder(r2.Body).Decode(&md); err != nil || md.Resource != pub+"/mcp" {
		t.Fatalf("resource %q, %v", md.Resource, err)
	}
}
