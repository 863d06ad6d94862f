package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/deletion"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// Deletion with a grace period (docs/LIFECYCLE.md, "Deletion"):
// internal/deletion holds the rules (bounds, due, states, what a pending
// account may still do); this file authorises, stores, erases and audits.

var _ engram.DeletionService = (*Engine)(nil)

// deletionState is the grace period of account deletions and what the
// sweep did since start (metrics, counts only).
type deletionState struct {
	grace time.Duration
	done  atomic.Uint64
	held  atomic.Uint64
}

// WithDeletionGrace sets how long an account's deletion waits (DeleteMe);
// 0 keeps deletion.DefaultGrace. The caller validates it
// (deletion.CheckGrace): New does not fail.
func WithDeletionGrace(d time.Duration) Option { return func(e *Engine) { e.deletes.grace = d } }

func (e *Engine) deletionGrace() time.Duration {
	if e.deletes.grace == 0 {
		return deletion.DefaultGrace
	}
	return e.deletes.grace
}

// DeletionsDone counts the deletions the sweep completed since start
// (engram_deletions_completed_total); DeletionsHeld those it found due
// and left pending under a legal hold or as an only owner
// (engram_deletions_held_total).
func (e *Engine) DeletionsDone() uint64 { return e.deletes.done.Load() }

// DeletionsHeld: see DeletionsDone.
func (e *Engine) DeletionsHeld() uint64 { return e.deletes.held.Load() }

// maxPendingList bounds ListDeletions.
const maxPendingList = 1000

func errPending(at time.Time) error {
	return engram.Errorf(engram.CodeDeletionPending,
		"deletion is scheduled for %s: only reads, exports and cancelling are allowed until then", at.UTC().Format(time.RFC3339))
}

// writable refuses with CodeDeletionPending a write by or for a subject
// (an account, an end user) whose deletion is pending.
func (e *Engine) writable(ctx context.Context, tenantID, kind, id string) error {
	if id == "" {
		return nil
	}
	var d *store.Deletion
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		d, err = tx.PendingDeletion(ctx, tenantID, kind, id)
		return err
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return errPending(d.ScheduledAt)
}

// userWritable is writable for an end user named in a write's scope, in
// its normalised form ("" passes).
func (e *Engine) userWritable(ctx context.Context, tenantID, userID string) error {
	if userID == "" {
		return nil
	}
	return e.writable(ctx, tenantID, engram.DeletionUser, norm.NFC.String(userID))
}

// userWritableTx is userWritable inside a transaction that already read
// the record (by-id graph writes learn the user from it).
func userWritableTx(ctx context.Context, tx store.Tx, tenantID, userID string) error {
	if userID == "" {
		return nil
	}
	d, err := tx.PendingDeletion(ctx, tenantID, engram.DeletionUser, norm.NFC.String(userID))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return errPending(d.ScheduledAt)
}

func deletionOut(d *store.Deletion) *engram.Deletion {
	return &engram.Deletion{ID: d.ID, Kind: d.Kind, Subject: d.SubjectID, State: d.State,
		RequestedAt: d.RequestedAt, ScheduledFor: d.ScheduledAt}
}

// accountRef is the audit pseudonym of an account.
func (e *Engine) accountRef(ctx context.Context, tenantID, accountID string) (string, error) {
	_, pk, err := e.ring.AuditKeys(ctx, tenantID, audit.KeyVersion)
	if err != nil {
		return "", keyFailure(err)
	}
	return audit.Pseudonym(pk, "account", accountID), nil
}

// DeleteMe schedules the caller's account for deletion after the grace
// period. Until then it is read-only; its sessions keep working for
// reads, exports and CancelMyDeletion.
func (e *Engine) DeleteMe(ctx context.Context) (_ *engram.Deletion, err error) {
	a := e.begin(ctx, engram.AuditAccountDeletionRequest, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Profile)
	if err != nil {
		return nil, err
	}
	a.account(p.AccountID)
	ref, err := e.accountRef(ctx, p.TenantID, p.AccountID)
	if err != nil {
		return nil, err
	}
	now := e.clock()
	d := &store.Deletion{TenantID: p.TenantID, ID: uuid.NewString(), Kind: engram.DeletionAccount, SubjectID: p.AccountID,
		SubjectRef: ref, State: engram.DeletionPending, RequestedAt: now.UTC().Truncate(time.Microsecond),
		ScheduledAt: deletion.Schedule(now, e.deletionGrace())}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := checkHold(ctx, tx, p.TenantID, ref); err != nil {
			return err
		}
		if err := soleOwner(ctx, tx, p.TenantID, p.AccountID); err != nil {
			return err
		}
		if err := putDeletion(ctx, tx, d); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	return deletionOut(d), nil
}

