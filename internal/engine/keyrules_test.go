package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestRevokeOwnerKeysRacing: two owner-equivalent keys revoking each other
// at once. The last-owner rule is checked inside the revoking transaction,
// so exactly one wins and the other is refused with conflict: the tenant
// always keeps an owner key.
func TestRevokeOwnerKeysRacing(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := context.Background()
	for i := range 8 {
		nt, err := e.CreateTenant(ctx, fmt.Sprintf("t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pa, err := e.Authenticate(ctx, nt.Key.Secret)
		if err != nil {
			t.Fatal(err)
		}
		a := engram.WithPrincipal(ctx, pa)
		kb, err := e.CreateKey(a, engram.CreateKeyRequest{Name: "second owner"})
		if err != nil {
			t.Fatal(err)
		}
		pb, err := e.Authenticate(ctx, kb.Secret)
		if err != nil {
			t.Fatal(err)
		}
		b := engram.WithPrincipal(ctx, pb)

		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = e.RevokeKey(a, kb.ID) })
		wg.Go(func() { errs[1] = e.RevokeKey(b, nt.Key.ID) })
		wg.Wait()
		codes := map[string]int{}
		for _, err := range errs {
			codes[engram.ErrorCode(err)]++
		}
		if codes[""] != 1 || codes[engram.CodeConflict] != 1 {
			t.Fatalf("round %d: revocations answered %v, want one success and one conflict", i, errs)
		}
	}
}

// TestMintOwnerKey: the operator's key holds every owner permission, and
// an unknown tenant is not_found.
func TestMintOwnerKey(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := context.Background()
	if _, err := e.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	k, err := e.MintOwnerKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != engram.RoleOwner || len(p.Permissions) != len(engram.RoleOwner.Permissions()) {
		t.Fatalf("minted key's principal: %+v", p)
	}
	_, err = e.MintOwnerKey(ctx, "nosuch")
	if engram.ErrorCode(err) != engram.CodeNotFound {
		t.Fatalf("unknown tenant: %v", err)
	}
}
