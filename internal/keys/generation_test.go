package keys_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
)

// TestSubjectKeyGenerations: a subject's key erased and created anew has
// the same version number (1) but is another key. A ring that cached the
// destroyed one (this process before its erasure's Forget ran, or another
// process altogether) must not hand it out for the new row: text sealed
// under it would be acknowledged and never open again.
func TestSubjectKeyGenerations(t *testing.T) {
	ctx := context.Background()
	db, r, _, dir := setup(t)
	addTenant(t, db, r, tenantA)
	old, oldGen, err := r.CurrentSubjectKeyGen(ctx, tenantA, "u:alice")
	if err != nil {
		t.Fatal(err)
	}
	// Erased by another process: r's cache still holds the old key.
	if err := db.Write(ctx, func(tx store.Tx) error {
		_, err := tx.DeleteSubject(ctx, tenantA, "u:alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReloadSubjectKey(ctx, tenantA, "u:alice", 1); !errors.Is(err, keys.ErrSubjectKeyGone) {
		t.Fatalf("reload of an erased key: %v, want ErrSubjectKeyGone", err)
	}
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	other := keys.New(db, k, nil)
	fresh, freshGen, err := other.CurrentSubjectKeyGen(ctx, tenantA, "u:alice")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Version != old.Version || fresh.ID == old.ID || string(freshGen) == string(oldGen) {
		t.Fatalf("re-created key: version %d (was %d), same id %v, same stored form %v",
			fresh.Version, old.Version, fresh.ID == old.ID, string(freshGen) == string(oldGen))
	}
	got, gotGen, err := r.CurrentSubjectKeyGen(ctx, tenantA, "u:alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != fresh.ID || string(gotGen) != string(freshGen) {
		t.Fatal("the ring handed out the destroyed key for the re-created one")
	}
	again, err := r.ReloadSubjectKey(ctx, tenantA, "u:alice", 1)
	if err != nil || again.ID != fresh.ID {
		t.Fatalf("reload: %v, same key %v", err, again.ID == fresh.ID)
	}
}
