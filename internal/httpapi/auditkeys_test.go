package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestAuditKeysREST: after a checkpoint key rotation GET /v1/audit/keys
// lists both versions, the current one marked, with the caller's tenant's
// hand-over (its own origin, naming the new key, signed by both); the
// proof answers verify across the rotation with the key list.
func TestAuditKeysREST(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	alpha, beta := s.Tenant(t, "alpha"), s.Tenant(t, "beta")
	for _, c := range []*client.Client{alpha, beta, alpha} {
		if _, err := c.Add(ctx, client.AddRequest{Content: "entry", UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
	}
	sealAll(t, s, 100)
	origin := checkpoint.Origin(tenantID(t, s, "alpha"))
	before, err := alpha.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldBundle, err := alpha.AuditBundle(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := alpha.AuditKeys(ctx)
	if err != nil || len(ks) != 1 || !ks[0].Current || ks[0].VerifierKey != before.VerifierKey || ks[0].Handover != "" {
		t.Fatalf("keys before rotation: %+v %v", ks, err)
	}
	vk1 := before.VerifierKey

	rot, err := s.Engine.RotateCheckpointKey(ctx)
	if err != nil || rot.To != 2 || rot.Handovers != 3 || len(rot.Skipped) != 0 { // alpha, beta, the system chain
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	ks, err = alpha.AuditKeys(ctx)
	if err != nil || len(ks) != 2 || ks[0].Current || !ks[1].Current || ks[0].VerifierKey != vk1 || ks[1].VerifierKey != rot.VerifierKey {
		t.Fatalf("keys after rotation: %+v %v", ks, err)
	}
	vk2 := rot.VerifierKey
	if ks[0].Handover != "" || ks[1].Handover == "" {
		t.Fatalf("hand-overs: %+v", ks)
	}
	hcp, next, err := checkpoint.OpenHandover([]byte(ks[1].Handover), origin, vk1)
	if err != nil || next != vk2 || hcp.Size != before.TreeSize {
		t.Fatalf("alpha's hand-over: %v %q size %d", err, next, hcp.Size)
	}
	old, err := checkpoint.Open([]byte(before.Checkpoint), origin, vk1)
	if err != nil || !bytes.Equal(old.Hash, hcp.Hash) {
		t.Fatalf("hand-over names another tree: %v", err)
	}
	bks, err := beta.AuditKeys(ctx)
	if err != nil || len(bks) != 2 {
		t.Fatal(err)
	}
	if _, _, err := checkpoint.OpenHandover([]byte(bks[1].Handover), origin, vk1); !errors.Is(err, checkpoint.ErrOrigin) {
		t.Fatalf("beta's hand-over passed as alpha's: %v", err)
	}

	// New checkpoints: the new key; proofs across the rotation verify with
	// the key list.
	if _, err := alpha.Add(ctx, client.AddRequest{Content: "after", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}
	sealAll(t, s, 100)
	after, err := alpha.AuditCheckpoint(ctx)
	if err != nil || after.VerifierKey != vk2 || after.TreeSize <= before.TreeSize {
		t.Fatalf("checkpoint after rotation: %+v %v", after, err)
	}
	if _, err := checkpoint.Open([]byte(after.Checkpoint), origin, vk1); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("new checkpoint under the retired key: %v", err)
	}
	c, err := alpha.AuditConsistency(ctx, before.TreeSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkpoint.VerifyCheckpoints([]byte(c.FromCheckpoint), []byte(c.ToCheckpoint), c.Proof, origin, vk1, vk2); err != nil {
		t.Fatalf("consistency across the rotation: %v", err)
	}
	if _, err := checkpoint.VerifyBundle(toBundle(t, oldBundle), vk1, vk2); err != nil {
		t.Fatalf("pre-rotation bundle: %v", err)
	}
	nb, err := alpha.AuditBundle(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Its consistency proof starts at the segment's own checkpoint, signed
	// by the retired key: the verifier needs both.
	if _, err := checkpoint.VerifyBundle(toBundle(t, nb), vk2); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("post-rotation bundle of an old segment, new key only: %v", err)
	}
	if _, err := checkpoint.VerifyBundle(toBundle(t, nb), vk1, vk2); err != nil {
		t.Fatalf("post-rotation bundle of an old segment: %v", err)
	}
}
