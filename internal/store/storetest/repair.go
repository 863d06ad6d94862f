package storetest

import (
	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// testHistoryScan: HistoryAfter pages through every entry of one tenant in
// id order, whatever memory they belong to; DeleteHistoryEntry removes one
// entry of its own tenant only.
func testHistoryScan(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var want []string
	for i := range 5 {
		h := &store.History{ID: newID(), TenantID: a, MemoryID: newID(), Subject: "s", KeyVersion: 1,
			Event: string(engram.EventAdd), New: sealed("new"), CreatedAt: at(i)}
		f.insertHistory(h)
		want = append(want, h.ID)
	}
	other := &store.History{ID: newID(), TenantID: b, MemoryID: newID(), Subject: "s", Event: string(engram.EventAdd), CreatedAt: at(9)}
	f.insertHistory(other)

	var got []string
	after := ""
	for {
		var page []store.History
		f.mustRead(func(tx store.Tx) (err error) {
			page, err = tx.HistoryAfter(f.ctx, a, after, 2)
			return err
		})
		for _, h := range page {
			got = append(got, h.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(got) != len(want) {
		t.Fatalf("HistoryAfter: %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("HistoryAfter: %v, want %v (id order)", got, want)
		}
	}

	err := f.write(func(tx store.Tx) error { return tx.DeleteHistoryEntry(f.ctx, a, other.ID) })
	wantErr(t, "DeleteHistoryEntry of another tenant", err, store.ErrNotFound)
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteHistoryEntry(f.ctx, a, want[0]) })
	_, err = f.historyEntry(a, want[0])
	wantErr(t, "HistoryEntry after DeleteHistoryEntry", err, store.ErrNotFound)
	if _, err := f.historyEntry(b, other.ID); err != nil {
		t.Fatalf("the other tenant's entry: %v", err)
	}
}
