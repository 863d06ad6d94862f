package keys_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// setup opens a store and a ring in a fresh data directory; dir holds the
// KEK file so a test can reopen it as a restart would.
func setup(t *testing.T) (db *sqlite.DB, r *keys.Ring, now *time.Time, dir string) {
	t.Helper()
	dir = t.TempDir()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(context.Background(), filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Now()
	return db, keys.New(db, k, func() time.Time { return t0 }), &t0, dir
}

func addTenant(t *testing.T, db store.Store, r *keys.Ring, id string) {
	t.Helper()
	ctx := context.Background()
	_, ws, err := r.NewTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: id, Name: "t" + id[len(id)-4:], CreatedAt: time.Now()}); err != nil {
			return err
		}
		for _, w := range ws {
			if err := tx.PutKey(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const (
	tenantA = "01a21117-0000-7000-8000-00000000000a"
	tenantB = "01a21117-0000-7000-8000-00000000000b"
)

func TestSubjectKeys(t *testing.T) {
	ctx := context.Background()
	db, r, _, dir := setup(t)
	addTenant(t, db, r, tenantA)
	addTenant(t, db, r, tenantB)

	k1, err := r.CurrentSubjectKey(ctx, tenantA, "u:alice")
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.CurrentSubjectKey(ctx, tenantA, "u:alice")
	if err != nil || again.ID != k1.ID || !bytes.Equal(again.Secret, k1.Secret) {
		t.Fatalf("second call made another key: %v", err)
	}
	bob, _ := r.CurrentSubjectKey(ctx, tenantA, "u:bob")
	otherTenant, _ := r.CurrentSubjectKey(ctx, tenantB, "u:alice")
	if bytes.Equal(bob.Secret, k1.Secret) || bytes.Equal(otherTenant.Secret, k1.Secret) {
		t.Fatal("subject keys must be independent random keys")
	}
	// A fresh ring (a restart) loads the same key from the store.
	kf, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := keys.New(db, kf, nil).SubjectKey(ctx, tenantA, "u:alice", 1)
	if err != nil || sk.ID != k1.ID || !bytes.Equal(sk.Secret, k1.Secret) {
		t.Fatalf("load after restart: %v", err)
	}
	if _, err := r.SubjectKey(ctx, tenantA, "u:nobody", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}

// TestWrappedKeySubstitution copies a wrapped subject key to another owner
// and another tenant with the store's own API: it must not unwrap there.
func TestWrappedKeySubstitution(t *testing.T) {
	ctx := context.Background()
	db, r, now, _ := setup(t)
	addTenant(t, db, r, tenantA)
	addTenant(t, db, r, tenantB)
	if _, err := r.CurrentSubjectKey(ctx, tenantA, "u:alice"); err != nil {
		t.Fatal(err)
	}
	var w *store.WrappedKey
	if err := db.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.Key(ctx, tenantA, keys.PurposeSubject, "u:alice", 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []struct{ tenant, owner string }{{tenantA, "u:mallory"}, {tenantB, "u:alice"}} {
		moved := *w
		moved.TenantID, moved.Owner = target.tenant, target.owner
		if err := db.Write(ctx, func(tx store.Tx) error { return tx.PutKey(ctx, &moved) }); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(6 * time.Minute) // past the cache
		if _, err := r.SubjectKey(ctx, target.tenant, target.owner, 1); err == nil {
			t.Fatalf("wrapped key moved to %v unwrapped", target)
		}
	}
	// The tenant key itself is bound to its tenant.
	var tw *store.WrappedKey
	db.Read(ctx, func(tx store.Tx) (err error) {
		tw, err = tx.Key(ctx, tenantA, keys.PurposeTenant, "", 1)
		return err
	})
	const tenantC = "01a21117-0000-7000-8000-00000000000c"
	if err := db.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: tenantC, Name: "c", CreatedAt: time.Now()}); err != nil {
			return err
		}
		moved := *tw
		moved.TenantID = tenantC
		return tx.PutKey(ctx, &moved)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.TenantKey(ctx, tenantC); err == nil {
		t.Fatal("tenant key moved to another tenant unwrapped")
	}
}

func TestPepperAndDerivedKeys(t *testing.T) {
	ctx := context.Background()
	db, r, _, _ := setup(t)
	addTenant(t, db, r, tenantA)
	addTenant(t, db, r, tenantB)
	p1, v, err := r.Pepper(ctx)
	if err != nil || len(p1) != 32 || v != 1 {
		t.Fatalf("pepper: %d %d %v", len(p1), v, err)
	}
	p2, _, _ := r.Pepper(ctx)
	if !bytes.Equal(p1, p2) {
		t.Fatal("pepper changed")
	}
	s, _ := r.Derived(ctx, tenantA, keys.PurposeSearch)
	m, _ := r.Derived(ctx, tenantA, keys.PurposeMAC)
	sb, _ := r.Derived(ctx, tenantB, keys.PurposeSearch)
	tk, _ := r.TenantKey(ctx, tenantA)
	if bytes.Equal(s, m) || bytes.Equal(s, sb) || bytes.Equal(s, tk.Secret) {
		t.Fatal("purpose keys must differ by purpose and tenant, and from the tenant key")
	}
	// A subject key seals; the same key from another ring opens.
	k, err := r.CurrentSubjectKey(ctx, tenantA, "u:x")
	if err != nil {
		t.Fatal(err)
	}
	c := seal.Context{Domain: "test", Field: "f"}
	env, _ := seal.Seal(k, c, []byte("hi"))
	if pt, err := seal.Open(k, c, env); err != nil || string(pt) != "hi" {
		t.Fatal(err)
	}
}
