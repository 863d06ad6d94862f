package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

// mcpCommand is `engram mcp` configured as a desktop host configures it:
// the binary, the argument mcp and two environment variables.
func mcpCommand(url, key string) *exec.Cmd {
	cmd := exec.Command(binary, "mcp")
	cmd.Env = append(os.Environ(), "ENGRAM_URL="+url, "ENGRAM_API_KEY="+key)
	return cmd
}

func stdioSession(t *testing.T, url, key string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := mcpCommand(url, key)
	stderr := &testserver.SyncBuffer{}
	cmd.Stderr = stderr
	cs, err := mcptest.ConnectCommand(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Close, so it runs after the process has ended.
	t.Cleanup(func() {
		if strings.Contains(string(stderr.Bytes()), key) {
			t.Error("engram mcp printed its key")
		}
	})
	mcptest.Close(t, cs)
	return cs
}

func ownerKey(t *testing.T, data string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// TestMCP runs the MCP conformance scenarios against a real `engram serve`
// over both transports: stdio through `engram mcp` started as a host would,
// and streamable HTTP at /mcp of the same server.
func TestMCP(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	key := ownerKey(t, data)
	other := strings.TrimSpace(mustEngram(t, nil, "tenants", "create", "other", "--data", data))

	t.Run("stdio", func(t *testing.T) {
		cs := stdioSession(t, s.url, key)
		mcptest.Tools(t, cs, mcptest.ObserveToolNames, mcptest.GraphToolNames)
		mcptest.Lifecycle(t, cs)
		mcptest.ObserveLifecycle(t, cs)
		mcptest.GraphLifecycle(t, cs)
		mcptest.Injection(t, cs)
		mcptest.Isolation(t, cs, stdioSession(t, s.url, other))
	})
	t.Run("http", func(t *testing.T) {
		cs, err := mcptest.ConnectHTTP(t.Context(), s.url+"/mcp", key)
		if err != nil {
			t.Fatal(err)
		}
		mcptest.Close(t, cs)
		mcptest.Tools(t, cs, mcptest.ObserveToolNames, mcptest.GraphToolNames)
		mcptest.Lifecycle(t, cs)
	})
	// Neither transport put content or keys in the server's log.
	logs := string(s.stderr.Bytes())
	for _, secret := range []string{"rooibos", "ignore previous instructions", "tangerine", key, other} {
		if strings.Contains(logs, secret) {
			t.Fatalf("server log holds %q", secret)
		}
	}
}

// TestMCPStdioRefusesBadKeys: `engram mcp` does not start with a key the
// server refuses, or without a server; it says why on stderr, exits
// non-zero, writes nothing on stdout and never prints the key.
func TestMCPStdioRefusesBadKeys(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	key := ownerKey(t, data)
	owner := client.New(s.url, key)
	ctx := context.Background()
	revoked, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, url, key, want string
	}{
		{"missing", s.url, "", "ENGRAM_API_KEY is not set"},
		{"wrong", s.url, key[:len(key)-3] + "xyz", "refused the API key"},
		{"revoked", s.url, revoked.Secret, "refused the API key"},
		{"unreachable", "http://127.0.0.1:1", key, "cannot reach the Engram server at http://127.0.0.1:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := mcpCommand(c.url, c.key)
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run() // stdin is /dev/null: a started server would exit 0 at EOF
			if err == nil {
				t.Fatalf("engram mcp started; stderr: %s", errb.String())
			}
			if !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q; want %q", out.String(), errb.String(), c.want)
			}
			if c.key != "" && strings.Contains(errb.String(), c.key) {
				t.Fatal("stderr shows the key")
			}
		})
	}

	// A key revoked while the proxy runs fails its next tool call.
	k, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	cs := stdioSession(t, s.url, k.Secret)
	mcptest.MustCall(t, cs, "list_memories", map[string]any{})
	if err := owner.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	mcptest.WantError(t, cs, "unauthenticated", "list_memories", map[string]any{})
}
