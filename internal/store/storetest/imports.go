package storetest

import (
	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// testRecordTenant: RecordTenant names the tenant of a record of each
// kind, whichever tenant asks, and ErrNotFound for an id nobody holds.
func testRecordTenant(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	m := memory(a, engram.Scope{UserID: "u1"}, 1)
	f.insert(nil, m)
	ep := episode(b, engram.Scope{UserID: "u2"}, 2)
	f.insertEpisodes(ep)
	s, o := entity(a, "u1", 3), entity(a, "u1", 4)
	f.insertEntities(s, o)
	fc := fact(b, engram.Scope{UserID: "u2"}, s.ID, o.ID, 5)
	f.insertFacts(fc)
	for _, c := range []struct{ kind, id, want string }{
		{"memory", m.ID, a}, {"episode", ep.ID, b}, {"entity", s.ID, a}, {"fact", fc.ID, b},
	} {
		got := mustGet(f, func(tx store.Tx) (string, error) { return tx.RecordTenant(f.ctx, c.kind, c.id) })
		if got != c.want {
			t.Errorf("RecordTenant(%s) = %q, want %q", c.kind, got, c.want)
		}
	}
	_, err := get(f, func(tx store.Tx) (string, error) { return tx.RecordTenant(f.ctx, "memory", newID()) })
	wantErr(t, "RecordTenant of an unknown id", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (string, error) { return tx.RecordTenant(f.ctx, "memory", ep.ID) })
	wantErr(t, "RecordTenant of an episode's id as a memory", err, store.ErrNotFound)
	if _, err := get(f, func(tx store.Tx) (string, error) { return tx.RecordTenant(f.ctx, "pattern", m.ID) }); err == nil {
		t.Error("RecordTenant of an unknown kind answered")
	}
}
