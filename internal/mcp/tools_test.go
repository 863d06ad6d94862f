package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

var update = flag.Bool("update", false, "rewrite testdata/tools.golden.json")

// newTenant creates a tenant and returns its owner key.
func newTenant(t *testing.T, s *testserver.Server, name string) string {
	t.Helper()
	nt, err := s.Engine.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return nt.Key.Secret
}

// open opens an MCP session over /mcp with key, closed when the test ends.
func open(t *testing.T, s *testserver.Server, key string) *sdk.ClientSession {
	t.Helper()
	cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", key)
	if err != nil {
		t.Fatal(err)
	}
	mcptest.Close(t, cs)
	return cs
}

// connect opens a session with the owner key of a new tenant.
func connect(t *testing.T, s *testserver.Server, tenant string) (key string, cs *sdk.ClientSession) {
	key = newTenant(t, s, tenant)
	return key, open(t, s, key)
}

// agentKey creates a tenant and, with its owner key, another key with
// scopes (the owner's when none).
func agentKey(t *testing.T, s *testserver.Server, req client.CreateKeyRequest) (owner *client.Client, k *engram.NewAPIKey) {
	t.Helper()
	owner = s.Client(newTenant(t, s, "acme"))
	k, err := owner.CreateKey(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return owner, k
}

// TestToolsGolden pins the tool list (names, descriptions, input and output
// schemas, annotations) that models see: a change to it is a change to the
// wire contract. Run with -update to accept one.
func TestToolsGolden(t *testing.T) {
	s := testserver.Start(t)
	_, cs := connect(t, s, "golden")
	mcptest.Tools(t, cs, mcptest.ObserveToolNames, mcptest.GraphToolNames)
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(res.Tools, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "tools.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("tool list differs from %s (run go test -run TestToolsGolden -update to accept):\n%s", path, got)
	}
}