// soleOwner refuses with CodeSoleOwner when the account is its tenant's
// only (active) owner: deleting it would leave the organisation without
// one. The owner transfers ownership first.
func soleOwner(ctx context.Context, tx store.Tx, tenantID, accountID string) error {
	acct, err := tx.Account(ctx, tenantID, accountID)
	if err != nil {
		return notFound(err, "account")
	}
	if engram.Role(acct.Role) != engram.RoleOwner {
		return nil
	}
	owners, err := tx.CountOwners(ctx, tenantID)
	if err != nil {
		return err
	}
	if owners <= 1 {
		return engram.Errorf(engram.CodeSoleOwner, "the only owner of an organisation cannot be deleted; transfer ownership first")
	}
	return nil
}

// putDeletion stores a pending deletion; one already pending for the
// subject answers CodeDeletionPending with its date.
func putDeletion(ctx context.Context, tx store.Tx, d *store.Deletion) error {
	err := tx.PutDeletion(ctx, d)
	if errors.Is(err, store.ErrConflict) {
		old, gerr := tx.PendingDeletion(ctx, d.TenantID, d.Kind, d.SubjectID)
		if gerr != nil {
			return gerr
		}
		return errPending(old.ScheduledAt)
	}
	return err
}

// CancelMyDeletion withdraws the caller's pending deletion.
func (e *Engine) CancelMyDeletion(ctx context.Context) (err error) {
	a := e.begin(ctx, engram.AuditAccountDeletionCancel, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Profile)
	if err != nil {
		return err
	}
	a.account(p.AccountID)
	return e.cancel(ctx, a, p.TenantID, engram.DeletionAccount, p.AccountID)
}

func (e *Engine) cancel(ctx context.Context, a *action, tenantID, kind, id string) error {
	return e.st.Write(ctx, func(tx store.Tx) error {
		d, err := tx.PendingDeletion(ctx, tenantID, kind, id)
		if err != nil {
			return notFound(err, "pending deletion")
		}
		if err := deletion.Transition(d.State, engram.DeletionCancelled); err != nil {
			return engram.Errorf(engram.CodeConflict, "%s", err.Error())
		}
		if err := tx.EndDeletion(ctx, tenantID, d.ID, engram.DeletionCancelled, e.clock()); err != nil {
			return err
		}
		return a.record(tx)
	})
}

// ScheduleUserDeletion schedules the erasure of an end user after grace.
// Until then writes for the user are refused (CodeDeletionPending) and
// reads and GET /v1/users/{id}/export work. A legal hold on the tenant or
// the user refuses it (CodeHeld), as it refuses ForgetUser.
func (e *Engine) ScheduleUserDeletion(ctx context.Context, userID string, grace time.Duration) (_ *engram.Deletion, err error) {
	a := e.begin(ctx, engram.AuditUserDeletionRequest, engram.TargetUser, "")
	defer func() { err = a.finish(err) }()
	if len(userID) <= engram.MaxScopeIDBytes {
		a.user(norm.NFC.String(userID))
	}
	p, _, err := a.can(rbac.UserForget)
	if err != nil {
		return nil, err
	}
	if err := deletion.CheckGrace(grace); err != nil {
		return nil, invalid("%s", err.Error())
	}
	if userID == "" {
		return nil, invalid("user_id is required")
	}
	if userID, err = cleanScopeID("user_id", userID); err != nil {
		return nil, err
	}
	a.user(userID)
	forms := storedForms(userID, userID)
	refs := make([]string, len(forms))
	for i, f := range forms {
		if refs[i], err = e.userRef(ctx, p.TenantID, f); err != nil {
			return nil, err
		}
	}
	now := e.clock()
	d := &store.Deletion{TenantID: p.TenantID, ID: uuid.NewString(), Kind: engram.DeletionUser, SubjectID: userID,
		SubjectRef: refs[0], State: engram.DeletionPending, RequestedAt: now.UTC().Truncate(time.Microsecond),
		ScheduledAt: deletion.Schedule(now, grace)}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		for _, ref := range refs {
			if err := checkHold(ctx, tx, p.TenantID, ref); err != nil {
				return err
			}
		}
		if err := putDeletion(ctx, tx, d); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	return deletionOut(d), nil
}

