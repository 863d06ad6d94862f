package keys_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
)

// TestCheckpointKeyRotation: a rotation makes a new version current, keeps
// the retired public key and destroys its seed; a public key inserted into
// the database without the KEK (an attacker's own key) is refused rather
// than trusted; a second ring over the same store (another process) signs
// with the new version at once.
func TestCheckpointKeyRotation(t *testing.T) {
	db, r, _, dir := setup(t)
	ctx := context.Background()
	v1, err := r.CurrentCheckpointKey(ctx)
	if err != nil || v1.Version != 1 {
		t.Fatalf("first key: %v", err)
	}
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	r2 := keys.New(db, k, nil) // another process on the same store
	if c, err := r2.CurrentCheckpointKey(ctx); err != nil || c.Verifier != v1.Verifier {
		t.Fatalf("second ring before rotation: %v", err)
	}
	rot, err := r.RotateCheckpointKey(ctx, func(store.Tx, *keys.CheckpointKey, *keys.CheckpointKey) (int, error) { return 0, nil })
	if err != nil || rot.From != 1 || rot.To != 2 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	if c, err := r2.CurrentCheckpointKey(ctx); err != nil || c.Version != 2 || c.Verifier != rot.Verifier {
		t.Fatalf("second ring after rotation: %v", err)
	}
	vs, err := r.CheckpointVerifiers(ctx)
	if err != nil || len(vs) != 2 || vs[0].Key != v1.Verifier || vs[0].Current || !vs[1].Current || vs[1].Key != rot.Verifier {
		t.Fatalf("verifiers: %+v %v", vs, err)
	}
	err = db.Read(ctx, func(tx store.Tx) error {
		ks, err := tx.Keys(ctx, "", keys.PurposeAuditCheckpoint)
		if err != nil {
			return err
		}
		if len(ks) != 1 || ks[0].Version != 2 {
			t.Errorf("seeds left: %+v", ks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// An attacker with write access but no KEK adds their own public key.
	pub, _, _ := ed25519.GenerateKey(nil)
	err = db.Write(ctx, func(tx store.Tx) error {
		return tx.PutKey(ctx, &store.WrappedKey{Purpose: keys.PurposeAuditCheckpointPublic, Version: 7, Wrapped: pub, CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := r.CheckpointVerifiers(ctx); err == nil {
		t.Fatalf("an unwrapped public key was trusted: %+v", vs)
	}
}
