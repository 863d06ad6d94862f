package mem0api_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// clientDir holds the pinned mem0ai client (package.json and lockfile) and
// the scenario; ./scripts/test installs its node_modules with npm ci.
const clientDir = "testdata/client"

// tenantKey creates a tenant and returns its owner key's secret.
func tenantKey(t *testing.T, s *testserver.Server, name string) string {
	t.Helper()
	nt, err := s.Engine.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return nt.Key.Secret
}

// readKey makes a memories:read-only key with the owner key.
func readKey(t *testing.T, s *testserver.Server, owner string) string {
	t.Helper()
	k, err := s.Client(owner).CreateKey(context.Background(), client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret
}

// TestMem0Client runs the official npm mem0ai client (version pinned in
// testdata/client/package-lock.json) against a real server: every call an
// application makes, with results checked in JavaScript.
func TestMem0Client(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the mem0 client scenario needs Node.js 20 or later")
	}
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "mem0ai", "package.json")); err != nil {
		t.Fatalf("the mem0ai client is not installed in %s: run ./scripts/test (it runs npm ci there)", clientDir)
	}
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scenario.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(),
		"MEM0_HOST="+s.URL,
		"MEM0_API_KEY="+key,
		"MEM0_READ_KEY="+readKey(t, s, key),
		"MEM0_OTHER_KEY="+tenantKey(t, s, "globex"),
		// No telemetry to mem0's servers, no writes to the home directory.
		"MEM0_TELEMETRY=false",
		"MEM0_DIR="+t.TempDir(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mem0ai scenario failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
