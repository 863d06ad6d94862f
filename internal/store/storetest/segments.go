package storetest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// deepEqual compares values holding [][]byte and times, which checkEqual
// does not handle.
func deepEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func hash(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func segment(tenantID string, first, last uint64, sealed time.Time) *store.AuditSegment {
	return &store.AuditSegment{TenantID: tenantID, First: first, Last: last, Root: hash(byte(first)), Range: [][]byte{hash(1), hash(2)},
		TreeSize: last, TreeRoot: hash(byte(last)), Checkpoint: []byte("cp\n"), ChainMAC: hash(9), SealedAt: sealed.UTC().Truncate(time.Microsecond)}
}

// testAuditSegments: segments, tree state and nodes commit together and
// read back exactly; a sealed first seq conflicts; dropping a segment
// deletes its entries and inner nodes only and keeps the row as a
// tombstone; retention and holds round-trip; every read is per tenant; a
// deleted tenant takes all of it along.
func testAuditSegments(f *fx) {
	t := f.t
	tn := &store.Tenant{ID: newID(), Name: "acme", CreatedAt: base}
	other := &store.Tenant{ID: newID(), Name: "other", CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.CreateTenant(f.ctx, tn); err != nil {
			return err
		}
		return tx.CreateTenant(f.ctx, other)
	})
	for i := 1; i <= 6; i++ {
		f.appendAudit(auditEntry(tn.ID, i, engram.AuditMemoryCreate, engram.OutcomeSuccess))
		f.appendAudit(auditEntry(other.ID, i, engram.AuditMemoryCreate, engram.OutcomeSuccess))
	}
	_, err := get(f, func(tx store.Tx) (*store.AuditTree, error) { return tx.AuditTree(f.ctx, tn.ID) })
	wantErr(t, "AuditTree before a seal", err, store.ErrNotFound)

	s1, s2 := segment(tn.ID, 1, 4, at(10)), segment(tn.ID, 5, 6, at(20))
	// Leaves 0..3 and the node over 0..3 belong to s1; node (1, 2) covers
	// leaves 4..5 (s2).
	nodes1 := []store.AuditNode{{ID: store.AuditNodeID{Level: 0, Index: 0}, Hash: hash(10)}, {ID: store.AuditNodeID{Level: 0, Index: 3}, Hash: hash(13)},
		{ID: store.AuditNodeID{Level: 2, Index: 0}, Hash: hash(20)}}
	nodes2 := []store.AuditNode{{ID: store.AuditNodeID{Level: 0, Index: 4}, Hash: hash(14)}, {ID: store.AuditNodeID{Level: 1, Index: 2}, Hash: hash(21)}}
	tree1 := &store.AuditTree{TenantID: tn.ID, Size: 4, Frontier: [][]byte{hash(20)}}
	tree2 := &store.AuditTree{TenantID: tn.ID, Size: 6, Frontier: [][]byte{hash(20), hash(21)}}
	f.mustWrite(func(tx store.Tx) error { return tx.SealAuditSegment(f.ctx, s1, nodes1, tree1) })
	err = f.write(func(tx store.Tx) error { return tx.SealAuditSegment(f.ctx, s1, nil, tree1) })
	wantErr(t, "SealAuditSegment of a sealed first seq", err, store.ErrConflict)
	f.mustWrite(func(tx store.Tx) error { return tx.SealAuditSegment(f.ctx, s2, nodes2, tree2) })

	deepEqual(t, "AuditTree", mustGet(f, func(tx store.Tx) (*store.AuditTree, error) { return tx.AuditTree(f.ctx, tn.ID) }), tree2)
	deepEqual(t, "AuditSegment", mustGet(f, func(tx store.Tx) (*store.AuditSegment, error) { return tx.AuditSegment(f.ctx, tn.ID, 1) }), s1)
	deepEqual(t, "LatestAuditSegment", mustGet(f, func(tx store.Tx) (*store.AuditSegment, error) { return tx.LatestAuditSegment(f.ctx, tn.ID) }), s2)
	deepEqual(t, "AuditSegmentCovering", mustGet(f, func(tx store.Tx) (*store.AuditSegment, error) {
		return tx.AuditSegmentCovering(f.ctx, tn.ID, 3)
	}), s1)
	all := mustGet(f, func(tx store.Tx) ([]store.AuditSegment, error) { return tx.AuditSegments(f.ctx, tn.ID, 0, 10) })
	deepEqual(t, "AuditSegments", all, []store.AuditSegment{*s1, *s2})
	after := mustGet(f, func(tx store.Tx) ([]store.AuditSegment, error) { return tx.AuditSegments(f.ctx, tn.ID, 1, 10) })
	deepEqual(t, "AuditSegments after 1", after, []store.AuditSegment{*s2})
	for name, fn := range map[string]func(tx store.Tx) (*store.AuditSegment, error){
		"AuditSegment of another tenant":       func(tx store.Tx) (*store.AuditSegment, error) { return tx.AuditSegment(f.ctx, other.ID, 1) },
		"LatestAuditSegment of another tenant": func(tx store.Tx) (*store.AuditSegment, error) { return tx.LatestAuditSegment(f.ctx, other.ID) },
		"AuditSegmentCovering beyond":          func(tx store.Tx) (*store.AuditSegment, error) { return tx.AuditSegmentCovering(f.ctx, tn.ID, 7) },
	} {
		_, err := get(f, fn)
		wantErr(t, name, err, store.ErrNotFound)
	}
	ids := []store.AuditNodeID{{Level: 0, Index: 0}, {Level: 2, Index: 0}, {Level: 1, Index: 2}, {Level: 0, Index: 9}}
	got := mustGet(f, func(tx store.Tx) ([][]byte, error) { return tx.AuditNodes(f.ctx, tn.ID, ids) })
	deepEqual(t, "AuditNodes", got, [][]byte{hash(10), hash(20), hash(21), nil})
	got = mustGet(f, func(tx store.Tx) ([][]byte, error) { return tx.AuditNodes(f.ctx, other.ID, ids) })
	deepEqual(t, "AuditNodes of another tenant", got, [][]byte{nil, nil, nil, nil})

	// Drop s1: entries 1..4 and the nodes inside leaves 0..3 go; s2's
	// nodes, the other tenant's entries and the row stay.
	var n int
	f.mustWrite(func(tx store.Tx) (err error) { n, err = tx.DropAuditSegment(f.ctx, tn.ID, 1, at(30)); return err })
	if n != 4 {
		t.Errorf("DropAuditSegment deleted %d entries, want 4", n)
	}
	err = f.write(func(tx store.Tx) error { _, err := tx.DropAuditSegment(f.ctx, tn.ID, 1, at(31)); return err })
	wantErr(t, "DropAuditSegment twice", err, store.ErrNotFound)
	left := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, tn.ID, 0, 10) })
	if len(left) != 2 || left[0].Entry.Seq != 5 {
		t.Errorf("entries after the drop: %d, first %v", len(left), left)
	}
	if o := mustGet(f, func(tx store.Tx) ([]store.AuditRecord, error) { return tx.AuditRange(f.ctx, other.ID, 0, 10) }); len(o) != 6 {
		t.Errorf("the drop touched another tenant: %d entries left", len(o))
	}
	got = mustGet(f, func(tx store.Tx) ([][]byte, error) { return tx.AuditNodes(f.ctx, tn.ID, ids) })
	deepEqual(t, "AuditNodes after the drop", got, [][]byte{nil, nil, hash(21), nil})
	ts := mustGet(f, func(tx store.Tx) (*store.AuditSegment, error) { return tx.AuditSegment(f.ctx, tn.ID, 1) })
	if ts.DroppedAt == nil || !ts.DroppedAt.Equal(at(30).Truncate(time.Microsecond)) || !bytes.Equal(ts.Root, s1.Root) {
		t.Errorf("tombstone %+v", ts)
	}

	// Retention and holds.
	_, err = get(f, func(tx store.Tx) (int, error) { return tx.AuditRetention(f.ctx, tn.ID) })
	wantErr(t, "AuditRetention unset", err, store.ErrNotFound)
	f.mustWrite(func(tx store.Tx) error { return tx.SetAuditRetention(f.ctx, tn.ID, 30) })
	f.mustWrite(func(tx store.Tx) error { return tx.SetAuditRetention(f.ctx, tn.ID, 3650) })
	if d := mustGet(f, func(tx store.Tx) (int, error) { return tx.AuditRetention(f.ctx, tn.ID) }); d != 3650 {
		t.Errorf("AuditRetention %d", d)
	}
	h1 := &store.AuditHold{TenantID: tn.ID, ID: newID(), ReasonCode: "litigation", CreatedAt: at(1).UTC().Truncate(time.Microsecond)}
	h2 := &store.AuditHold{TenantID: tn.ID, ID: newID(), UserRef: "ps_x", ReasonCode: "regulator", CreatedAt: at(2).UTC().Truncate(time.Microsecond)}
	f.mustWrite(func(tx store.Tx) error { return tx.PutAuditHold(f.ctx, h1) })
	f.mustWrite(func(tx store.Tx) error { return tx.PutAuditHold(f.ctx, h2) })
	err = f.write(func(tx store.Tx) error { return tx.PutAuditHold(f.ctx, h1) })
	wantErr(t, "PutAuditHold of a taken id", err, store.ErrConflict)
	hs := mustGet(f, func(tx store.Tx) ([]store.AuditHold, error) { return tx.AuditHolds(f.ctx, tn.ID) })
	deepEqual(t, "AuditHolds", hs, []store.AuditHold{*h1, *h2})
	if o := mustGet(f, func(tx store.Tx) ([]store.AuditHold, error) { return tx.AuditHolds(f.ctx, other.ID) }); len(o) != 0 {
		t.Errorf("another tenant's holds: %v", o)
	}
	wantErr(t, "DeleteAuditHold from another tenant", f.write(func(tx store.Tx) error { return tx.DeleteAuditHold(f.ctx, other.ID, h1.ID) }), store.ErrNotFound)
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteAuditHold(f.ctx, tn.ID, h1.ID) })
	wantErr(t, "DeleteAuditHold twice", f.write(func(tx store.Tx) error { return tx.DeleteAuditHold(f.ctx, tn.ID, h1.ID) }), store.ErrNotFound)

	// The tenant's erasure takes its trail's segments, nodes, tree,
	// retention and holds.
	f.mustWrite(func(tx store.Tx) error { _, err := tx.DeleteTenant(f.ctx, tn.ID); return err })
	_, err = get(f, func(tx store.Tx) (*store.AuditTree, error) { return tx.AuditTree(f.ctx, tn.ID) })
	wantErr(t, "AuditTree after DeleteTenant", err, store.ErrNotFound)
	if ss := mustGet(f, func(tx store.Tx) ([]store.AuditSegment, error) { return tx.AuditSegments(f.ctx, tn.ID, 0, 10) }); len(ss) != 0 {
		t.Errorf("segments after DeleteTenant: %d", len(ss))
	}
	if hs := mustGet(f, func(tx store.Tx) ([]store.AuditHold, error) { return tx.AuditHolds(f.ctx, tn.ID) }); len(hs) != 0 {
		t.Errorf("holds after DeleteTenant: %d", len(hs))
	}
	_, err = get(f, func(tx store.Tx) (int, error) { return tx.AuditRetention(f.ctx, tn.ID) })
	wantErr(t, "AuditRetention after DeleteTenant", err, store.ErrNotFound)
	got = mustGet(f, func(tx store.Tx) ([][]byte, error) { return tx.AuditNodes(f.ctx, tn.ID, ids) })
	deepEqual(t, "AuditNodes after DeleteTenant", got, [][]byte{nil, nil, nil, nil})
}
