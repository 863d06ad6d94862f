package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// sealAll seals everything pending in segments of at most n entries, with
// the clock moved on so the age trigger fires.
func sealAll(t *testing.T, s *testserver.Server, n uint64) engine.SealStats {
	t.Helper()
	s.Clock.Advance(2 * time.Second)
	st, err := s.Engine.SealAudit(context.Background(), checkpoint.Policy{MaxEntries: n, MaxAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func tenantID(t *testing.T, s *testserver.Server, name string) string {
	t.Helper()
	tn, err := s.Engine.TenantByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// toBundle converts the API's bundle to the library's, through its JSON
// (the same document `check-bundle` reads).
func toBundle(t *testing.T, b *engram.AuditBundle) *checkpoint.Bundle {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := checkpoint.ParseBundle(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

// TestAuditProofsREST: every proof the API serves verifies with the
// library's verifiers against the signed checkpoint and nothing else; a
// tampered bundle fails naming the entry; the reads are recorded.
func TestAuditProofsREST(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "alpha")
	for i := 0; i < 5; i++ {
		if _, err := owner.Add(ctx, client.AddRequest{Content: "entry", UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
		if i == 1 || i == 4 {
			sealAll(t, s, 3)
		}
	}
	origin := checkpoint.Origin(tenantID(t, s, "alpha"))
	info, err := owner.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := s.Engine.AuditVerifierKey(ctx)
	if err != nil || info.VerifierKey != vk {
		t.Fatalf("verifier key %q, engine %q: %v", info.VerifierKey, vk, err)
	}
	cp, err := checkpoint.Open([]byte(info.Checkpoint), origin, vk)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != info.TreeSize || cp.Size < 5 {
		t.Fatalf("checkpoint size %d, info %d", cp.Size, info.TreeSize)
	}
	for seq := uint64(1); seq <= cp.Size; seq++ {
		p, err := owner.AuditInclusion(ctx, seq, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.TreeSize != cp.Size || p.Checkpoint != info.Checkpoint {
			t.Fatalf("seq %d: proof against size %d", seq, p.TreeSize)
		}
		if err := checkpoint.VerifyInclusion(checkpoint.LeafHash(p.Entry), p.LeafIndex, p.TreeSize, p.Proof, cp.Hash); err != nil {
			t.Fatalf("inclusion of seq %d: %v", seq, err)
		}
		bad := bytes.Clone(p.Entry)
		bad[len(bad)-1] ^= 1
		if checkpoint.VerifyInclusion(checkpoint.LeafHash(bad), p.LeafIndex, p.TreeSize, p.Proof, cp.Hash) == nil {
			t.Fatalf("a changed entry %d verified", seq)
		}
	}
	segs, err := owner.AuditSegments(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs.Segments) < 2 {
		t.Fatalf("segments: %+v", segs)
	}
	for i, sg := range segs.Segments {
		if i > 0 && sg.First != segs.Segments[i-1].Last+1 {
			t.Fatalf("segments not contiguous: %+v", segs.Segments)
		}
		c, err := owner.AuditConsistency(ctx, sg.Last, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c.FromCheckpoint != sg.Checkpoint || c.ToCheckpoint != info.Checkpoint {
			t.Fatalf("consistency %d..%d: checkpoints not attached", c.From, c.To)
		}
		if _, _, err := checkpoint.VerifyCheckpoints([]byte(c.FromCheckpoint), []byte(c.ToCheckpoint), c.Proof, origin, vk); err != nil {
			t.Fatalf("consistency from %d: %v", sg.Last, err)
		}
		b, err := owner.AuditBundle(ctx, sg.First)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := checkpoint.VerifyBundle(toBundle(t, b), vk)
		if err != nil || rep.Entries != int(sg.Last-sg.First+1) {
			t.Fatalf("bundle of segment %d: %+v %v", sg.First, rep, err)
		}
		if len(b.Entries) > 1 {
			b.Entries[1] = append(bytes.Clone(b.Entries[1]), 0)
			if rep, err := checkpoint.VerifyBundle(toBundle(t, b), vk); err == nil || rep.FirstBad != 1 {
				t.Fatalf("tampered bundle: %+v %v", rep, err)
			}
		}
	}
	// A checkpoint signed by another key is refused.
	_, otherVK, err := checkpoint.GenerateKey(rand.Reader, checkpoint.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open([]byte(info.Checkpoint), origin, otherVK); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("a checkpoint under another key: %v", err)
	}
	// Out of range and malformed requests are 400s with stable codes.
	if _, err := owner.AuditInclusion(ctx, cp.Size+1000, 0); client.Code(err) != engram.CodeInvalid {
		t.Fatalf("inclusion beyond the log: %v", err)
	}
	if _, err := owner.AuditConsistency(ctx, cp.Size, cp.Size+1); client.Code(err) != engram.CodeInvalid {
		t.Fatalf("consistency beyond the log: %v", err)
	}
	if _, err := owner.AuditBundle(ctx, 999999); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("bundle of a missing segment: %v", err)
	}
	// The reads are in the trail.
	reads := allAudit(t, owner, engram.AuditQuery{Action: engram.AuditRead, TargetType: engram.TargetAudit})
	seen := map[string]bool{}
	for _, e := range reads {
		seen[e.TargetID] = true
	}
	for _, want := range []string{"checkpoint", "inclusion", "consistency", "segments", "bundle"} {
		if !seen[want] {
			t.Errorf("no audit.read entry for %s", want)
		}
	}
	reps, err := s.Engine.VerifyAuditTrail(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.Problem != nil {
			t.Fatalf("verify: %v", r.Problem)
		}
	}
}

// TestAuditProofsForbiddenAndIsolated: a key without audit:read gets 403 on
// every new endpoint; another tenant sees only its own log and holds.
func TestAuditProofsForbiddenAndIsolated(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner, beta := s.Tenant(t, "alpha"), s.Tenant(t, "beta")
	if _, err := owner.Add(ctx, client.AddRequest{Content: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := beta.Add(ctx, client.AddRequest{Content: "y"}); err != nil {
		t.Fatal(err)
	}
	k, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}
	sealAll(t, s, 1000)
	hold, err := owner.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "litigation"})
	if err != nil {
		t.Fatal(err)
	}
	reader := s.Client(k.Secret)
	calls := map[string]func() error{
		"checkpoint":  func() error { _, err := reader.AuditCheckpoint(ctx); return err },
		"inclusion":   func() error { _, err := reader.AuditInclusion(ctx, 1, 0); return err },
		"consistency": func() error { _, err := reader.AuditConsistency(ctx, 1, 0); return err },
		"segments":    func() error { _, err := reader.AuditSegments(ctx, "", 0); return err },
		"bundle":      func() error { _, err := reader.AuditBundle(ctx, 1); return err },
		"hold create": func() error {
			_, err := reader.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "x"})
			return err
		},
		"hold list":   func() error { _, err := reader.ListAuditHolds(ctx); return err },
		"hold delete": func() error { return reader.ReleaseAuditHold(ctx, hold.ID) },
	}
	for name, call := range calls {
		if err := call(); client.Code(err) != engram.CodeForbidden {
			t.Errorf("%s with a read-only key: %v", name, err)
		}
	}
	denied := allAudit(t, owner, engram.AuditQuery{Outcome: engram.OutcomeDenied})
	if len(denied) != len(calls) {
		t.Errorf("%d denied entries for %d refused calls", len(denied), len(calls))
	}

	// An auditor (audit:read) reads holds but cannot place or release one:
	// a hold blocks erasure, so it takes audit:hold.
	ak, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "auditor", Scopes: []engram.Permission{engram.PermAuditRead}})
	if err != nil {
		t.Fatal(err)
	}
	auditor := s.Client(ak.Secret)
	if hs, err := auditor.ListAuditHolds(ctx); err != nil || len(hs) != 1 {
		t.Fatalf("auditor lists holds: %v, %v", hs, err)
	}
	if _, err := auditor.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "x"}); client.Code(err) != engram.CodeForbidden {
		t.Errorf("auditor places a hold: %v", err)
	}
	if err := auditor.ReleaseAuditHold(ctx, hold.ID); client.Code(err) != engram.CodeForbidden {
		t.Errorf("auditor releases a hold: %v", err)
	}

	// Isolation: beta's checkpoint and bundle are its own; alpha's hold is
	// invisible to beta and cannot be released by it.
	bi, err := beta.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open([]byte(bi.Checkpoint), checkpoint.Origin(tenantID(t, s, "beta")), bi.VerifierKey); err != nil {
		t.Fatalf("beta's checkpoint: %v", err)
	}
	if _, err := checkpoint.Open([]byte(bi.Checkpoint), checkpoint.Origin(tenantID(t, s, "alpha")), bi.VerifierKey); err == nil {
		t.Fatal("beta's checkpoint passes as alpha's")
	}
	bb, err := beta.AuditBundle(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if bb.Tenant != tenantID(t, s, "beta") {
		t.Fatalf("beta's bundle names tenant %q", bb.Tenant)
	}
	if hs, err := beta.ListAuditHolds(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("beta sees holds %+v %v", hs, err)
	}
	if err := beta.ReleaseAuditHold(ctx, hold.ID); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("beta released alpha's hold: %v", err)
	}
	if hs, err := owner.ListAuditHolds(ctx); err != nil || len(hs) != 1 || hs[0].ID != hold.ID || hs[0].ReasonCode != "litigation" {
		t.Fatalf("alpha's holds %+v %v", hs, err)
	}
	if _, err := owner.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "Free text, with spaces"}); client.Code(err) != engram.CodeInvalid {
		t.Fatalf("free-text reason: %v", err)
	}
}
