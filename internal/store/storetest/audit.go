package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
)

// fixedKeys is an audit.Keys with one key for every chain.
type fixedKeys []byte

func (k fixedKeys) AuditKeys(context.Context, string, int) ([]byte, []byte, error) { return k, k, nil }

var auditKey = fixedKeys(bytes.Repeat([]byte{7}, 32))

func auditEntry(tenantID string, n int, action engram.AuditAction, outcome engram.AuditOutcome) *engram.AuditEntry {
	return &engram.AuditEntry{Time: at(n), TenantID: tenantID, Actor: fmt.Sprintf("ps_actor%d", n%2), KeyID: "k1",
		Action: action, TargetType: engram.TargetMemory, TargetID: fmt.Sprintf("m%d", n), Outcome: outcome,
		IP: "192.0.2.1", RequestID: fmt.Sprintf("r%d", n), Transport: "rest"}
}

func (f *fx) appendAudit(e *engram.AuditEntry) *store.AuditRecord {
	f.t.Helper()
	var r *store.AuditRecord
	f.mustWrite(func(tx store.Tx) (err error) {
		r, err = audit.Append(f.ctx, tx, auditKey, e)
		return err
	})
	return r
}

// testAudit: records round-trip, the head follows every append, a taken
// seq conflicts, and ListAudit filters and pages newest first.
func testAudit(f *fx) {
	a, b := f.tenant(), f.tenant()
	if _, err := get(f, func(tx store.Tx) (*store.AuditHead, error) { return tx.AuditHead(f.ctx, a) }); !errors.Is(err, store.ErrNotFound) {
		f.t.Fatalf("AuditHead of an empty chain: %v, want ErrNotFound", err)
	}
	var recs []*store.AuditRecord
	for i := 1; i <= 6; i++ {
		action, outcome := engram.AuditMemoryRead, engram.OutcomeSuccess
		if i%3 == 0 {
			action, outcome = engram.AuditMemoryDelete, engram.OutcomeDenied
		}
		recs = append(recs, f.appendAudit(auditEntry(a, i, action, outcome)))
	}
	f.appendAudit(auditEntry(b, 1, engram.AuditMemoryRead, engram.OutcomeSuccess))
	failures := auditEntry("", 1, engram.AuditAuthFailure, engram.OutcomeFailure)
	failures.Count = 37 // an aggregated entry
	fr := f.appendAudit(failures)

	if sys := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, "", 0, 100) }); len(sys) != 1 || sys[0].Entry.Count != 37 || !bytes.Equal(sys[0].MAC, fr.MAC) {
		f.t.Errorf("an aggregated entry did not round-trip its count: %+v", sys)
	}
	h := mustGet(f, func(tx store.Tx) (*store.AuditHead, error) { return tx.AuditHead(f.ctx, a) })
	if h.Seq != 6 || !bytes.Equal(h.MAC, recs[5].MAC) || h.TenantID != a || h.KeyVersion != audit.KeyVersion {
		f.t.Errorf("head = %+v, want seq 6 with the last MAC", h)
	}
	got := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, a, 0, 100) })
	if len(got) != 6 {
		f.t.Fatalf("AuditRange: %d records, want 6", len(got))
	}
	for i := range got {
		want := recs[i]
		want.Entry.Time = want.Entry.Time.UTC().Truncate(1000)
		checkEqual(f.t, fmt.Sprintf("record %d", i+1), got[i], *want)
	}
	if r := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, a, 4, 1) }); len(r) != 1 || r[0].Entry.Seq != 5 {
		f.t.Errorf("AuditRange(after 4, limit 1) = %v, want seq 5", r)
	}
	dup := &store.AuditRecord{Entry: *auditEntry(a, 2, engram.AuditMemoryRead, engram.OutcomeSuccess), KeyVersion: 1, MAC: []byte("x")}
	dup.Entry.Seq = 2
	err := f.write(func(tx store.Tx) error {
		return tx.AppendAudit(f.ctx, dup, &store.AuditHead{TenantID: a, Seq: 2, MAC: []byte("x"), KeyVersion: 1, HeadMAC: []byte("x")})
	})
	wantErr(f.t, "AppendAudit of a taken seq", err, store.ErrConflict)

	list := func(flt store.AuditFilter) []uint64 {
		rs := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.ListAudit(f.ctx, a, flt) })
		var seqs []uint64
		for _, r := range rs {
			seqs = append(seqs, r.Entry.Seq)
		}
		return seqs
	}
	since, until := at(2), at(5)
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []uint64
	}{
		{"all", store.AuditFilter{Limit: 100}, []uint64{6, 5, 4, 3, 2, 1}},
		{"page", store.AuditFilter{Limit: 2, Before: 5}, []uint64{4, 3}},
		{"actor", store.AuditFilter{Actor: "ps_actor1", Limit: 100}, []uint64{5, 3, 1}},
		{"action", store.AuditFilter{Action: string(engram.AuditMemoryDelete), Limit: 100}, []uint64{6, 3}},
		{"outcome", store.AuditFilter{Outcome: string(engram.OutcomeDenied), Limit: 100}, []uint64{6, 3}},
		{"target", store.AuditFilter{TargetType: engram.TargetMemory, TargetID: "m4", Limit: 100}, []uint64{4}},
		{"time", store.AuditFilter{Since: &since, Until: &until, Limit: 100}, []uint64{4, 3, 2}},
		{"nothing", store.AuditFilter{Actor: "nobody", Limit: 100}, nil},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			f.t.Errorf("ListAudit %s = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Another tenant's chain and the system chain stay apart.
	if rs := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) {
		return tx.ListAudit(f.ctx, b, store.AuditFilter{Limit: 100})
	}); len(rs) != 1 || rs[0].Entry.TenantID != b {
		f.t.Errorf("tenant B's trail = %v, want its one entry", rs)
	}
	chains := mustGet(f, func(tx store.Tx) ([]string, error) { return tx.AuditChains(f.ctx) })
	wantChains := []string{"", a, b}
	if a > b {
		wantChains = []string{"", b, a}
	}
	if !slices.Equal(chains, wantChains) {
		f.t.Errorf("AuditChains = %q, want %q", chains, wantChains)
	}

	// A tenant's erasure takes its chain; the system chain stays.
	f.mustWrite(func(tx store.Tx) error { _, err := tx.DeleteTenant(f.ctx, a); return err })
	if rs := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, a, 0, 100) }); len(rs) != 0 {
		f.t.Errorf("erased tenant still has %d audit records", len(rs))
	}
	if _, err := get(f, func(tx store.Tx) (*store.AuditHead, error) { return tx.AuditHead(f.ctx, a) }); !errors.Is(err, store.ErrNotFound) {
		f.t.Errorf("erased tenant's head: %v, want ErrNotFound", err)
	}
	if rs := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, "", 0, 100) }); len(rs) != 1 {
		f.t.Errorf("system chain has %d records after a tenant's erasure, want 1", len(rs))
	}
}

