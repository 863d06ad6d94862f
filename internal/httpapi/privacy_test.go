package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

func rawDB(t *testing.T, s *testserver.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", s.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestForgetUser erases one user by crypto-shredding and checks that
// nothing of theirs is reachable, while every other subject and tenant is
// intact.
func TestForgetUser(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	a, b := s.Tenant(t, "alpha"), s.Tenant(t, "beta")
	add := func(c *client.Client, text, user string) string {
		t.Helper()
		r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].ID
	}
	alice1 := add(a, "alice likes kayaking", "alice")
	alice2 := add(a, "alice works at the observatory", "alice")
	if _, err := a.Update(ctx, alice2, "alice works at the planetarium", nil); err != nil {
		t.Fatal(err)
	}
	bob := add(a, "bob likes kayaking too", "bob")
	nobody := add(a, "the office kayaking club meets on fridays", "")
	otherAlice := add(b, "alice of beta likes kayaking", "alice")

	db := rawDB(t, s)
	var wrapped []byte
	if err := db.QueryRow(`SELECT wrapped FROM wrapped_keys WHERE owner = 'u:alice' AND tenant_id = (SELECT id FROM tenants WHERE name = 'alpha')`).Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := db.QueryRow(`SELECT content FROM memories WHERE id = ?`, alice1).Scan(&sealed); err != nil {
		t.Fatal(err)
	}

	// Only a key with users:forget may erase.
	ro, err := a.CreateKey(ctx, client.CreateKeyRequest{Name: "ro", Scopes: []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Client(ro.Secret).ForgetUser(ctx, "alice")
	wantCode(t, err, engram.CodeForbidden)

	r, err := a.ForgetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != "alice" || r.Memories != 2 || r.History != 3 || r.Keys != 1 || r.CompletedAt.IsZero() {
		t.Fatalf("receipt: %+v", r)
	}
	for _, id := range []string{alice1, alice2} {
		_, err := a.Get(ctx, id)
		wantCode(t, err, engram.CodeNotFound)
		_, err = a.History(ctx, id)
		wantCode(t, err, engram.CodeNotFound)
	}
	hits, err := a.Search(ctx, client.SearchRequest{Query: "kayaking observatory planetarium", Limit: 50, Threshold: client.Threshold(0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.UserID == "alice" {
			t.Fatalf("forgotten user found by search: %+v", h)
		}
	}
	if len(hits) != 2 {
		t.Fatalf("want bob's and the unscoped memory, got %d hits", len(hits))
	}
	list, _ := a.List(ctx, client.ListRequest{Scope: engram.Scope{UserID: "alice"}})
	if len(list.Results) != 0 {
		t.Fatalf("list still shows %d memories", len(list.Results))
	}
	for c, id := range map[*client.Client]string{a: bob, b: otherAlice} {
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatalf("other subject lost: %v", err)
		}
	}
	if _, err := a.Get(ctx, nobody); err != nil {
		t.Fatal(err)
	}
	_, err = a.ForgetUser(ctx, "alice")
	wantCode(t, err, engram.CodeNotFound)
	// The user can come back as a new subject with a new key.
	if _, err := a.Add(ctx, client.AddRequest{Content: "alice returned", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}

	// The destroyed key and the shredded ciphertext are gone from every
	// file, WAL included: nothing is left to unwrap with the tenant key.
	err = filepath.WalkDir(s.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, wrapped) {
			t.Errorf("%s still holds the destroyed subject key", path)
		}
		if bytes.Contains(raw, sealed[len(sealed)-32:]) {
			t.Errorf("%s still holds the erased ciphertext", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKeyRotation rotates a tenant's keys while writers are busy, lets
// re-encryption finish, and reads everything back.
func TestKeyRotation(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := s.Tenant(t, "acme")
	other := s.Tenant(t, "other")
	want := map[string]string{}
	for i := range 30 {
		text := fmt.Sprintf("fact %d about rotation", i)
		r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: fmt.Sprintf("u%d", i%4)})
		if err != nil {
			t.Fatal(err)
		}
		want[r[0].ID] = text
	}
	for id := range want {
		text := want[id] + " (edited)"
		if _, err := c.Update(ctx, id, text, nil); err != nil {
			t.Fatal(err)
		}
		want[id] = text
		break
	}
	oid, err := other.Add(ctx, client.AddRequest{Content: "untouched by acme's rotation", UserID: "u0"})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		stop    atomic.Bool
		wg      sync.WaitGroup
		written = map[string]string{}
		errs    = make(chan error, 8)
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				text := fmt.Sprintf("concurrent %d/%d", w, i)
				r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: fmt.Sprintf("u%d", i%5)})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				written[r[0].ID] = text
				mu.Unlock()
			}
		}()
	}
	rot, err := c.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.TenantKeyVersion != 2 || rot.Rewrapped == 0 || rot.Pending == 0 {
		t.Fatalf("rotation: %+v", rot)
	}
	tenant, _ := s.Engine.TenantByName(ctx, "acme")
	for {
		_, remaining, err := s.Engine.Reencrypt(ctx, tenant.ID, 7)
		if err != nil {
			t.Fatal(err)
		}
		if remaining == 0 {
			break
		}
	}
	if rot, err = c.RotateKeys(ctx); err != nil || rot.TenantKeyVersion != 3 {
		t.Fatalf("second rotation: %+v %v", rot, err)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write during rotation: %v", err)
	}
	for {
		_, remaining, err := s.Engine.Reencrypt(ctx, tenant.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		if remaining == 0 {
			break
		}
	}
	for id, text := range written {
		want[id] = text
	}
	for id, text := range want {
		m, err := c.Get(ctx, id)
		if err != nil || m.Content != text {
			t.Fatalf("after rotation %s: %v %v", id, m, err)
		}
		if _, err := c.History(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if hits, err := c.Search(ctx, client.SearchRequest{Query: "edited rotation"}); err != nil || len(hits) == 0 || !strings.Contains(hits[0].Content, "edited") {
		t.Fatalf("search after rotation: %v %v", hits, err)
	}
	if _, err := other.Get(ctx, oid[0].ID); err != nil {
		t.Fatal(err)
	}
	// Old key material is gone: one tenant key version, one version per
	// subject, every record on it.
	db := rawDB(t, s)
	var tenantKeys, oldSubjectKeys, staleMemories int
	db.QueryRow(`SELECT COUNT(*) FROM wrapped_keys WHERE tenant_id = ? AND purpose = 'tenant'`, tenant.ID).Scan(&tenantKeys)
	db.QueryRow(`SELECT COUNT(*) FROM wrapped_keys k WHERE tenant_id = ? AND purpose = 'subject' AND version < (SELECT MAX(version) FROM wrapped_keys WHERE tenant_id = k.tenant_id AND purpose = 'subject' AND owner = k.owner)`, tenant.ID).Scan(&oldSubjectKeys)
	db.QueryRow(`SELECT COUNT(*) FROM memories m WHERE tenant_id = ? AND key_version <> (SELECT MAX(version) FROM wrapped_keys WHERE tenant_id = m.tenant_id AND purpose = 'subject' AND owner = m.subject)`, tenant.ID).Scan(&staleMemories)
	if tenantKeys != 1 || oldSubjectKeys != 0 || staleMemories != 0 {
		t.Fatalf("tenant key versions %d, retired subject keys left %d, memories on old keys %d", tenantKeys, oldSubjectKeys, staleMemories)
	}
	if n, _ := s.Engine.Pending(ctx, ""); n != 0 {
		t.Fatalf("pending %d", n)
	}
	// Only owners rotate.
	ro, _ := c.CreateKey(ctx, client.CreateKeyRequest{Name: "ro", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	_, err = s.Client(ro.Secret).RotateKeys(ctx)
	wantCode(t, err, engram.CodeForbidden)
}
