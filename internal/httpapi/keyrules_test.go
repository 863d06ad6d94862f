package httpapi_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestEveryScopeGrantable: every scope can be granted by a key that holds
// it, through the REST schema too (users:forget and audit:hold were
// refused by its enum), and the new key can use it.
func TestEveryScopeGrantable(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "acme")
	for _, p := range engram.AllPermissions {
		k, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "only " + string(p), Scopes: []engram.Permission{p}})
		if err != nil {
			t.Fatalf("grant %s: %v", p, err)
		}
		if len(k.Scopes) != 1 || k.Scopes[0] != p {
			t.Fatalf("grant %s: scopes %v", p, k.Scopes)
		}
	}
	all, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "all", Scopes: engram.AllPermissions})
	if err != nil {
		t.Fatal(err)
	}
	forget, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "eraser", Scopes: []engram.Permission{engram.PermUsersForget}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Add(ctx, client.AddRequest{Content: "bob likes tea", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(forget.Secret).ForgetUser(ctx, "bob"); err != nil {
		t.Fatalf("users:forget key cannot forget: %v", err)
	}
	// A key still cannot grant what it does not hold.
	_, err = s.Client(forget.Secret).CreateKey(ctx, client.CreateKeyRequest{Name: "x", Scopes: []engram.Permission{engram.PermUsersForget}})
	wantCode(t, err, engram.CodeForbidden)
	ka, err := s.Client(all.Secret).CreateKey(ctx, client.CreateKeyRequest{Name: "keys", Scopes: []engram.Permission{engram.PermKeysAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Client(ka.Secret).CreateKey(ctx, client.CreateKeyRequest{Name: "x", Scopes: []engram.Permission{engram.PermAuditHold}})
	wantCode(t, err, engram.CodeForbidden)
}

// TestRevocationRules: a key revokes only keys whose scopes it holds, and
// never the tenant's last owner-equivalent key. Before, a keys:admin key
// could revoke the owner key and lock the tenant out of erasure and holds.
func TestRevocationRules(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	owner := s.Client(nt.Key.Secret)
	if _, err := owner.Add(ctx, client.AddRequest{Content: "bob likes tea", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, scopes ...engram.Permission) *engram.NewAPIKey {
		t.Helper()
		k, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: name, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ka := mk("keys-only", engram.PermKeysAdmin)
	admin := s.Client(ka.Secret)
	reader := mk("reader", engram.PermMemoriesRead)
	peer := mk("keys-too", engram.PermKeysAdmin)

	wantCode(t, admin.RevokeKey(ctx, nt.Key.ID), engram.CodeForbidden)
	wantCode(t, admin.RevokeKey(ctx, reader.ID), engram.CodeForbidden)
	if err := admin.RevokeKey(ctx, peer.ID); err != nil {
		t.Fatalf("revoke a key with a subset of the caller's scopes: %v", err)
	}
	if _, err := owner.List(ctx, client.ListRequest{}); err != nil {
		t.Fatalf("owner key after the refused revocation: %v", err)
	}
	// The refusals are in the trail, as denied key.revoke entries.
	page, err := owner.Audit(ctx, engram.AuditQuery{Action: engram.AuditKeyRevoke, Outcome: engram.OutcomeDenied})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 {
		t.Fatalf("denied revocations recorded: %d, want 2", len(page.Entries))
	}

	// The owner key is the last owner-equivalent key: not even it may
	// revoke itself. A key expired or revoked does not count.
	wantCode(t, owner.RevokeKey(ctx, nt.Key.ID), engram.CodeConflict)
	soon := s.Clock.Now().Add(time.Minute)
	short, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "short", ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	gone := mk("gone")
	if err := owner.RevokeKey(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * time.Minute)
	wantCode(t, owner.RevokeKey(ctx, nt.Key.ID), engram.CodeConflict)
	if err := owner.RevokeKey(ctx, short.ID); err != nil {
		t.Fatalf("revoke an expired full key: %v", err)
	}
	// A key that lacks one owner permission is not owner-equivalent.
	mk("almost", engram.PermMemoriesRead, engram.PermMemoriesWrite, engram.PermKeysAdmin, engram.PermAuditRead, engram.PermAuditHold)
	wantCode(t, owner.RevokeKey(ctx, nt.Key.ID), engram.CodeConflict)

	// With a second full key, the first may go, and the second then is
	// the last.
	second := mk("owner 2")
	if err := owner.RevokeKey(ctx, nt.Key.ID); err != nil {
		t.Fatalf("revoke the owner key with another full key left: %v", err)
	}
	wantCode(t, s.Client(second.Secret).RevokeKey(ctx, second.ID), engram.CodeConflict)
	if _, err := s.Client(second.Secret).ForgetUser(ctx, "bob"); err != nil {
		t.Fatalf("the remaining owner key cannot erase: %v", err)
	}
}

// TestPastedSecretNeverStored: a key secret given where an id belongs
// (revoking, the memory and hold paths), as a key name or as an
// Idempotency-Key is refused or reduced before anything is recorded:
// neither the secret nor the whole key is in any file of the data
// directory (database and WAL) nor in the log. Before, DELETE
// /v1/keys/{secret} wrote it verbatim as the audit entry's target.
func TestPastedSecretNeverStored(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	owner := s.Client(nt.Key.Secret)
	victim, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	pasted := victim.Secret

	wantCode(t, owner.RevokeKey(ctx, pasted), engram.CodeNotFound)
	wantCode(t, owner.RevokeKey(ctx, victim.Prefix), engram.CodeNotFound)
	wantCode(t, owner.Delete(ctx, pasted), engram.CodeNotFound)
	_, err = owner.History(ctx, pasted)
	wantCode(t, err, engram.CodeNotFound)
	_, err = owner.Update(ctx, pasted, "x", nil)
	wantCode(t, err, engram.CodeNotFound)
	wantCode(t, owner.ReleaseAuditHold(ctx, pasted), engram.CodeNotFound)
	// Non-fatal checks from here on, so that every place the secret could
	// land is reported.
	if _, err = owner.CreateKey(ctx, client.CreateKeyRequest{Name: "old key " + pasted}); client.Code(err) != engram.CodeInvalid {
		t.Errorf("a key name holding a key: %v, want invalid", err)
	}
	if _, err := owner.Add(ctx, client.AddRequest{Content: "hello", IdempotencyKey: pasted}); err != nil {
		t.Fatal(err)
	}
	// A key with no such scope is refused before the id is looked at.
	reader, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.Client(reader.Secret).RevokeKey(ctx, pasted), engram.CodeForbidden)

	// The refused revocation is recorded, with no target.
	page, err := owner.Audit(ctx, engram.AuditQuery{Action: engram.AuditKeyRevoke})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 3 {
		t.Errorf("key.revoke entries: %d, want 3", len(page.Entries))
	}
	for _, e := range page.Entries {
		if e.TargetID != "" {
			t.Errorf("refused revocation recorded target %q", e.TargetID)
		}
	}
	// The victim key was not touched.
	if _, err := s.Client(pasted).List(ctx, client.ListRequest{}); err != nil {
		t.Fatalf("victim key after the refused revocations: %v", err)
	}

	secret := secretOf(t, pasted)
	if _, err := os.Stat(s.DBPath + "-wal"); err != nil {
		t.Fatalf("expected a WAL file to scan: %v", err)
	}
	err = filepath.WalkDir(s.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the pasted secret", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(s.Log.Bytes()), secret) {
		t.Error("the server log holds the pasted secret")
	}
}
