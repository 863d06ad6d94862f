package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

func verifyAll(t *testing.T, s *testserver.Server) {
	t.Helper()
	reps, err := s.Engine.VerifyAuditTrail(context.Background(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.Problem != nil {
			t.Fatalf("verify: %v", r.Problem)
		}
	}
}

// TestAuditRetentionAndLegalHold: a hold blocks the sweep and erasure in
// its scope; releasing it lets both proceed; the sweep leaves tombstones
// after which the chain and the proofs between later checkpoints still
// verify; holds and the sweep are themselves recorded.
func TestAuditRetentionAndLegalHold(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "alpha")
	for _, u := range []string{"carol", "dave", "erin"} {
		if _, err := owner.Add(ctx, client.AddRequest{Content: "memo", UserID: u}); err != nil {
			t.Fatal(err)
		}
	}
	sealAll(t, s, 2)
	old, err := owner.AuditSegments(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Segments) < 2 {
		t.Fatalf("segments %+v", old.Segments)
	}

	// A tenant-wide hold: no erasure, no tenant forget, no sweep.
	hold, err := owner.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "litigation"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.ForgetUser(ctx, "carol"); client.Code(err) != engram.CodeHeld {
		t.Fatalf("forget under a tenant hold: %v", err)
	}
	if _, err := s.Engine.ForgetTenant(ctx, "alpha"); engram.ErrorCode(err) != engram.CodeHeld {
		t.Fatalf("tenant forget under a hold: %v", err)
	}
	s.Clock.Advance(engine.DefaultAuditRetentionDays*24*time.Hour + time.Hour)
	st, err := s.Engine.SweepAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The system chain (tenant creation) has no hold and expired too.
	if st.Held != 1 || st.Chains != 1 {
		t.Fatalf("sweep under a hold: %+v", st)
	}
	kept := func(what string) {
		t.Helper()
		segs, err := owner.AuditSegments(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, sg := range segs.Segments {
			if sg.DroppedAt != nil {
				t.Fatalf("%s: segment %d dropped", what, sg.First)
			}
		}
	}
	kept("tenant hold")

	// A user hold narrows the scope: carol is held, dave is not.
	if err := owner.ReleaseAuditHold(ctx, hold.ID); err != nil {
		t.Fatal(err)
	}
	uh, err := owner.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "regulator_request", UserID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if uh.User == "" || uh.User == "carol" {
		t.Fatalf("the hold names the user as %q, not a pseudonym", uh.User)
	}
	if _, err := owner.ForgetUser(ctx, "carol"); client.Code(err) != engram.CodeHeld {
		t.Fatalf("forget of a held user: %v", err)
	}
	if _, err := owner.ForgetUser(ctx, "dave"); err != nil {
		t.Fatalf("forget of a user outside the hold: %v", err)
	}
	st, err = s.Engine.SweepAudit(ctx)
	if err != nil || st.Held != 1 || st.Segments != 0 {
		t.Fatalf("sweep under a user hold: %+v %v", st, err)
	}
	kept("user hold")
	if err := owner.ReleaseAuditHold(ctx, uh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.ForgetUser(ctx, "carol"); err != nil {
		t.Fatalf("forget after release: %v", err)
	}

	// Released: the expired segments go, tombstones stay.
	st, err = s.Engine.SweepAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments != len(old.Segments) || st.Entries == 0 {
		t.Fatalf("sweep after release: %+v (had %d segments)", st, len(old.Segments))
	}
	segs, err := owner.AuditSegments(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, sg := range segs.Segments[:len(old.Segments)] {
		if sg.DroppedAt == nil || sg.Checkpoint != old.Segments[i].Checkpoint {
			t.Fatalf("segment %d after the sweep: %+v", sg.First, sg)
		}
	}
	if _, err := owner.AuditInclusion(ctx, 1, 0); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("inclusion of a dropped entry: %v", err)
	}
	if _, err := owner.AuditBundle(ctx, 1); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("bundle of a dropped segment: %v", err)
	}
	verifyAll(t, s)

	// Later checkpoints still link to the tombstoned ones, and every live
	// entry's inclusion verifies.
	if _, err := owner.Add(ctx, client.AddRequest{Content: "after"}); err != nil {
		t.Fatal(err)
	}
	sealAll(t, s, 2)
	info, err := owner.AuditCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	origin := checkpoint.Origin(tenantID(t, s, "alpha"))
	cp, err := checkpoint.Open([]byte(info.Checkpoint), origin, info.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	lastDropped := old.Segments[len(old.Segments)-1].Last
	for _, sg := range old.Segments {
		c, err := owner.AuditConsistency(ctx, sg.Last, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := checkpoint.VerifyCheckpoints([]byte(sg.Checkpoint), []byte(info.Checkpoint), c.Proof, origin, info.VerifierKey); err != nil {
			t.Fatalf("consistency from the tombstoned checkpoint at %d: %v", sg.Last, err)
		}
	}
	for seq := lastDropped + 1; seq <= cp.Size; seq++ {
		p, err := owner.AuditInclusion(ctx, seq, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkpoint.VerifyInclusion(checkpoint.LeafHash(p.Entry), p.LeafIndex, p.TreeSize, p.Proof, cp.Hash); err != nil {
			t.Fatalf("inclusion of %d after the sweep: %v", seq, err)
		}
	}
	verifyAll(t, s)

	// Holds and the sweep are in the trail.
	for _, act := range []engram.AuditAction{engram.AuditHoldCreate, engram.AuditHoldRelease, engram.AuditSweep} {
		es := allAudit(t, owner, engram.AuditQuery{Action: act})
		if len(es) == 0 {
			t.Errorf("no %s entry", act)
		}
		if act == engram.AuditSweep && (len(es) != 1 || es[0].TargetID == "") {
			t.Errorf("sweep entries %+v", es)
		}
	}
}

// TestAuditSealerStops: the background loop seals on its tick and returns
// when its context ends (goleak checks nothing is left behind).
func TestAuditSealerStops(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "alpha")
	if _, err := owner.Add(ctx, client.AddRequest{Content: "x"}); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Engine.RunAuditSealer(lctx, 10*time.Millisecond, checkpoint.Policy{MaxEntries: 1000, MaxAge: time.Minute}, func(err error) { t.Error(err) })
	}()
	deadline := time.After(5 * time.Second)
	for {
		info, err := owner.AuditCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.TreeSize > 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("the loop never sealed")
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	<-done
}
