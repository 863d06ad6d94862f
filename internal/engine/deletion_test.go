package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/deletion"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// deletionEngine is an engine on a settable clock with its store.
func deletionEngine(t *testing.T, opts ...engine.Option) (*engine.Engine, store.Store, *testserver.Clock) {
	t.Helper()
	clock := &testserver.Clock{}
	clock.Advance(time.Since(time.Time{}))
	var st store.Store
	e := testserver.OpenEngineOver(t, t.TempDir(), clock.Now, func(s store.Store) store.Store { st = s; return s }, opts...)
	return e, st, clock
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := engram.ErrorCode(err); got != code {
		t.Fatalf("%s: code %q (%v), want %q", what, got, err, code)
	}
}

// verifyChains fails the test when any audit chain does not verify.
func verifyChains(t *testing.T, e *engine.Engine) {
	t.Helper()
	reports, err := e.VerifyAudit(context.Background(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.Problem != nil {
			t.Fatalf("chain %q: %+v", r.TenantID, r.Problem)
		}
	}
}

// completion returns the tenant's deletion completion entries of act.
func completion(t *testing.T, ctx context.Context, e *engine.Engine, act engram.AuditAction) []engram.AuditRecord {
	t.Helper()
	page, err := e.ListAudit(ctx, engram.AuditQuery{Action: act})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

// TestAccountDeletionGrace: a member asks for deletion; it is read-only
// (writes refused, reads and export work) until it cancels, and writable
// again after.
func TestAccountDeletionGrace(t *testing.T) {
	e, st, clock := deletionEngine(t, engine.WithDeletionGrace(48*time.Hour))
	nt, _ := owner(t, e)
	m := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	if _, err := e.Add(m.Session, engram.AddRequest{Content: "my note"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.DeleteMe(m.Session)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(48 * time.Hour); !d.ScheduledFor.Equal(want.UTC().Truncate(time.Microsecond)) || d.State != engram.DeletionPending {
		t.Fatalf("deletion %+v, want pending for %v", d, want)
	}
	_, err = e.DeleteMe(m.Session)
	wantCode(t, "second request", err, engram.CodeDeletionPending)

	// Read-only: every write refused, through the session and the key.
	_, err = e.Add(m.Session, engram.AddRequest{Content: "another"})
	wantCode(t, "add", err, engram.CodeDeletionPending)
	_, err = e.Add(m.Context(t, e), engram.AddRequest{Content: "another"})
	wantCode(t, "add with the key", err, engram.CodeDeletionPending)
	_, err = e.CreateKey(m.Session, engram.CreateKeyRequest{Name: "more"})
	wantCode(t, "create key", err, engram.CodeDeletionPending)
	_, err = e.Observe(m.Session, engram.ObserveRequest{Messages: []engram.ObserveMessage{{Role: "user", Content: "hi"}}})
	wantCode(t, "observe", err, engram.CodeDeletionPending)
	_, err = e.UpdateProfile(m.Session, "New Name")
	wantCode(t, "profile", err, engram.CodeDeletionPending)
	l, err := e.List(m.Session, engram.ListRequest{})
	if err != nil || len(l.Memories) != 1 {
		t.Fatalf("reads while pending: %v %v", l, err)
	}
	_, err = e.Update(m.Session, l.Memories[0].ID, engram.UpdateRequest{Content: "changed"})
	wantCode(t, "update", err, engram.CodeDeletionPending)
	wantCode(t, "delete", e.Delete(m.Session, l.Memories[0].ID), engram.CodeDeletionPending)
	runStream(t, "export while pending", func() (engram.ExportStream, error) { return e.ExportMine(m.Session, "") })
	// Other members are not affected.
	if _, err := e.Add(testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember).Session, engram.AddRequest{Content: "other"}); err != nil {
		t.Fatal(err)
	}
	// The owner sees it pending.
	ownerCtx := ownerSession(t, e, nt)
	ds, err := e.ListDeletions(ownerCtx)
	if err != nil || len(ds) != 1 || ds[0].Subject != m.AccountID || ds[0].Kind != engram.DeletionAccount {
		t.Fatalf("pending deletions %+v %v", ds, err)
	}

	if err := e.CancelMyDeletion(m.Session); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second cancel", e.CancelMyDeletion(m.Session), engram.CodeNotFound)
	if _, err := e.Add(m.Session, engram.AddRequest{Content: "writable again"}); err != nil {
		t.Fatal(err)
	}
	// Past the old date, the sweep finds nothing to do.
	clock.Advance(72 * time.Hour)
	if st, err := e.SweepDeletions(context.Background()); err != nil || st.Done+st.Held != 0 {
		t.Fatalf("sweep after cancel: %+v %v", st, err)
	}
	for _, a := range []engram.AuditAction{engram.AuditAccountDeletionRequest, engram.AuditAccountDeletionCancel} {
		es := completion(t, ownerCtx, e, a)
		if len(es) == 0 || es[0].TargetID == m.AccountID || es[0].TargetType != engram.TargetAccount {
			t.Errorf("%s entries %+v: want the account by pseudonym", a, es)
		}
	}
	verifyChains(t, e)
}

// ownerSession is a session of the tenant's first owner (the account the
// operator made with the tenant).
func ownerSession(t *testing.T, e *engine.Engine, nt *engram.NewTenant) context.Context {
	t.Helper()
	p, err := e.Authenticate(context.Background(), nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	q := *p
	q.KeyID, q.SessionID, q.Permissions = "", "test-session", q.Role.Permissions()
	return engram.WithPrincipal(context.Background(), &q)
}

// TestAccountDeletionSweep: at the end of the grace the account, its
// keys, sessions, membership and memories are gone, its key destroyed
// (an old ciphertext put back does not open), the compliance record is
// in the chain and the chain verifies.
func TestAccountDeletionSweep(t *testing.T) {
	e, st, clock := deletionEngine(t)
	nt, _ := owner(t, e)
	ownerCtx := ownerSession(t, e, nt)
	m := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	keep := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	own, err := e.Add(m.Session, engram.AddRequest{Content: "private thought", Visibility: "private"})
	if err != nil {
		t.Fatal(err)
	}
	forUser, err := e.Add(m.Session, engram.AddRequest{Content: "alice likes tea", Scope: engram.Scope{UserID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := e.Add(keep.Session, engram.AddRequest{Content: "someone else's note"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(m.Session, own[0].ID, engram.UpdateRequest{Content: "private thought, edited"}); err != nil {
		t.Fatal(err)
	}
	var sealed *store.Memory
	if err := st.Read(context.Background(), func(tx store.Tx) (err error) {
		sealed, err = tx.Memory(context.Background(), nt.Tenant.ID, own[0].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, err := e.DeleteMe(m.Session)
	if err != nil {
		t.Fatal(err)
	}
	// Not yet due.
	clock.Advance(deletion.DefaultGrace - time.Second)
	if s, err := e.SweepDeletions(context.Background()); err != nil || s.Done != 0 {
		t.Fatalf("early sweep: %+v %v", s, err)
	}
	clock.Advance(time.Second)
	if err := e.Maintain(context.Background()); err != nil { // the maintenance beat runs the sweep
		t.Fatal(err)
	}
	if e.DeletionsDone() != 1 {
		t.Fatalf("%d deletions done", e.DeletionsDone())
	}
	// Its key and session no longer authenticate.
	if _, err := e.Authenticate(context.Background(), m.Key); err == nil {
		t.Error("the deleted account's API key still authenticates")
	}
	ms, err := e.Members(ownerCtx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ms {
		if x.ID == m.AccountID {
			t.Error("the deleted account is still a member")
		}
	}
	err = st.Read(context.Background(), func(tx store.Tx) error {
		for _, id := range []string{own[0].ID, forUser[0].ID} {
			if _, err := tx.Memory(context.Background(), nt.Tenant.ID, id); !isNotFoundErr(err) {
				t.Errorf("memory %s survived: %v", id, err)
			}
			if hs, err := tx.History(context.Background(), nt.Tenant.ID, id); err != nil || len(hs) != 0 {
				t.Errorf("history of %s survived: %d %v", id, len(hs), err)
			}
		}
		if _, err := tx.Memory(context.Background(), nt.Tenant.ID, kept[0].ID); err != nil {
			t.Errorf("another member's memory went: %v", err)
		}
		if _, err := tx.Account(context.Background(), nt.Tenant.ID, m.AccountID); !isNotFoundErr(err) {
			t.Errorf("account survived: %v", err)
		}
		for v := 1; v <= 3; v++ {
			if _, err := tx.Key(context.Background(), nt.Tenant.ID, store.PurposeSubject, "a:"+m.AccountID, v); !isNotFoundErr(err) {
				t.Errorf("key version %d of the account survived: %v", v, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the old ciphertext (a backup) put back does not open.
	if err := st.Write(context.Background(), func(tx store.Tx) error {
		return tx.InsertMemory(context.Background(), sealed, nil)
	}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Get(ownerCtx, sealed.ID)
	wantCode(t, "old ciphertext", err, engram.CodeUnreadable)

	// The compliance record.
	es := completion(t, ownerCtx, e, engram.AuditAccountDeletionComplete)
	if len(es) != 1 {
		t.Fatalf("%d completion entries", len(es))
	}
	r := es[0]
	if r.TargetID == m.AccountID || r.TargetType != engram.TargetAccount || r.Detail == nil || r.Actor != "" {
		t.Fatalf("completion entry %+v", r)
	}
	c := r.Detail.Counts
	if c[deletion.CountAccounts] != 1 || c[deletion.CountMemories] != 2 || c[deletion.CountAPIKeys] != 1 || c[deletion.CountKeys] < 1 ||
		c[deletion.CountHistory] < 2 {
		t.Errorf("counts %v", c)
	}
	if !r.Detail.RequestedAt.Equal(d.RequestedAt) || !r.Detail.ScheduledFor.Equal(d.ScheduledFor) || !r.Time.Equal(clock.Now().UTC().Truncate(time.Microsecond)) {
		t.Errorf("times %+v, want requested %v, scheduled %v", r.Detail, d.RequestedAt, d.ScheduledFor)
	}
	if ds, err := e.ListDeletions(ownerCtx); err != nil || len(ds) != 0 {
		t.Errorf("still pending: %+v %v", ds, err)
	}
	verifyChains(t, e)
}

func isNotFoundErr(err error) bool { return errors.Is(err, store.ErrNotFound) }

// runStream prepares and writes an export, failing the test on an error.
func runStream(t *testing.T, what string, prepare func() (engram.ExportStream, error)) {
	t.Helper()
	s, err := prepare()
	if err == nil {
		err = s(io.Discard)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestAccountDeletionSoleOwner: the only owner cannot ask to be deleted.
func TestAccountDeletionSoleOwner(t *testing.T) {
	e, st, _ := deletionEngine(t)
	nt, _ := owner(t, e)
	_, err := e.DeleteMe(ownerSession(t, e, nt))
	wantCode(t, "sole owner", err, engram.CodeSoleOwner)
	// With a second owner it may; the API key may not (a person only).
	second := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleOwner)
	_, err = e.DeleteMe(second.Context(t, e))
	wantCode(t, "with a key", err, engram.CodeForbidden)
	if _, err := e.DeleteMe(second.Session); err != nil {
		t.Fatal(err)
	}
}

// TestUserDeletion: an end user's deletion refuses writes for the user
// (reads and export work), can be cancelled, and at expiry erases like
// ForgetUser and leaves the compliance record; a legal hold refuses the
// request and stops the sweep.
func TestUserDeletion(t *testing.T) {
	e, _, clock := deletionEngine(t)
	_, ctx := owner(t, e)
	for _, u := range []string{"alice", "bob"} {
		if _, err := e.Add(ctx, engram.AddRequest{Content: u + " likes tea", Scope: engram.Scope{UserID: u}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.ScheduleUserDeletion(ctx, "alice", 30*time.Second)
	wantCode(t, "grace too short", err, engram.CodeInvalid)
	d, err := e.ScheduleUserDeletion(ctx, "alice", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Add(ctx, engram.AddRequest{Content: "more", Scope: engram.Scope{UserID: "alice"}})
	wantCode(t, "add for alice", err, engram.CodeDeletionPending)
	_, err = e.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: "alice"}, Messages: []engram.ObserveMessage{{Role: "user", Content: "hi"}}})
	wantCode(t, "observe for alice", err, engram.CodeDeletionPending)
	l, err := e.List(ctx, engram.ListRequest{Scope: engram.Scope{UserID: "alice"}})
	if err != nil || len(l.Memories) != 1 {
		t.Fatalf("read alice: %v %v", l, err)
	}
	wantCode(t, "delete alice's memory", e.Delete(ctx, l.Memories[0].ID), engram.CodeDeletionPending)
	runStream(t, "export alice while pending", func() (engram.ExportStream, error) { return e.ExportUser(ctx, "alice", "") })
	if _, err := e.Add(ctx, engram.AddRequest{Content: "bob too", Scope: engram.Scope{UserID: "bob"}}); err != nil {
		t.Fatal(err)
	}
	// Cancel, then schedule again.
	if err := e.CancelUserDeletion(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Add(ctx, engram.AddRequest{Content: "alice again", Scope: engram.Scope{UserID: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if d, err = e.ScheduleUserDeletion(ctx, "alice", time.Hour); err != nil {
		t.Fatal(err)
	}

	// A hold placed during the grace stops the sweep; released, it runs.
	h, err := e.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "litigation", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ScheduleUserDeletion(ctx, "carol", time.Hour)
	if err != nil {
		t.Fatal(err) // a hold on alice only
	}
	clock.Advance(2 * time.Hour)
	st, err := e.SweepDeletions(context.Background())
	if err != nil || st.Held != 1 || st.Done != 1 {
		t.Fatalf("sweep under hold: %+v %v", st, err)
	}
	if l, err := e.List(ctx, engram.ListRequest{Scope: engram.Scope{UserID: "alice"}}); err != nil || len(l.Memories) != 2 {
		t.Fatalf("alice under hold: %v %v", l, err)
	}
	if err := e.ReleaseAuditHold(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if st, err := e.SweepDeletions(context.Background()); err != nil || st.Done != 1 {
		t.Fatalf("sweep after release: %+v %v", st, err)
	}
	if l, err := e.List(ctx, engram.ListRequest{Scope: engram.Scope{UserID: "alice"}}); err != nil || len(l.Memories) != 0 {
		t.Fatalf("alice after the sweep: %v %v", l, err)
	}
	if l, err := e.List(ctx, engram.ListRequest{Scope: engram.Scope{UserID: "bob"}}); err != nil || len(l.Memories) != 2 {
		t.Fatalf("bob after the sweep: %v %v", l, err)
	}
	_, err = e.ForgetUser(ctx, "alice")
	wantCode(t, "forget after the sweep", err, engram.CodeNotFound)
	es := completion(t, ctx, e, engram.AuditUserDeletionComplete)
	if len(es) != 2 {
		t.Fatalf("%d completion entries", len(es))
	}
	r := es[0] // newest first: alice's
	if r.Detail == nil || r.Detail.Counts[deletion.CountMemories] != 2 || r.Detail.Counts[deletion.CountKeys] < 1 || r.TargetID == "alice" ||
		!r.Detail.ScheduledFor.Equal(d.ScheduledFor) {
		t.Fatalf("alice's record %+v", r)
	}
	// Writable again once done (a new user of the same id).
	if _, err := e.Add(ctx, engram.AddRequest{Content: "new alice", Scope: engram.Scope{UserID: "alice"}}); err != nil {
		t.Fatal(err)
	}
	// A hold refuses a new request with its own code.
	if _, err := e.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "litigation", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ScheduleUserDeletion(ctx, "bob", time.Hour)
	wantCode(t, "held user", err, engram.CodeHeld)
	verifyChains(t, e)
}

// TestAccountDeletionHeld: a tenant-wide legal hold refuses a new request
// with its own code and keeps a due one pending (the account and its
// memories stay, and stay read-only) until it is released.
func TestAccountDeletionHeld(t *testing.T) {
	e, st, clock := deletionEngine(t)
	nt, ctx := owner(t, e)
	m := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	other := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	if _, err := e.Add(m.Session, engram.AddRequest{Content: "kept under hold"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteMe(m.Session); err != nil {
		t.Fatal(err)
	}
	h, err := e.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "audit-2026"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.DeleteMe(other.Session)
	wantCode(t, "request under a hold", err, engram.CodeHeld)
	clock.Advance(deletion.DefaultGrace)
	if s, err := e.SweepDeletions(context.Background()); err != nil || s.Held != 1 || s.Done != 0 {
		t.Fatalf("sweep under hold: %+v %v", s, err)
	}
	if l, err := e.List(m.Session, engram.ListRequest{}); err != nil || len(l.Memories) != 1 {
		t.Fatalf("held account's memories: %v %v", l, err)
	}
	_, err = e.Add(m.Session, engram.AddRequest{Content: "still read-only"})
	wantCode(t, "held account writes", err, engram.CodeDeletionPending)
	if got := completion(t, ctx, e, engram.AuditAccountDeletionComplete); len(got) != 0 {
		t.Fatalf("a held deletion was recorded as complete: %+v", got)
	}
	if err := e.ReleaseAuditHold(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := e.SweepDeletions(context.Background()); err != nil || s.Done != 1 {
		t.Fatalf("sweep after release: %+v %v", s, err)
	}
	if e.DeletionsHeld() != 1 || e.DeletionsDone() != 1 {
		t.Fatalf("metrics: held %d, done %d", e.DeletionsHeld(), e.DeletionsDone())
	}
	verifyChains(t, e)
}

// BenchmarkDeletionSweep measures completing one end user's scheduled
// deletion (the sweep's erasing transaction, its record and the WAL
// checkpoint) for a user holding 1,000 memories. Setup is not timed.
func BenchmarkDeletionSweep(b *testing.B) {
	clock := &testserver.Clock{}
	clock.Advance(time.Since(time.Time{}))
	e := testserver.OpenEngine(b, b.TempDir(), clock.Now)
	_, ctx := owner(b, e)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		user := fmt.Sprintf("user-%d", i)
		for j := range 1000 {
			if _, err := e.Add(ctx, engram.AddRequest{Content: fmt.Sprintf("memory %d of %s about tea and chess", j, user),
				Scope: engram.Scope{UserID: user}}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := e.ScheduleUserDeletion(ctx, user, time.Minute); err != nil {
			b.Fatal(err)
		}
		clock.Advance(time.Minute)
		b.StartTimer()
		if s, err := e.SweepDeletions(context.Background()); err != nil || s.Done != 1 {
			b.Fatalf("%+v %v", s, err)
		}
	}
}

// TestAccountDeletionAfterRemoval: an admin removes a member whose
// deletion is pending; at expiry what it authored is erased all the same,
// and a deletion cancelled just before is neither done nor held.
func TestAccountDeletionAfterRemoval(t *testing.T) {
	e, st, clock := deletionEngine(t)
	nt, ctx := owner(t, e)
	m := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	n := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	mine, err := e.Add(m.Session, engram.AddRequest{Content: "written for bob", Scope: engram.Scope{UserID: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*testserver.Member{m, n} {
		if _, err := e.DeleteMe(x.Session); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.RemoveMember(ownerSession(t, e, nt), m.AccountID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, mine[0].ID); err != nil {
		t.Fatalf("removal keeps memories: %v", err)
	}
	if err := e.CancelMyDeletion(n.Session); err != nil {
		t.Fatal(err)
	}
	clock.Advance(deletion.DefaultGrace)
	if s, err := e.SweepDeletions(context.Background()); err != nil || s.Done != 1 || s.Held != 0 {
		t.Fatalf("sweep: %+v %v", s, err)
	}
	_, err = e.Get(ctx, mine[0].ID)
	wantCode(t, "authored memory after the sweep", err, engram.CodeNotFound)
	r := completion(t, ctx, e, engram.AuditAccountDeletionComplete)
	if len(r) != 1 || r[0].Detail.Counts[deletion.CountAccounts] != 0 || r[0].Detail.Counts[deletion.CountMemories] != 1 {
		t.Fatalf("record %+v", r)
	}
}

// TestUserDeletionGraph: while an end user's deletion is pending, the
// graph writes that name records by id (deleting a fact, forgetting or
// merging entities) are refused like the scoped ones; at expiry the
// sweep erases the user's episodes, entities, facts, topics and patterns.
func TestUserDeletionGraph(t *testing.T) {
	e, st, clock := deletionEngine(t)
	nt, ctx := owner(t, e)
	tell(t, e, ctx, "dana")
	before := recordsOf(t, st, nt.Tenant.ID, "dana")
	if len(before.entities) < 2 || len(before.facts) == 0 || len(before.episodes) == 0 {
		t.Fatalf("dana has %d entities, %d facts, %d episodes", len(before.entities), len(before.facts), len(before.episodes))
	}
	if _, err := e.ScheduleUserDeletion(ctx, "dana", time.Hour); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete a fact", e.DeleteFact(ctx, before.facts[0].ID), engram.CodeDeletionPending)
	_, err := e.ForgetEntity(ctx, before.entities[0].ID)
	wantCode(t, "forget an entity", err, engram.CodeDeletionPending)
	_, err = e.MergeEntities(ctx, before.entities[0].ID, before.entities[1].ID)
	wantCode(t, "merge entities", err, engram.CodeDeletionPending)
	_, err = e.AddFact(ctx, engram.NewFact{UserID: "dana", Subject: "Dana", Predicate: "likes", Object: "tea"})
	wantCode(t, "add a fact", err, engram.CodeDeletionPending)
	if fs, err := e.Facts(ctx, engram.FactQuery{UserID: "dana"}); err != nil || len(fs) != len(before.facts) {
		t.Fatalf("reads while pending: %d facts, %v", len(fs), err)
	}
	clock.Advance(time.Hour)
	if s, err := e.SweepDeletions(context.Background()); err != nil || s.Done != 1 {
		t.Fatalf("sweep: %+v %v", s, err)
	}
	if after := recordsOf(t, st, nt.Tenant.ID, "dana"); len(after.episodes)+len(after.entities)+len(after.facts) != 0 {
		t.Errorf("left: %d episodes, %d entities, %d facts", len(after.episodes), len(after.entities), len(after.facts))
	}
	if ts, err := e.Topics(ctx, "dana"); err != nil || len(ts) != 0 {
		t.Errorf("topics after the sweep: %v %v", ts, err)
	}
	if ps, err := e.Patterns(ctx, "dana"); err != nil || len(ps) != 0 {
		t.Errorf("patterns after the sweep: %d %v", len(ps), err)
	}
	r := completion(t, ctx, e, engram.AuditUserDeletionComplete)
	if len(r) != 1 || r[0].Detail.Counts[deletion.CountEntities] != uint64(len(before.entities)) ||
		r[0].Detail.Counts[deletion.CountFacts] != uint64(len(before.facts)) || r[0].Detail.Counts[deletion.CountEpisodes] != uint64(len(before.episodes)) {
		t.Fatalf("record %+v", r)
	}
	verifyChains(t, e)
}
