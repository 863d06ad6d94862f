package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

var _ engram.PrivacyService = (*Engine)(nil)

// checkpointer is implemented by stores that keep a write-ahead log: after
// an erasure it is folded into the main file, so that erased records and
// destroyed keys do not linger in the log.
type checkpointer interface {
	Checkpoint(ctx context.Context) error
}

func (e *Engine) afterErasure(ctx context.Context) error {
	if c, ok := e.st.(checkpointer); ok {
		// The erasure committed: its request's deadline must not stop the
		// checkpoint, nor turn a done erasure into a timeout.
		if err := c.Checkpoint(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("checkpoint after erasure: %w", err)
		}
	}
	return nil
}

// ForgetUser erases an end user by crypto-shredding: their subject key is
// destroyed (every version) and their memories, history and index postings
// are deleted in the same transaction. Other subjects are untouched.
//
// Its audit entry is written in the erasure's transaction and names the
// user only by pseudonym: it survives the erasure it records, and the
// chain still verifies, because audit keys do not derive from the user's.
func (e *Engine) ForgetUser(ctx context.Context, userID string) (_ *engram.Erasure, err error) {
	a := e.begin(ctx, engram.AuditUserForget, engram.TargetUser, "")
	defer func() { err = a.finish(err) }()
	if len(userID) <= engram.MaxScopeIDBytes {
		a.user(norm.NFC.String(userID)) // as the success entry names it
	}
	p, _, err := a.can(rbac.UserForget)
	if err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, invalid("user_id is required")
	}
	raw := userID
	if userID, err = cleanScopeID("user_id", userID); err != nil {
		return nil, err
	}
	a.user(userID)
	// Every spelling the user's data may be stored under (scopeid.go):
	// data written before ids were normalised keeps the caller's form.
	forms := storedForms(raw, userID)
	refs := make([]string, len(forms))
	for i, f := range forms {
		if refs[i], err = e.userRef(ctx, p.TenantID, f); err != nil {
			return nil, err
		}
	}
	defer e.vecWrite(p.TenantID)() // its index drop counts as a write (snapshots.go)
	er := &store.Erasure{}
	err = e.st.Write(ctx, func(tx store.Tx) (err error) {
		// Checked in the erasing transaction: a hold placed concurrently
		// either committed first (and refuses this) or comes after.
		for _, ref := range refs {
			if err := checkHold(ctx, tx, p.TenantID, ref); err != nil {
				return err
			}
		}
		one, err := eraseUser(ctx, tx, p.TenantID, forms)
		if err != nil {
			return err
		}
		*er = *one
		if er.Memories == 0 && er.History == 0 && er.Keys == 0 && er.Entities == 0 && er.Facts == 0 && er.Episodes == 0 {
			return nil // not_found below, recorded as a failure
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	e.forgetUserKeys(p.TenantID, forms)
	if er.Memories == 0 && er.History == 0 && er.Keys == 0 && er.Entities == 0 && er.Facts == 0 && er.Episodes == 0 {
		return nil, engram.Errorf(engram.CodeNotFound, "no data for this user")
	}
	if err := e.afterErasure(ctx); err != nil {
		return nil, err
	}
	return &engram.Erasure{UserID: userID, Memories: er.Memories, History: er.History, Keys: er.Keys,
		Episodes: er.Episodes, Entities: er.Entities, Facts: er.Facts, CompletedAt: e.clock()}, nil
}

// eraseUser erases, in tx, everything of an end user stored under any of
// forms (storedForms): the records under their subject key and that key,
// and what Observe holds about them. ForgetUser and the deletion sweep
// share it; the caller then calls forgetUserKeys once the tx committed.
func eraseUser(ctx context.Context, tx store.Tx, tenantID string, forms []string) (*store.Erasure, error) {
	er := &store.Erasure{}
	for _, f := range forms {
		one, err := tx.DeleteSubject(ctx, tenantID, userSubject(f))
		if err != nil {
			return nil, err
		}
		er.Memories, er.History, er.Keys = er.Memories+one.Memories, er.History+one.History, er.Keys+one.Keys
		er.Episodes, er.Facts = er.Episodes+one.Episodes, er.Facts+one.Facts
		obs, err := tx.DeleteUserObservations(ctx, tenantID, f)
		if err != nil {
			return nil, err
		}
		er.Episodes, er.Entities, er.Facts = er.Episodes+obs.Episodes, er.Entities+obs.Entities, er.Facts+obs.Facts
		er.Keys += obs.Keys
	}
	return er, nil
}

// userSubject is the key subject of an end user's records (subjectOf).
func userSubject(userID string) string { return subjectOf(engram.Scope{UserID: userID}, nil) }

// forgetUserKeys drops, after an erasure committed, the cached keys of the
// user's subjects and the tenant's in-memory indexes.
func (e *Engine) forgetUserKeys(tenantID string, forms []string) {
	for _, f := range forms {
		e.ring.Forget(tenantID, userSubject(f))
	}
	e.indexDrop(tenantID)
	e.kwDrop(tenantID)
}

// ForgetTenant erases a whole tenant: every key, record and account. It
// is an operator action (CLI), not reachable with a tenant's API key.
//
// The tenant's audit chain is erased with it (its key is destroyed, so it
// could not be verified anyway); the system chain records the erasure,
// naming the tenant by id.
func (e *Engine) ForgetTenant(ctx context.Context, name string) (_ *engram.Erasure, err error) {
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return nil, err
	}
	defer func() { err = e.operator(ctx, "", engram.AuditTenantForget, engram.TargetTenant, t.ID, err) }()
	defer e.vecWrite(t.ID)() // its index drop counts as a write (snapshots.go)
	var er *store.Erasure
	err = e.st.Write(ctx, func(tx store.Tx) (err error) {
		if err := checkHold(ctx, tx, t.ID, anyHold); err != nil {
			return err
		}
		er, err = tx.DeleteTenant(ctx, t.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.ring.Forget(t.ID, "*")
	e.indexDrop(t.ID)
	e.kwDrop(t.ID)
	if err := e.afterErasure(ctx); err != nil {
		return nil, err
	}
	return &engram.Erasure{Tenant: name, Memories: er.Memories, History: er.History, Keys: er.Keys,
		Accounts: er.Accounts, APIKeys: er.APIKeys, Episodes: er.Episodes, Entities: er.Entities, Facts: er.Facts,
		CompletedAt: e.clock()}, nil
}

// RotateKeys rotates the caller's tenant keys; only an owner may.
func (e *Engine) RotateKeys(ctx context.Context) (_ *engram.KeyRotation, err error) {
	a := e.begin(ctx, engram.AuditKeysRotate, engram.TargetTenant, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.TenantRotate)
	if err != nil {
		return nil, err
	}
	return e.rotate(ctx, p.TenantID)
}

// RotateTenant rotates a tenant's keys by name (operator, CLI).
func (e *Engine) RotateTenant(ctx context.Context, name string) (_ *engram.KeyRotation, err error) {
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return nil, err
	}
	defer func() { err = e.operator(ctx, t.ID, engram.AuditKeysRotate, engram.TargetTenant, t.ID, err) }()
	return e.rotate(ctx, t.ID)
}

func (e *Engine) rotate(ctx context.Context, tenantID string) (*engram.KeyRotation, error) {
	rot, err := e.ring.Rotate(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	pending, err := e.Pending(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &engram.KeyRotation{TenantKeyVersion: rot.TenantKeyVersion, Rewrapped: rot.Rewrapped, Pending: pending}, nil
}

// Pending counts records sealed under an old data key version ("" for all
// tenants).
func (e *Engine) Pending(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		n, err = tx.CountStale(ctx, tenantID)
		return err
	})
	return n, err
}

// Reencrypt moves up to batch stale records of a tenant to their subject's
// newest key, one transaction per record so that writers are never held up
// for long. When none is left it destroys the retired key versions. It is
// resumable: each call starts from what is still stale. It returns how many
// records it moved and how many remain.
func (e *Engine) Reencrypt(ctx context.Context, tenantID string, batch int) (moved, remaining int, err error) {
	var stale []store.StaleRecord
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		stale, err = tx.StaleRecords(ctx, tenantID, batch)
		return err
	}); err != nil {
		return 0, 0, err
	}
	for _, r := range stale {
		err := retry(func() error {
			w, err := e.writer(ctx, tenantID, r.Subject)
			if err != nil {
				return err
			}
			return e.st.Write(ctx, func(tx store.Tx) error {
				if err := w.check(ctx, tx); err != nil {
					return err
				}
				return e.reseal(ctx, tx, w, r)
			})
		})
		if isUnreadable(err) {
			// It stays stale (and its old key version stays) until
			// `engram repair` removes it; the others move on.
			e.skip(tenantID, r.Kind, r.ID, err)
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			if r.Kind == "entity" {
				// Forgotten meanwhile: the writer above made its key
				// subject a fresh key, which nothing would ever remove.
				if err := e.dropEntityKeys(ctx, tenantID, r.ID); err != nil {
					return moved, 0, err
				}
			}
			continue // deleted or erased meanwhile
		}
		if err != nil {
			return moved, 0, fmt.Errorf("re-encrypt %s %s: %w", r.Kind, r.ID, err)
		}
		moved++
	}
	if remaining, err = e.Pending(ctx, tenantID); err != nil {
		return moved, 0, err
	}
	if remaining == 0 {
		if _, err := e.ring.RetireSubjectKeys(ctx, tenantID); err != nil {
			return moved, 0, err
		}
	}
	return moved, remaining, nil
}

// dropEntityKeys destroys every key version of an entity that no longer
// exists.
func (e *Engine) dropEntityKeys(ctx context.Context, tenantID, id string) error {
	err := e.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.Entity(ctx, tenantID, id); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err := tx.DeleteSubject(ctx, tenantID, entitySubject(id))
		return err
	})
	e.ring.Forget(tenantID, entitySubject(id))
	return err
}

