package httpapi_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/mcp/mcptest"
)

// sdkClientDir holds the pinned official MCP TypeScript SDK
// (@modelcontextprotocol/sdk, package-lock.json) and the scenario;
// ./scripts/test installs its node_modules with npm ci.
const sdkClientDir = "testdata/oauthclient"

// TestOAuthWithTypeScriptSDK is the issue's "an MCP host completes the
// OAuth flow and calls a tool as the signed-in member", with the official
// SDK's OAuth client as the host against a real server.
func TestOAuthWithTypeScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the MCP SDK scenario needs Node.js 20 or later")
	}
	if _, err := os.Stat(filepath.Join(sdkClientDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		t.Fatalf("the MCP SDK is not installed: run npm ci in internal/httpapi/%s (scripts/test does): %v", sdkClientDir, err)
	}
	s, _ := team(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scenario.mjs")
	cmd.Dir = sdkClientDir
	cmd.Env = append(os.Environ(), "ENGRAM_URL="+s.URL, "ENGRAM_EMAIL="+oauthMemberEmail, "ENGRAM_PASSWORD="+memberPassword)
	outb, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("scenario: %v\n%s\n%s", err, outb, stderr)
	}
	var out struct {
		Authorize map[string]string `json:"authorize"`
		ClientID  string            `json:"client_id"`
		Redirect  struct {
			State, Iss string
			HasCode    bool `json:"has_code"`
		}
		Scope             string   `json:"scope"`
		TokenType         string   `json:"token_type"`
		AddError          bool     `json:"add_error"`
		SearchText        string   `json:"search_text"`
		Rotated           bool     `json:"rotated"`
		AfterRefreshError bool     `json:"after_refresh_error"`
		Requests          []string `json:"requests"`
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("scenario output %s: %v", outb, err)
	}
	t.Logf("the SDK's requests: %v", out.Requests)

	// What the SDK asked for: code + PKCE S256, our resource, the scopes
	// the resource metadata advertises.
	a := out.Authorize
	if a["response_type"] != "code" || a["code_challenge_method"] != "S256" || len(a["code_challenge"]) != 43 ||
		a["resource"] != s.URL+"/mcp" || a["scope"] != "memories:read memories:write" || a["client_id"] != out.ClientID || a["state"] != "sdk-state-7" {
		t.Fatalf("authorization request: %v", a)
	}
	if !out.Redirect.HasCode || out.Redirect.State != "sdk-state-7" || out.Redirect.Iss != s.URL {
		t.Fatalf("redirect: %+v", out.Redirect)
	}
	if out.TokenType != "Bearer" || out.Scope != "memories:read memories:write" {
		t.Fatalf("tokens: %s %s", out.TokenType, out.Scope)
	}
	if out.AddError || !strings.Contains(out.SearchText, "jasmine tea") {
		t.Fatalf("tools: add error %v, search %q", out.AddError, out.SearchText)
	}
	if !out.Rotated || out.AfterRefreshError {
		t.Fatalf("refresh through the SDK: rotated %v, error after %v", out.Rotated, out.AfterRefreshError)
	}
	// The discovery the SDK went through, in order.
	want := []string{
		"POST /mcp 401",
		"GET /.well-known/oauth-protected-resource/mcp 200",
		"GET /.well-known/oauth-authorization-server 200",
		"POST /oauth/register 201",
		"POST /oauth/token 200",
	}
	i := 0
	for _, r := range out.Requests {
		if i < len(want) && r == want[i] {
			i++
		}
	}
	if i != len(want) || !slices.Contains(out.Requests, "POST /mcp 200") {
		t.Fatalf("the SDK's requests %v lack, in order, %v", out.Requests, want)
	}

	// The memory is the member's: the member's own session finds it.
	own := login(t, s, oauthMemberEmail, memberPassword)
	cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", own.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	mcptest.Close(t, cs)
	if r := mcptest.MustCall(t, cs, "search_memories", map[string]any{"query": "jasmine tea"}); !strings.Contains(r.Text, "jasmine") {
		t.Fatalf("the member does not see the host's memory: %s", r.Text)
	}
}
