package engine

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// WithAuditSink sends every audit entry, after its transaction commits, to
// s; report (may be nil) receives the sink's errors, which never undo the
// action: the entry is already in the database and its chain. Entries s
// did not accept are published again by BackfillAudit (backfill.go).
func WithAuditSink(s audit.Sink, report func(error)) Option {
	return func(e *Engine) { e.sink, e.sinkErr, e.sinkInTx = s, report, false }
}

// WithAuditSinkFailClosed is WithAuditSink for fail-closed mode: the entry
// of a successful mutating action (memories, API keys, forgetting a user,
// creating a tenant) is handed to s inside the action's write transaction,
// as its last step before commit, and an error from s rolls the
// transaction back, so the action fails with CodeUnavailable and nothing of
// it is written. The refusal is itself recorded as a failure entry, which,
// like the entries of reads and of failed actions, is published after its
// commit and never fails the request (report receives the error): failing
// a read because its entry could not be exported would protect nothing
// that the chain does not already hold.
//
// The price: the write transaction, which serialises the tenant's writes
// (all writes on the embedded store), stays open for s's latency; and an
// entry s accepted whose commit then fails
// leaves s holding a (tenant, seq) the chain reuses for the next entry.
// Sinks treat the later entry for a (tenant, seq) as authoritative; the
// chain MAC tells the two apart (docs/AUDIT-SINKS.md).
func WithAuditSinkFailClosed(s audit.Sink, report func(error)) Option {
	return func(e *Engine) { e.sink, e.sinkErr, e.sinkInTx = s, report, true }
}

// errSinksRefused is what a client sees when fail-closed mode refused an
// action: nothing was written, and retrying later is the right move. The
// sinks' own errors go to the operator's report, never to the client.
func errSinksRefused() error {
	return engram.Errorf(engram.CodeUnavailable, "the audit trail cannot be exported right now, so nothing was changed; try again later")
}

// action is one audited call: the entry being built, and whether it was
// already appended inside the action's own write transaction.
type action struct {
	e      *Engine
	ctx    context.Context
	entry  engram.AuditEntry
	p      *engram.Principal
	inTx   bool
	sent   bool // recs went to the sink inside the transaction (fail-closed)
	recs   []*store.AuditRecord
	acked  []*store.AuditRecord // those of recs a sink accepted inside the transaction
	userID string               // a personal target, pseudonymised when the entry is built
	acctID string               // an account target recorded by pseudonym (deletion), likewise
}

// begin starts recording an action of the principal in ctx (if any) from
// the origin in ctx. Call finish with the action's result, always.
func (e *Engine) begin(ctx context.Context, act engram.AuditAction, targetType, targetID string) *action {
	o := engram.OriginFrom(ctx)
	a := &action{e: e, ctx: ctx, entry: engram.AuditEntry{Action: act, TargetType: targetType, TargetID: targetID,
		IP: o.IP, RequestID: o.RequestID, Transport: o.Transport}}
	if p := engram.PrincipalFrom(ctx); p != nil {
		a.p = p
		a.entry.TenantID, a.entry.KeyID = p.TenantID, p.KeyID
	}
	return a
}

// user makes the target an end user, recorded only as a pseudonym.
func (a *action) user(userID string) { a.entry.TargetType, a.userID = engram.TargetUser, userID }

// build fills what needs the chain's keys: the time and the pseudonyms.
func (a *action) build(pseudonym []byte) {
	a.entry.Time = a.e.clock()
	if a.p != nil {
		a.entry.Actor = audit.Pseudonym(pseudonym, "account", a.p.AccountID)
	}
	if a.userID != "" {
		a.entry.TargetID = audit.Pseudonym(pseudonym, "user", a.userID)
	}
	if a.acctID != "" {
		a.entry.TargetID = audit.Pseudonym(pseudonym, "account", a.acctID)
	}
}

// account makes the target an account named by its pseudonym (the
// actor's, for one's own): the entries of a deletion outlive the id.
func (a *action) account(accountID string) {
	a.entry.TargetType, a.acctID = engram.TargetAccount, accountID
}

// record appends the success entry inside the action's write transaction,
// so the action cannot commit without it.
func (a *action) record(tx store.Tx) error {
	return a.recordEach(tx, []string{a.entry.TargetID})
}

