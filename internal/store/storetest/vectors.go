package storetest

import (
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// testVectors covers Vectors, MissingVectors and SetVector: paging in id
// order, the model filter, the key-version guard and tenant isolation.
func testVectors(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	var all []*store.Memory
	for i := range 5 {
		m := memory(a, engram.Scope{UserID: "u"}, i)
		if i < 3 {
			m.Vector, m.VectorModel = sealed("vector %d", i), "model-1"
		}
		all = append(all, m)
	}
	other := memory(b, engram.Scope{}, 9)
	other.Vector, other.VectorModel = sealed("vector b"), "model-1"
	f.insert(nil, append(all, other)...)

	page1 := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Vectors(f.ctx, a, "model-1", "", 2) })
	page2 := mustGet(f, func(tx store.Tx) ([]store.Memory, error) {
		return tx.Vectors(f.ctx, a, "model-1", page1[len(page1)-1].ID, 2)
	})
	got := append(ids(page1), ids(page2)...)
	want := []string{all[0].ID, all[1].ID, all[2].ID}
	if !slices.Equal(got, want) {
		t.Errorf("Vectors pages = %v, want %v in id order", got, want)
	}
	if !slices.Equal(page1[0].Vector, all[0].Vector) || page1[0].VectorModel != "model-1" {
		t.Errorf("Vectors returned %q %q", page1[0].Vector, page1[0].VectorModel)
	}
	if n := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Vectors(f.ctx, a, "model-2", "", 10) }); len(n) != 0 {
		t.Errorf("Vectors of another model: %d", len(n))
	}

	missing := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.MissingVectors(f.ctx, a, "model-1", 10) })
	if !slices.Equal(ids(missing), []string{all[3].ID, all[4].ID}) {
		t.Errorf("MissingVectors = %v", ids(missing))
	}
	if m := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.MissingVectors(f.ctx, a, "model-2", 10) }); len(m) != 5 {
		t.Errorf("MissingVectors for a new model = %d, want all 5", len(m))
	}

	// SetVector only under the key version that sealed the record.
	err := f.write(func(tx store.Tx) error {
		return tx.SetVector(f.ctx, a, all[3].ID, all[3].KeyVersion+1, sealed("v3"), "model-1")
	})
	wantErr(t, "SetVector under another key version", err, store.ErrNotFound)
	err = f.write(func(tx store.Tx) error {
		return tx.SetVector(f.ctx, b, all[3].ID, all[3].KeyVersion, sealed("v3"), "model-1")
	})
	wantErr(t, "SetVector in another tenant", err, store.ErrNotFound)
	f.mustWrite(func(tx store.Tx) error {
		return tx.SetVector(f.ctx, a, all[3].ID, all[3].KeyVersion, sealed("v3"), "model-1")
	})
	m, err := f.memory(a, all[3].ID)
	if err != nil || !slices.Equal(m.Vector, sealed("v3")) || m.VectorModel != "model-1" {
		t.Errorf("after SetVector: %v %v", m, err)
	}
	missing = mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.MissingVectors(f.ctx, a, "model-1", 10) })
	if !slices.Equal(ids(missing), []string{all[4].ID}) {
		t.Errorf("MissingVectors after SetVector = %v", ids(missing))
	}
}