// reseal re-encrypts one record under w's key, changing nothing else.
func (e *Engine) reseal(ctx context.Context, tx store.Tx, w *writer, r store.StaleRecord) error {
	o := e.opener(ctx, w.tenant)
	switch r.Kind {
	case "memory":
		m, err := tx.Memory(ctx, w.tenant, r.ID)
		if err != nil {
			return err
		}
		if m.KeyVersion >= int(w.key.Version) {
			return nil
		}
		old, err := o.memory(m)
		if err != nil {
			return err
		}
		md, err := encodeMetadata(old.Metadata)
		if err != nil {
			return err
		}
		// The embedding moves with the record, whatever model made it.
		var vec []float32
		model := m.VectorModel
		if m.Vector != nil {
			if vec, err = o.vector(m); err != nil {
				return err
			}
		}
		// The postings come out as they were (same text, and the index
		// key that blinds tokens is never rotated, only rewrapped), so the
		// in-memory keyword index needs no update.
		postings, err := w.recordModel(m, old.Content, md, vec, model)
		if err != nil {
			return err
		}
		return tx.UpdateMemory(ctx, m, postings)
	case "history":
		h, err := tx.HistoryEntry(ctx, w.tenant, r.ID)
		if err != nil {
			return err
		}
		if h.KeyVersion >= int(w.key.Version) {
			return nil
		}
		oldText, err := o.open(h.Subject, historyContext(w.tenant, h.Subject, h.MemoryID, h.ID, "old"), h.Old)
		if err != nil {
			return err
		}
		newText, err := o.open(h.Subject, historyContext(w.tenant, h.Subject, h.MemoryID, h.ID, "new"), h.New)
		if err != nil {
			return err
		}
		h.KeyVersion, h.Old, h.New = int(w.key.Version), nil, nil
		if oldText != nil {
			h.Old, err = w.seal(historyContext(w.tenant, w.subject, h.MemoryID, h.ID, "old"), oldText)
		}
		if err == nil && newText != nil {
			h.New, err = w.seal(historyContext(w.tenant, w.subject, h.MemoryID, h.ID, "new"), newText)
		}
		if err != nil {
			return err
		}
		return tx.ReplaceHistory(ctx, h)
	case "account":
		a, err := tx.Account(ctx, w.tenant, r.ID)
		if err != nil {
			return err
		}
		if a.KeyVersion >= int(w.key.Version) {
			return nil
		}
		for _, f := range []struct {
			name string
			val  *[]byte
		}{{"name", &a.Name}, {"email", &a.Email}} {
			pt, err := o.open(a.Subject, accountContext(w.tenant, a.Subject, a.ID, f.name), *f.val)
			if err != nil {
				return err
			}
			if pt != nil {
				if *f.val, err = w.seal(accountContext(w.tenant, a.Subject, a.ID, f.name), pt); err != nil {
					return err
				}
			}
		}
		a.KeyVersion = int(w.key.Version)
		return tx.ReplaceAccount(ctx, a)
	case "episode", "entity", "fact":
		return e.resealObserved(ctx, tx, w, o, r)
	case "sso_config":
		return e.resealSSO(ctx, tx, w, o)
	}
	return fmt.Errorf("unknown record kind %q", r.Kind)
}