// recordEach appends one success entry per target id (a request that
// wrote several memories), inside the action's write transaction. Each
// attempt of a retried transaction starts the list afresh. In fail-closed
// mode it also hands the entries to the sink, so callers make it the last
// step of the transaction: anything that could still fail after it would
// leave the sink holding an entry of an action that never happened.
func (a *action) recordEach(tx store.Tx, targets []string) error {
	a.sent, a.acked = false, a.acked[:0]
	if a.e.noAudit || a.p == nil {
		return nil
	}
	mac, pseudonym, err := a.e.ring.AuditKeys(a.ctx, a.entry.TenantID, audit.KeyVersion)
	if err != nil {
		return fmt.Errorf("audit keys: %w", keyFailure(err))
	}
	a.build(pseudonym)
	a.entry.Outcome, a.entry.Reason = engram.OutcomeSuccess, ""
	a.recs = a.recs[:0]
	for _, id := range targets {
		if a.userID == "" {
			a.entry.TargetID = id
		}
		entry := a.entry
		r, err := audit.Append(a.ctx, tx, mac, &entry)
		if err != nil {
			return err
		}
		a.recs = append(a.recs, r)
	}
	a.inTx = true
	if a.e.sinkInTx {
		for _, r := range a.recs {
			accepted, err := a.e.publishInTx(a.ctx, r)
			if err != nil {
				return err
			}
			if accepted {
				a.acked = append(a.acked, r)
			}
		}
		a.sent = true
	}
	return nil
}

// finish records the action's outcome unless its successful write already
// did: a read's success, and any failure or denial, in one small write
// transaction of its own. It returns what the caller should: err, or the
// audit failure when a successful read could not be recorded (nothing is
// read without its entry).
func (a *action) finish(err error) error {
	if a.e.noAudit {
		return err
	}
	if err == nil && a.inTx {
		if !a.sent {
			for _, r := range a.recs {
				a.e.publish(a.ctx, r)
			}
		}
		// Noted only now that they committed: a rolled-back entry's seq
		// is reused by the chain's next entry, which the sink may lack.
		for _, r := range a.acked {
			a.e.pub.noted(r.Entry.TenantID, r.Entry.Seq)
		}
		return nil
	}
	if a.p == nil {
		// Nobody authenticated: the transport let an anonymous call
		// through, which the authentication step already refused and
		// recorded.
		return err
	}
	a.entry.Outcome, a.entry.Reason = outcomeOf(err)
	// Not cancelled with the request: an action that ran out of time is
	// recorded like any other failure.
	if aerr := a.e.appendOwn(context.WithoutCancel(a.ctx), &a.entry, a.build); aerr != nil {
		if err == nil {
			return aerr
		}
		// The client sees the action's error (its code comes first);
		// operators see both.
		return errors.Join(err, aerr)
	}
	return err
}

// outcomeOf classifies an action's error for its entry.
func outcomeOf(err error) (engram.AuditOutcome, string) {
	switch code := engram.ErrorCode(err); code {
	case "":
		return engram.OutcomeSuccess, ""
	case engram.CodeForbidden:
		return engram.OutcomeDenied, code
	default:
		return engram.OutcomeFailure, code
	}
}

// appendOwn appends an entry in its own write transaction (shared with
// concurrent callers' entries: see auditBatch), then publishes it. build (may be nil) fills time and pseudonyms once the keys are known.
func (e *Engine) appendOwn(ctx context.Context, entry *engram.AuditEntry, build func(pseudonym []byte)) error {
	mac, pseudonym, err := e.ring.AuditKeys(ctx, entry.TenantID, audit.KeyVersion)
	if err != nil {
		return fmt.Errorf("audit keys: %w", keyFailure(err))
	}
	if build != nil {
		build(pseudonym)
	} else {
		entry.Time = e.clock()
	}
	r, err := e.batch.append(ctx, e.st, entry, mac)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	e.publish(ctx, r)
	return nil
}

// publish hands a committed entry to the sink, if there is one, and notes
// it for the back-fill when a destination accepted it (backfill.go).
func (e *Engine) publish(ctx context.Context, r *store.AuditRecord) {
	if e.sink == nil || r == nil {
		return
	}
	accepted, err := e.deliver(ctx, r)
	if accepted {
		e.pub.noted(r.Entry.TenantID, r.Entry.Seq)
	}
	if err != nil && e.sinkErr != nil {
		e.sinkErr(fmt.Errorf("audit sink: tenant %q seq %d: %w", r.Entry.TenantID, r.Entry.Seq, err))
	}
}

// publishInTx hands an entry of a mutating action to the sink from inside
// its transaction (fail-closed mode). An error refuses the action: the
// caller returns it and the transaction rolls back. accepted says whether
// a destination took the entry (the caller notes it once committed).
func (e *Engine) publishInTx(ctx context.Context, r *store.AuditRecord) (accepted bool, err error) {
	if e.sink == nil || r == nil {
		return false, nil
	}
	accepted, err = e.deliver(ctx, r)
	if err != nil {
		if e.sinkErr != nil {
			e.sinkErr(fmt.Errorf("audit sink refused tenant %q seq %d; action rolled back: %w", r.Entry.TenantID, r.Entry.Seq, err))
		}
		return false, errSinksRefused()
	}
	return accepted, nil
}

