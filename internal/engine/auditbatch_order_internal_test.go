package engine

import (
	"testing"

	"github.com/engram-memory/engram"
)

// TestAuditBatchLockOrder: a batch appends chain by chain in tenant order,
// the system chain last, each chain's entries in the order they came.
func TestAuditBatchLockOrder(t *testing.T) {
	entry := func(tenant string, seq uint64) *pendingEntry {
		return &pendingEntry{entry: &engram.AuditEntry{TenantID: tenant, Seq: seq}}
	}
	batch := []*pendingEntry{entry("b", 1), entry("", 1), entry("a", 1), entry("b", 2), entry("", 2), entry("a", 2)}
	var got []string
	for _, p := range lockOrder(batch) {
		got = append(got, p.entry.TenantID+string(rune('0'+p.entry.Seq)))
	}
	want := []string{"a1", "a2", "b1", "b2", "1", "2"}
	if len(got) != len(want) {
		t.Fatalf("lockOrder = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lockOrder = %q, want %q", got, want)
		}
	}
	if batch[0].entry.TenantID != "b" {
		t.Fatal("lockOrder reordered the batch itself")
	}
}
