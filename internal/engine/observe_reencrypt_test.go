package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// afterRead runs a hook once, after the next read transaction returns.
type afterRead struct {
	store.Store
	hook atomic.Pointer[func()]
}

func (s *afterRead) Read(ctx context.Context, fn func(store.Tx) error) error {
	err := s.Store.Read(ctx, fn)
	if h := s.hook.Swap(nil); h != nil {
		(*h)()
	}
	return err
}

// TestObserveReencryptAfterForget forgets an entity after re-encryption
// listed it as stale and before it reaches it: re-encryption must skip it
// and leave no key behind for it (its key subject is the entity itself,
// and a writer creates a missing subject key).
func TestObserveReencryptAfterForget(t *testing.T) {
	st := &afterRead{}
	e := testserver.OpenEngineOver(t, t.TempDir(), nil, func(s store.Store) store.Store { st.Store = s; return st })
	nt, ctx := owner(t, e)
	observe(t, e, ctx, "alice", "My friend Anna Varga lives in Szeged. Anna Varga works at Tungsram.", "2024-01-10")
	en := entityNamed(t, e, ctx, "alice", "Anna Varga")
	if _, err := e.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	forget := func() {
		if _, err := e.ForgetEntity(ctx, en.ID); err != nil {
			t.Errorf("forget: %v", err)
		}
	}
	st.hook.Store(&forget) // the first read of Reencrypt lists the stale records
	remaining := 1
	for remaining > 0 {
		var err error
		if _, remaining, err = e.Reencrypt(ctx, nt.Tenant.ID, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if st.hook.Load() != nil {
		t.Fatal("the entity was not forgotten during re-encryption")
	}
	err := st.Read(ctx, func(tx store.Tx) error {
		ks, err := tx.Keys(ctx, nt.Tenant.ID, store.PurposeSubject)
		for _, k := range ks {
			if k.Owner == "e:"+en.ID {
				t.Errorf("re-encryption left version %d of the forgotten entity's key", k.Version)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.GetEntity(ctx, en.ID)
	obsWantCode(t, err, engram.CodeNotFound)
	if _, err := e.Facts(ctx, engram.FactQuery{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
}