// operator records an operator command (CLI, offline): no principal, the
// origin says "cli".
func (e *Engine) operator(ctx context.Context, tenantID string, act engram.AuditAction, targetType, targetID string, err error) error {
	if e.noAudit {
		return err
	}
	o := engram.OriginFrom(ctx)
	if o.Transport == "" {
		o.Transport = "cli"
	}
	entry := &engram.AuditEntry{TenantID: tenantID, Action: act, TargetType: targetType, TargetID: targetID,
		IP: o.IP, RequestID: o.RequestID, Transport: o.Transport}
	entry.Outcome, entry.Reason = outcomeOf(err)
	if aerr := e.appendOwn(ctx, entry, nil); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// ListAudit returns a page of the principal's tenant's trail, newest first.
// The read is itself recorded, after the page is read, so a page never
// shows its own read.
func (e *Engine) ListAudit(ctx context.Context, q engram.AuditQuery) (page *engram.AuditPage, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit, engram.DefaultAuditLimit, engram.MaxAuditLimit)
	if err != nil {
		return nil, err
	}
	f := store.AuditFilter{Action: string(q.Action), TargetType: q.TargetType, Outcome: string(q.Outcome), Since: q.Since, Until: q.Until, Limit: limit + 1}
	for _, s := range []struct{ name, v string }{{"actor", q.Actor}, {"target_type", q.TargetType}, {"target_id", q.TargetID}, {"action", string(q.Action)}} {
		if len(s.v) > 256 {
			return nil, invalid("%s is longer than 256 bytes", s.name)
		}
	}
	for _, t := range []struct {
		name string
		v    *time.Time
	}{{"since", q.Since}, {"until", q.Until}} {
		if t.v != nil {
			if err := checkTime(t.name, *t.v); err != nil {
				return nil, err
			}
		}
	}
	switch q.Outcome {
	case "", engram.OutcomeSuccess, engram.OutcomeFailure, engram.OutcomeDenied:
	default:
		return nil, invalid("outcome must be success, failure or denied")
	}
	// Entries name accounts and users by pseudonym only: a raw id in a
	// filter is pseudonymised the way the entries were.
	f.TargetID = q.TargetID
	if q.Actor != "" || (q.TargetID != "" && q.TargetType == engram.TargetUser) {
		_, pseudonym, err := e.ring.AuditKeys(ctx, p.TenantID, audit.KeyVersion)
		if err != nil {
			return nil, keyFailure(err)
		}
		f.Actor = pseudonymOf(pseudonym, "account", q.Actor)
		if q.TargetType == engram.TargetUser {
			// Entries name users by the pseudonym of their NFC id.
			f.TargetID = pseudonymOf(pseudonym, "user", norm.NFC.String(q.TargetID))
		}
	}
	if q.Cursor != "" {
		if f.Before, err = seqCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	var rows []store.AuditRecord
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.ListAudit(ctx, p.TenantID, f)
		return err
	}); err != nil {
		return nil, err
	}
	page = &engram.AuditPage{Entries: make([]engram.AuditRecord, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(rows[limit-1].Entry.Seq, 10)))
	}
	for _, r := range rows {
		r.Entry.Time = r.Entry.Time.UTC().Truncate(time.Microsecond)
		page.Entries = append(page.Entries, engram.AuditRecord{AuditEntry: r.Entry, KeyVersion: r.KeyVersion, MAC: hex.EncodeToString(r.MAC)})
	}
	return page, nil
}

// pseudonymOf maps a filter value to the pseudonym entries hold: a value
// that already is one is kept.
func pseudonymOf(key []byte, kind, v string) string {
	if v == "" || audit.IsPseudonym(v) {
		return v
	}
	return audit.Pseudonym(key, kind, v)
}

// VerifyAudit checks the chain of the named tenant ("" names the system
// chain); with all set it checks every chain in the store. Operator
// command, offline.
func (e *Engine) VerifyAudit(ctx context.Context, tenant string, all bool, cps ...audit.Checkpoint) ([]*audit.Report, error) {
	v := &audit.Verifier{Store: e.st, Keys: e.ring, Checkpoints: cps}
	var ids []string
	if all {
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			ids, err = tx.AuditChains(ctx)
			return err
		}); err != nil {
			return nil, err
		}
	} else if tenant == "" {
		ids = []string{""}
	} else {
		t, err := e.TenantByName(ctx, tenant)
		if err != nil {
			return nil, err
		}
		ids = []string{t.ID}
	}
	var out []*audit.Report
	for _, id := range ids {
		r, err := v.Verify(ctx, id)
		if err != nil {
			return out, fmt.Errorf("verify chain %q: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// RecordNode appends an operator's action on the node as a whole (a
// backup taken, a restore installed) to the system chain. reason marks a
// success that needs a reviewer's attention (a rollback installed); it is
// a short stable code, never free text.
func (e *Engine) RecordNode(ctx context.Context, act engram.AuditAction, targetID, reason string) error {
	o := engram.OriginFrom(ctx)
	if o.Transport == "" {
		o.Transport = "cli"
	}
	return e.appendOwn(ctx, &engram.AuditEntry{Action: act, TargetType: engram.TargetNode, TargetID: targetID,
		Outcome: engram.OutcomeSuccess, Reason: reason, IP: o.IP, RequestID: o.RequestID, Transport: o.Transport}, nil)
}
