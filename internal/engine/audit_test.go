package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// recordingSink keeps what it is given; fail makes Publish fail.
type recordingSink struct {
	mu   sync.Mutex
	got  []audit.Record
	fail bool
}

func (s *recordingSink) Publish(_ context.Context, tenantID string, seq uint64, b []byte) error {
	var r audit.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if r.TenantID != tenantID || r.Seq != seq {
		return errors.New("arguments disagree with the entry")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
	if s.fail {
		return errors.New("sink down")
	}
	return nil
}

// TestAuditSink: every committed entry reaches the sink once, after its
// commit, with the MAC stored in the chain; a failed action's entry is a
// failure entry, never a success; a failing sink never fails the action.
func TestAuditSink(t *testing.T) {
	sink := &recordingSink{}
	var reported []error
	e, _ := testserver.NewEngine(t, engine.WithAuditSink(sink, func(err error) { reported = append(reported, err) }))
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	pctx := engram.WithPrincipal(ctx, p)
	r, err := e.Add(pctx, engram.AddRequest{Messages: []engram.Message{{Role: "user", Content: "one"}, {Role: "assistant", Content: "two"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(pctx, r[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(pctx, "01900000-0000-7000-8000-000000000000", engram.UpdateRequest{Content: "x"}); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Fatalf("update of a missing memory: %v", err)
	}
	sink.fail = true
	if _, err := e.Get(pctx, r[0].ID); err != nil {
		t.Fatalf("a failing sink failed the action: %v", err)
	}
	if len(reported) != 1 {
		t.Fatalf("sink errors reported: %v", reported)
	}

	var tenantSeqs []uint64
	var actions []string
	for _, rec := range sink.got {
		if rec.TenantID == nt.Tenant.ID {
			tenantSeqs = append(tenantSeqs, rec.Seq)
			actions = append(actions, string(rec.Action)+"/"+string(rec.Outcome))
		} else if rec.TenantID != "" || rec.Action != engram.AuditTenantCreate {
			t.Errorf("unexpected entry %+v", rec)
		}
	}
	want := []string{"memory.create/success", "memory.create/success", "memory.read/success", "memory.update/failure", "memory.read/success"}
	if len(actions) != len(want) {
		t.Fatalf("published %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] || tenantSeqs[i] != uint64(i+1) {
			t.Errorf("entry %d: %s seq %d, want %s seq %d", i, actions[i], tenantSeqs[i], want[i], i+1)
		}
	}
	page, err := e.ListAudit(pctx, engram.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != len(want) || page.Entries[0].Seq != uint64(len(want)) {
		t.Fatalf("the store holds %d entries, newest %d", len(page.Entries), page.Entries[0].Seq)
	}
	reports, err := e.VerifyAudit(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reports {
		if rep.Problem != nil {
			t.Fatal(rep.Problem)
		}
	}
}

// TestAuditSurvivesErasureAndRotation: forgetting a user and rotating the
// tenant's keys leave the chain verifiable, and the forget entry names the
// user only by pseudonym, one that still matches a filter by user_id.
func TestAuditSurvivesErasureAndRotation(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.Authenticate(ctx, nt.Key.Secret)
	pctx := engram.WithPrincipal(ctx, p)
	if _, err := e.Add(pctx, engram.AddRequest{Content: "dana likes owls", Scope: engram.Scope{UserID: "dana"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RotateKeys(pctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ForgetUser(pctx, "dana"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RotateKeys(pctx); err != nil {
		t.Fatal(err)
	}
	page, err := e.ListAudit(pctx, engram.AuditQuery{TargetType: engram.TargetUser, TargetID: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Action != engram.AuditUserForget || page.Entries[0].TargetID == "dana" {
		t.Fatalf("forget entries: %+v", page.Entries)
	}
	reports, err := e.VerifyAudit(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if reports[0].Problem != nil || reports[0].Entries != 5 {
		t.Fatalf("after erasure and rotation: %+v %v", reports[0], reports[0].Problem)
	}
}

// TestAuditConcurrentRequests: many goroutines of one tenant write and
// read at once; the chain ends up with exactly one entry per call, numbered
// 1..n without gap or fork, and verifies.
func TestAuditConcurrentRequests(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := context.Background()
	_, pctx := owner(t, e)
	const workers, calls = 8, 10
	concurrently(t, workers, calls, func(w, i int) error {
		r, err := e.Add(pctx, engram.AddRequest{Content: "note", Scope: engram.Scope{RunID: string(rune('a'+w)) + string(rune('a'+i))}})
		if err == nil {
			_, err = e.Get(pctx, r[0].ID)
		}
		return err
	})
	reports, err := e.VerifyAudit(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := reports[0]; r.Problem != nil || r.Entries != 2*workers*calls || r.LastSeq != 2*workers*calls {
		t.Fatalf("chain after concurrent requests: %+v %v", r, r.Problem)
	}
}

// TestAuditConcurrentSearches: concurrent searches (which read the store
// in several short transactions) each commit one entry, in a gap-free
// chain that verifies.
func TestAuditConcurrentSearches(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := context.Background()
	_, pctx := owner(t, e)
	for _, c := range []string{"coffee in lisbon", "tea in tokyo", "chess in paris"} {
		if _, err := e.Add(pctx, engram.AddRequest{Content: c}); err != nil {
			t.Fatal(err)
		}
	}
	const workers, calls = 8, 10
	concurrently(t, workers, calls, func(w, i int) error {
		hits, err := e.Search(pctx, engram.SearchRequest{Query: []string{"coffee", "tea", "chess"}[(w+i)%3]})
		if err == nil && len(hits) != 1 {
			err = fmt.Errorf("%d hits", len(hits))
		}
		return err
	})
	reports, err := e.VerifyAudit(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := reports[0]; r.Problem != nil || r.LastSeq != 3+workers*calls {
		t.Fatalf("chain after concurrent searches: %+v %v", r, r.Problem)
	}
}

// TestAuditConcurrentReads: reads append their entries on their own, and
// concurrent ones share commits (group commit). Every read still gets its
// own entry, once, in a gap-free chain that verifies, and the sink sees
// each entry exactly once with the MAC the chain holds.
func TestAuditConcurrentReads(t *testing.T) {
	sink := &recordingSink{}
	e, _ := testserver.NewEngine(t, engine.WithAuditSink(sink, nil))
	ctx := context.Background()
	nt, pctx := owner(t, e)
	r, err := e.Add(pctx, engram.AddRequest{Content: "read me"})
	if err != nil {
		t.Fatal(err)
	}
	const workers, calls = 32, 15
	concurrently(t, workers, calls, func(int, int) error {
		_, err := e.Get(pctx, r[0].ID)
		return err
	})
	reports, err := e.VerifyAudit(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(1 + workers*calls) // the add, then every read
	if rep := reports[0]; rep.Problem != nil || rep.LastSeq != want {
		t.Fatalf("chain after concurrent reads: %+v %v", rep, rep.Problem)
	}
	seen := map[uint64]bool{}
	reads := 0
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, rec := range sink.got {
		if rec.TenantID != nt.Tenant.ID {
			continue
		}
		if seen[rec.Seq] {
			t.Fatalf("seq %d published twice", rec.Seq)
		}
		seen[rec.Seq] = true
		if rec.Action == engram.AuditMemoryRead {
			reads++
		}
	}
	if reads != workers*calls || len(seen) != int(want) {
		t.Fatalf("sink got %d reads and %d entries, want %d and %d", reads, len(seen), workers*calls, want)
	}
}
