package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKEKRotateRefusesBesideServer: kek rotate beside a running server used
// to exit 0 and leave the server unable to unwrap keys until restarted. It
// now refuses while serve holds the data directory, and works once serve
// stopped; the commands the contract allows beside serve keep working, and
// a second server on the same directory is refused.
func TestKEKRotateRefusesBesideServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	before, _ := os.ReadFile(filepath.Join(data, "kek.key"))

	_, errOut, err := engram(t, nil, "kek", "rotate", "--data", data)
	if err == nil || !strings.Contains(errOut, "in use by a running engram serve") {
		t.Fatalf("kek rotate beside serve: err %v, stderr %q", err, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(data, "kek.key")); string(after) != string(before) {
		t.Fatal("the refused rotation changed kek.key")
	}
	if _, err := os.Stat(filepath.Join(data, "kek.key.next")); !os.IsNotExist(err) {
		t.Fatalf("the refused rotation left kek.key.next: %v", err)
	}

	// Allowed beside serve (contract.md): tenants create, audit verify.
	if key := strings.TrimSpace(mustEngram(t, nil, "tenants", "create", "beside", "--data", data)); !strings.HasPrefix(key, "egm_") {
		t.Fatalf("tenants create beside serve printed %q", key)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data)

	_, errOut, err = engram(t, nil, "serve", "--data", data, "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(errOut, "another engram serve is running") {
		t.Fatalf("second serve: err %v, stderr %q", err, errOut)
	}

	// The server still serves with its KEK.
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + ownerKey(t, data)}
	mustEngram(t, env, "add", "still readable")
	s.stop(t)

	mustEngram(t, nil, "kek", "rotate", "--data", data)
	s = startServer(t, data)
	env[0] = "ENGRAM_URL=" + s.url
	if out := mustEngram(t, env, "list"); !strings.Contains(out, "still readable") {
		t.Fatalf("after rotation: %q", out)
	}
	s.stop(t)
}

// TestLooseModesRefused: a data directory others can write, and an
// admin.key or database file others can read, used to be accepted
// silently. serve (and every offline command) now refuses them, naming the
// file and the chmod that fixes it; after the fix it starts.
func TestLooseModesRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustEngram(t, nil, "tenants", "create", "first", "--data", data)
	// serve writes admin.key on first start; a stand-in is enough here.
	if err := os.WriteFile(filepath.Join(data, "admin.key"), []byte("egm_x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
		fix  string
	}{
		{data, 0o777, "chmod 700 " + data},
		{filepath.Join(data, "admin.key"), 0o644, "chmod 600 " + filepath.Join(data, "admin.key")},
		{filepath.Join(data, "engram.db"), 0o666, "chmod 600 " + filepath.Join(data, "engram.db")},
	} {
		orig, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(c.path, c.mode); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := engram(t, nil, "serve", "--data", data, "--addr", "127.0.0.1:0")
		if err == nil || !strings.Contains(errOut, c.fix) {
			t.Fatalf("serve with %s at %o: err %v, stderr %q", filepath.Base(c.path), c.mode, err, errOut)
		}
		if c.path == data {
			// Offline commands check the same way.
			_, errOut, err = engram(t, nil, "tenants", "create", "loose", "--data", data)
			if err == nil || !strings.Contains(errOut, c.fix) {
				t.Fatalf("tenants create with a %o directory: err %v, stderr %q", c.mode, err, errOut)
			}
		}
		if err := os.Chmod(c.path, orig.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	mustEngram(t, nil, "audit", "verify", "--data", data)
}
