package keys_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
)

// TestReadsRacingRotation: a key read while a rotation commits sees one
// snapshot of the child row and the tenant key that wraps it. Reading them
// in two transactions failed with "load tenant key: not found" whenever
// the rotation (which rewraps the row and destroys the old tenant key)
// committed in between: a write racing a rotation answered 500. The
// reader is a second ring, as another process with a cold cache is, so
// every read goes to the store.
func TestReadsRacingRotation(t *testing.T) {
	db, r, now, dir := setup(t)
	addTenant(t, db, r, tenantA)
	ctx := context.Background()
	if _, err := r.CurrentSubjectKey(ctx, tenantA, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	other := keys.New(db, k, func() time.Time { return *now })

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for range 25 {
			if _, err := r.Rotate(ctx, tenantA); err != nil {
				t.Error(err)
				return
			}
		}
	})
	reads := 0
	for !done.Load() {
		other.Forget(tenantA, "*") // a cold cache: every read reaches the store
		if _, _, err := other.CurrentSubjectKeyGen(ctx, tenantA, "alice"); err != nil {
			t.Fatalf("current subject key during rotation: %v", err)
		}
		if _, err := other.Derived(ctx, tenantA, keys.PurposeMAC); err != nil {
			t.Fatalf("derived key during rotation: %v", err)
		}
		reads++
	}
	wg.Wait()
	t.Logf("%d reads during 25 rotations", reads)
}