// testAuditConcurrent: many goroutines append to one chain; the result is
// one unbroken chain numbered 1..n, with no gap and no fork, that verifies.
func testAuditConcurrent(f *fx) {
	a := f.tenant()
	const writers, writes = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				e := auditEntry(a, w*writes+i, engram.AuditMemoryCreate, engram.OutcomeSuccess)
				errs <- f.write(func(tx store.Tx) error {
					_, err := audit.Append(f.ctx, tx, auditKey, e)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			f.t.Errorf("concurrent append: %v", err)
		}
	}
	rs := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, a, 0, writers*writes+1) })
	if len(rs) != writers*writes {
		f.t.Fatalf("%d records, want %d", len(rs), writers*writes)
	}
	seen := map[string]bool{}
	for i, r := range rs {
		if r.Entry.Seq != uint64(i+1) {
			f.t.Fatalf("record %d has seq %d: a gap", i, r.Entry.Seq)
		}
		if seen[r.Entry.RequestID] {
			f.t.Fatalf("entry %s appended twice", r.Entry.RequestID)
		}
		seen[r.Entry.RequestID] = true
	}
	rep, err := (&audit.Verifier{Store: f.s, Keys: auditKey}).Verify(f.ctx, a)
	if err != nil {
		f.t.Fatal(err)
	}
	if rep.Problem != nil || rep.Entries != writers*writes {
		f.t.Fatalf("verify after concurrent appends: %+v (problem %v)", rep, rep.Problem)
	}
}

// testAuditWatermarks: every chain with a head is listed with its head and
// watermark (0 until set), in tenant order; the watermark only rises; a
// rolled-back write leaves it; a tenant's erasure takes it with the chain.
func testAuditWatermarks(f *fx) {
	marks := func() []store.AuditWatermark {
		return mustGet(f, func(tx store.Tx) ([]store.AuditWatermark, error) { return tx.AuditWatermarks(f.ctx) })
	}
	checkMarks := func(what string, want []store.AuditWatermark) {
		f.t.Helper()
		if got := marks(); !slices.Equal(got, want) {
			f.t.Errorf("%s = %+v, want %+v", what, got, want)
		}
	}
	if w := marks(); len(w) != 0 {
		f.t.Fatalf("AuditWatermarks of an empty store = %+v", w)
	}
	a, b := f.tenant(), f.tenant()
	if a > b {
		a, b = b, a
	}
	for i := 1; i <= 4; i++ {
		f.appendAudit(auditEntry(a, i, engram.AuditMemoryRead, engram.OutcomeSuccess))
	}
	f.appendAudit(auditEntry(b, 1, engram.AuditMemoryRead, engram.OutcomeSuccess))
	f.appendAudit(auditEntry("", 1, engram.AuditAuthFailure, engram.OutcomeFailure))
	checkMarks("watermarks before any publication", []store.AuditWatermark{
		{TenantID: "", Head: 1}, {TenantID: a, Head: 4}, {TenantID: b, Head: 1}})

	set := func(tenant string, seq uint64) {
		f.mustWrite(func(tx store.Tx) error { return tx.SetAuditPublished(f.ctx, tenant, seq) })
	}
	set(a, 3)
	set(a, 2) // never moves back
	set("", 1)
	errRollback := errors.New("roll back")
	err := f.write(func(tx store.Tx) error {
		if err := tx.SetAuditPublished(f.ctx, b, 1); err != nil {
			return err
		}
		return errRollback
	})
	wantErr(f.t, "a write that fails", err, errRollback)
	checkMarks("watermarks", []store.AuditWatermark{
		{TenantID: "", Head: 1, Published: 1}, {TenantID: a, Head: 4, Published: 3}, {TenantID: b, Head: 1}})

	// The watermark goes with its chain; a chain that starts again under
	// the same id (it never does: ids are not reused) would start from 0.
	f.mustWrite(func(tx store.Tx) error { _, err := tx.DeleteTenant(f.ctx, a); return err })
	f.appendAudit(auditEntry(a, 1, engram.AuditMemoryRead, engram.OutcomeSuccess))
	checkMarks("watermarks after an erasure", []store.AuditWatermark{
		{TenantID: "", Head: 1, Published: 1}, {TenantID: a, Head: 1}, {TenantID: b, Head: 1}})
}