// CancelUserDeletion withdraws an end user's pending deletion.
func (e *Engine) CancelUserDeletion(ctx context.Context, userID string) (err error) {
	a := e.begin(ctx, engram.AuditUserDeletionCancel, engram.TargetUser, "")
	defer func() { err = a.finish(err) }()
	if len(userID) <= engram.MaxScopeIDBytes {
		a.user(norm.NFC.String(userID))
	}
	// Not a.can: cancelling is what an admin under a pending deletion of
	// their own may still want to do for a user, and it adds no data.
	p, _, err := can(ctx, rbac.UserForget)
	if err != nil {
		return err
	}
	if userID, err = cleanScopeID("user_id", userID); err != nil {
		return err
	}
	a.user(userID)
	return e.cancel(ctx, a, p.TenantID, engram.DeletionUser, userID)
}

// ListDeletions lists the tenant's pending deletions, soonest first.
func (e *Engine) ListDeletions(ctx context.Context) (_ []engram.Deletion, err error) {
	a := e.begin(ctx, engram.AuditDeletionList, engram.TargetTenant, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.UserForget)
	if err != nil {
		return nil, err
	}
	return e.pendingDeletions(ctx, p.TenantID)
}

// DeletionsOf lists a tenant's pending deletions by name (operator, CLI).
func (e *Engine) DeletionsOf(ctx context.Context, tenant string) ([]engram.Deletion, error) {
	t, err := e.TenantByName(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return e.pendingDeletions(ctx, t.ID)
}

func (e *Engine) pendingDeletions(ctx context.Context, tenantID string) ([]engram.Deletion, error) {
	var ds []store.Deletion
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		ds, err = tx.PendingDeletions(ctx, tenantID, maxPendingList)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]engram.Deletion, 0, len(ds))
	for i := range ds {
		out = append(out, *deletionOut(&ds[i]))
	}
	return out, nil
}

// DeletionStats counts what one deletion sweep did.
type DeletionStats struct {
	Done int `json:"done"`
	Held int `json:"held"` // due, left pending: a legal hold, or an only owner
}

// maxDeletionBatch bounds one sweep pass; the rest waits for the next.
const maxDeletionBatch = 100

// SweepDeletions completes every deletion whose grace period has ended:
// each in its own transaction, which erases the subject, marks the
// deletion done and appends its compliance record (counts and times,
// the subject by pseudonym). A deletion under a legal hold, or of an
// account that has become its tenant's only owner, stays pending and is
// retried on the next pass.
func (e *Engine) SweepDeletions(ctx context.Context) (DeletionStats, error) {
	var st DeletionStats
	now := e.clock()
	var due []store.Deletion
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		due, err = tx.DueDeletions(ctx, now, maxDeletionBatch)
		return err
	}); err != nil {
		return st, err
	}
	// One deletion's failure (its tenant's KMS is down) must not stop
	// the others'.
	var errs []error
	for i := range due {
		done, held, err := e.completeDeletion(ctx, &due[i], now)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("deletion %s of tenant %q: %w", due[i].ID, due[i].TenantID, err))
		case done:
			st.Done++
			e.deletes.done.Add(1)
		case held:
			st.Held++
			e.deletes.held.Add(1)
		}
	}
	return st, errors.Join(errs...)
}