// RunMaintenance re-encrypts stale records and sweeps expired idempotency
// records every interval until ctx ends, on the node that holds the
// WorkMaintenance lease (leases.go). Errors are reported to report and
// retried on the next round.
func (e *Engine) RunMaintenance(ctx context.Context, every time.Duration, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	defer e.resign(WorkMaintenance)
	for {
		// On a node that does not lead, the tick only tries the lease.
		if e.lead(ctx, WorkMaintenance, report) {
			if err := e.Maintain(ctx); err != nil && ctx.Err() == nil {
				report(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Maintain runs one round of background work: expired idempotency records
// are swept; memories without a vector of the current model are embedded;
// records on retired key versions are re-encrypted; deletions whose grace
// period ended are completed.
func (e *Engine) Maintain(ctx context.Context) error {
	if err := e.st.Write(ctx, func(tx store.Tx) error {
		return tx.DeleteIdempotencyBefore(ctx, e.clock().Add(-idempotencyTTL))
	}); err != nil {
		return err
	}
	if _, err := (store.ReplayCache{Store: e.st}).Sweep(ctx, e.clock()); err != nil {
		return err
	}
	if err := e.sweepOAuthCodes(ctx); err != nil {
		return err
	}
	var tenants []store.Tenant
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return err
	}
	for _, t := range tenants {
		for {
			n, err := e.backfillVectors(ctx, t.ID, 64)
			if err != nil {
				return err
			}
			if n == 0 || ctx.Err() != nil {
				break
			}
		}
		for {
			moved, remaining, err := e.Reencrypt(ctx, t.ID, 200)
			if err != nil {
				return err
			}
			if remaining == 0 || moved == 0 || ctx.Err() != nil {
				break
			}
		}
	}
	// Deletions whose grace period ended (deletion.go); one tenant's
	// failure is reported without stopping the others.
	_, err := e.SweepDeletions(ctx)
	return err
}
