package storetest

import (
	"slices"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

// testDueMemories: expired memories and those created before the cutoff
// are due, each once, within the tenant, up to the limit; the expiry
// round-trips; DeleteMemoryHistory removes only that memory's history.
func testDueMemories(f *fx) {
	t, ctx, db := f.t, f.ctx, f.s
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	ids := map[string]string{}
	err := db.Write(ctx, func(tx store.Tx) error {
		for _, tn := range []string{"a", "b"} {
			if err := tx.CreateTenant(ctx, &store.Tenant{ID: tn, Name: tn, CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, m := range []struct {
			name, tenant string
			created      time.Time
			expires      *time.Time
		}{
			{"expired", "a", now, &past},
			{"expiredAndOld", "a", now.AddDate(0, 0, -90), &past},
			{"old", "a", now.AddDate(0, 0, -61), nil},
			{"young", "a", now.AddDate(0, 0, -59), &future},
			{"otherTenant", "b", now.AddDate(0, 0, -90), &past},
		} {
			id := newID()
			ids[m.name] = id
			if err := tx.InsertMemory(ctx, &store.Memory{ID: id, TenantID: m.tenant, Subject: "tenant", Content: []byte("c"),
				ContentMAC: []byte(id), CreatedAt: m.created, UpdatedAt: m.created, ExpiresAt: m.expires}, nil); err != nil {
				return err
			}
			for range 2 {
				if err := tx.InsertHistory(ctx, &store.History{ID: newID(), TenantID: m.tenant, MemoryID: id, Subject: "tenant", Event: "ADD", CreatedAt: m.created}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	due := func(cut time.Time, limit int) []string {
		t.Helper()
		var ms []store.Memory
		if err := db.Read(ctx, func(tx store.Tx) (err error) {
			ms, err = tx.DueMemories(ctx, "a", now, cut, limit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(names ...string) []string {
		out := []string{}
		for _, n := range names {
			out = append(out, ids[n])
		}
		slices.Sort(out)
		return out
	}
	if got, want := due(time.Time{}, 10), sorted("expired", "expiredAndOld"); !slices.Equal(got, want) {
		t.Fatalf("expired only: %v, want %v", got, want)
	}
	if got, want := due(now.AddDate(0, 0, -60), 10), sorted("expired", "expiredAndOld", "old"); !slices.Equal(got, want) {
		t.Fatalf("with a 60-day window: %v, want %v", got, want)
	}
	if got := due(now.AddDate(0, 0, -60), 2); len(got) != 2 {
		t.Fatalf("limit: %v", got)
	}
	var m *store.Memory
	var n int
	if err := db.Write(ctx, func(tx store.Tx) (err error) {
		if m, err = tx.Memory(ctx, "a", ids["young"]); err != nil {
			return err
		}
		n, err = tx.DeleteMemoryHistory(ctx, "a", ids["old"])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if m.ExpiresAt == nil || !m.ExpiresAt.Equal(future) {
		t.Fatalf("expires_at round trip: %v", m.ExpiresAt)
	}
	if n != 2 {
		t.Fatalf("history deleted: %d", n)
	}
	db.Read(ctx, func(tx store.Tx) error {
		for name, want := range map[string]int{"old": 0, "young": 2} {
			hs, err := tx.History(ctx, "a", ids[name])
			if err != nil || len(hs) != want {
				t.Errorf("history of %s: %d %v, want %d", name, len(hs), err, want)
			}
		}
		return nil
	})
}