// completeDeletion erases one due deletion's subject. held: it stays
// pending (a legal hold, or an account become its tenant's only owner);
// neither done nor held: it was cancelled meanwhile.
func (e *Engine) completeDeletion(ctx context.Context, d *store.Deletion, now time.Time) (done, held bool, err error) {
	defer e.vecWrite(d.TenantID)() // its index drop counts as a write (snapshots.go)
	mac, _, err := e.ring.AuditKeys(ctx, d.TenantID, audit.KeyVersion)
	if err != nil {
		return false, false, keyFailure(err)
	}
	var forms, refs []string
	action := engram.AuditAccountDeletionComplete
	target := engram.TargetAccount
	if d.Kind == engram.DeletionUser {
		action, target = engram.AuditUserDeletionComplete, engram.TargetUser
		forms = storedForms(d.SubjectID, d.SubjectID)
		for _, f := range forms {
			ref, err := e.userRef(ctx, d.TenantID, f)
			if err != nil {
				return false, false, err
			}
			refs = append(refs, ref)
		}
	} else {
		refs = []string{d.SubjectRef}
	}
	var (
		rec     *store.AuditRecord
		subject string // the account's key subject
	)
	err = e.st.Write(ctx, func(tx store.Tx) error {
		done, held, rec, subject = false, false, nil, ""
		// Re-checked in the erasing transaction: a cancel or a hold that
		// committed first wins.
		cur, err := tx.PendingDeletion(ctx, d.TenantID, d.Kind, d.SubjectID)
		if isNotFound(err) || (err == nil && cur.ID != d.ID) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if checkHold(ctx, tx, d.TenantID, ref) != nil {
				held = true // stays pending, counted, nothing logged of it
				return nil
			}
		}
		counts := map[string]uint64{}
		if d.Kind == engram.DeletionUser {
			er, err := eraseUser(ctx, tx, d.TenantID, forms)
			if err != nil {
				return err
			}
			addErasure(counts, er)
		} else {
			// An account an admin removed meanwhile (its login, sessions
			// and keys went with it) still has what it authored erased.
			subject = subjectOf(engram.Scope{}, &engram.Principal{AccountID: d.SubjectID})
			acct, err := tx.Account(ctx, d.TenantID, d.SubjectID)
			switch {
			case err == nil:
				if soleOwner(ctx, tx, d.TenantID, d.SubjectID) != nil {
					held = true // the others left meanwhile: stays pending
					return nil
				}
				subject = acct.Subject
			case !isNotFound(err):
				return err
			}
			er, err := tx.EraseAccount(ctx, d.TenantID, d.SubjectID, subject)
			if err != nil {
				return err
			}
			addErasure(counts, &er.Erasure)
			counts[deletion.CountAccounts] = uint64(er.Accounts)
			counts[deletion.CountAPIKeys] = uint64(er.APIKeys)
			counts[deletion.CountSessions] = uint64(er.Sessions)
		}
		if err := tx.EndDeletion(ctx, d.TenantID, d.ID, engram.DeletionDone, now); err != nil {
			return err
		}
		o := engram.OriginFrom(ctx)
		if o.Transport == "" {
			o.Transport = "system"
		}
		rec, err = audit.Append(ctx, tx, mac, &engram.AuditEntry{Time: now, TenantID: d.TenantID, Action: action,
			TargetType: target, TargetID: d.SubjectRef, Outcome: engram.OutcomeSuccess,
			IP: o.IP, RequestID: o.RequestID, Transport: o.Transport,
			Detail: &engram.AuditDetail{Counts: counts, RequestedAt: d.RequestedAt, ScheduledFor: d.ScheduledAt}})
		if err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil || !done {
		return false, held, err
	}
	if d.Kind == engram.DeletionUser {
		e.forgetUserKeys(d.TenantID, forms)
	} else {
		e.ring.Forget(d.TenantID, subject)
		e.indexDrop(d.TenantID)
		e.kwDrop(d.TenantID)
	}
	e.publish(ctx, rec) // sinks see the record like any entry
	return true, false, e.afterErasure(ctx)
}

// addErasure adds a store erasure's counts to a compliance record.
func addErasure(c map[string]uint64, er *store.Erasure) {
	c[deletion.CountMemories] += uint64(er.Memories)
	c[deletion.CountHistory] += uint64(er.History)
	c[deletion.CountKeys] += uint64(er.Keys)
	c[deletion.CountEpisodes] += uint64(er.Episodes)
	c[deletion.CountEntities] += uint64(er.Entities)
	c[deletion.CountFacts] += uint64(er.Facts)
}
