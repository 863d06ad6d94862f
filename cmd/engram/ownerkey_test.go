package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	engrampkg "github.com/engram-memory/engram"
)

// TestTenantsOwnerKey: the operator mints a new owner key for an existing
// tenant offline; it prints the key alone, the key holds every owner
// scope, and the minting is in the tenant's audit chain, which still
// verifies.
func TestTenantsOwnerKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := strings.TrimSpace(mustEngram(t, nil, "tenants", "create", "acme", "--data", data))

	out := mustEngram(t, nil, "tenants", "owner-key", "acme", "--data", data)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "egm_") {
		t.Fatalf("owner-key printed %q, want one key on one line", out)
	}
	minted := strings.TrimSpace(out)
	if minted == first {
		t.Fatal("owner-key printed the existing key")
	}
	if o, errOut, err := engram(t, nil, "tenants", "owner-key", "nosuch", "--data", data); err == nil || o != "" || !strings.Contains(errOut, "not found") {
		t.Fatalf("owner-key of an unknown tenant: %v %q %q", err, o, errOut)
	}

	s := startServer(t, data)
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + minted}
	var keys struct{ Results []engrampkg.APIKey }
	if err := json.Unmarshal([]byte(mustEngram(t, env, "keys", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	var mintedID string
	for _, k := range keys.Results {
		if strings.HasPrefix(minted, k.Prefix+"_") {
			mintedID = k.ID
			if len(k.Scopes) != len(engrampkg.RoleOwner.Permissions()) {
				t.Fatalf("minted key scopes %v, want every owner scope", k.Scopes)
			}
		}
	}
	if mintedID == "" || len(keys.Results) != 2 {
		t.Fatalf("keys after owner-key: %+v", keys.Results)
	}
	// With two owner keys, the first may now be revoked (the minted one
	// is the recovery path when it was lost).
	firstID := strings.Split(first, "_")[1]
	mustEngram(t, env, "keys", "revoke", firstID)

	var page engrampkg.AuditPage
	if err := json.Unmarshal([]byte(mustEngram(t, env, "audit", "list", "--action", "key.create", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.Entries {
		if e.TargetID == mintedID && e.Transport == "cli" && e.Outcome == engrampkg.OutcomeSuccess && e.KeyID == "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no cli key.create entry for the minted key in %+v", page.Entries)
	}
	s.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after owner-key: %q", out)
	}
}

// TestKeysRevokeRefusesSecret: `engram keys revoke` given a whole key
// refuses before sending anything (no server listens here) and does not
// echo it.
func TestKeysRevokeRefusesSecret(t *testing.T) {
	secret := "egm_1E12jmoyZHVs_ub2uBZiYRbITl7UpH7Vo2zOiq3AzlqT607K6sN"
	env := []string{"ENGRAM_URL=http://127.0.0.1:1", "ENGRAM_API_KEY=" + secret}
	out, errOut, err := engram(t, env, "keys", "revoke", secret)
	if err == nil || !strings.Contains(errOut, "not a key id") || strings.Contains(out+errOut, "ub2uBZiYRbITl7UpH7Vo2zOiq3") {
		t.Fatalf("keys revoke SECRET: %v %q %q", err, out, errOut)
	}
}
