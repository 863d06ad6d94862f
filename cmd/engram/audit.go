package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
)

type auditCmd struct {
	List        auditListCmd        `cmd:"" help:"Show the tenant's audit trail, newest first (needs the audit:read scope)."`
	Verify      auditVerifyCmd      `cmd:"" help:"Check the tamper-evident audit chains and signed checkpoints (offline, against --data)."`
	Key         auditKeyCmd         `cmd:"" help:"Print the checkpoint verifier (public) keys customers check bundles with; rotate the signing key (offline)."`
	Seal        auditSealCmd        `cmd:"" help:"Seal due audit segments now (offline; serve does it in the background)."`
	Prove       auditProveCmd       `cmd:"" help:"Export a sealed segment as a proof bundle (offline)."`
	CheckBundle auditCheckBundleCmd `cmd:"" name:"check-bundle" help:"Verify an exported bundle with nothing but the verifier key."`
	Retention   auditRetentionCmd   `cmd:"" help:"Set a tenant's audit retention in days (offline)."`
	Sweep       auditSweepCmd       `cmd:"" help:"Drop expired sealed audit segments now, leaving tombstones (offline)."`
}

type auditListCmd struct {
	Actor      string    `name:"actor" help:"Actor pseudonym or account id."`
	Action     string    `name:"action" help:"e.g. memory.create, auth.failure."`
	TargetType string    `name:"target-type" help:"memory, api_key, user, tenant, audit."`
	TargetID   string    `name:"target-id" help:"Target id (a user_id with --target-type user)."`
	Outcome    string    `name:"outcome" help:"success, failure or denied."`
	Since      time.Time `name:"since" help:"RFC 3339 time."`
	Until      time.Time `name:"until" help:"RFC 3339 time."`
	Limit      int       `name:"limit" help:"Page size (at most 100)."`
	Cursor     string    `name:"cursor" help:"next_cursor of the previous page."`
	clientFlags
}

func (c *auditListCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	q := engram.AuditQuery{Actor: c.Actor, Action: engram.AuditAction(c.Action), TargetType: c.TargetType, TargetID: c.TargetID,
		Outcome: engram.AuditOutcome(c.Outcome), Limit: c.Limit, Cursor: c.Cursor}
	if !c.Since.IsZero() {
		q.Since = &c.Since
	}
	if !c.Until.IsZero() {
		q.Until = &c.Until
	}
	page, err := cl.Audit(ctx, q)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, page)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTION\tOUTCOME\tTARGET\tACTOR\tKEY\tIP")
	for _, e := range page.Entries {
		target := e.TargetType
		if e.TargetID != "" {
			target += ":" + e.TargetID
		}
		outcome := string(e.Outcome)
		if e.Reason != "" {
			outcome += " (" + e.Reason + ")"
		}
		// A target id can be a user_id a client chose: escaped like memory text.
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Action, oneLine(outcome),
			oneLine(target), oneLine(e.Actor), oneLine(e.KeyID), oneLine(e.IP))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(s.err, "more: --cursor %s\n", page.NextCursor)
	}
	return nil
}

type auditVerifyCmd struct {
	Tenant     string `name:"tenant" help:"Verify only this tenant's chain (default: every chain, the system chain included)."`
	Checkpoint string `name:"checkpoint" type:"existingfile" help:"A signed checkpoint kept outside the database (GET /v1/audit/checkpoint): catches a rollback of the whole database."`
	dataFlags
}

// Run verifies offline; it may run while serve does (the store is shared
// safely), in which case entries appended meanwhile are verified too.
func (c *auditVerifyCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	names := map[string]string{"": "(system)"}
	ts, err := l.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	var kept []audit.Checkpoint
	if c.Checkpoint != "" {
		b, err := os.ReadFile(c.Checkpoint)
		if err != nil {
			return err
		}
		// Accept the note itself or the JSON of GET /v1/audit/checkpoint.
		var info engram.AuditCheckpointInfo
		if json.Unmarshal(b, &info) == nil && info.Checkpoint != "" {
			b = []byte(info.Checkpoint)
		}
		cp, _, err := l.KeptCheckpoint(ctx, b)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		kept = append(kept, cp)
	}
	reports, err := l.VerifyAuditTrail(ctx, c.Tenant, c.Tenant == "", kept...)
	if err != nil {
		return err
	}
	var entries uint64
	for _, r := range reports {
		if p := r.Problem; p != nil {
			return &exitError{code: 1, err: fmt.Errorf("audit chain of tenant %s (%s) is damaged at entry %d: %s: %s",
				names[r.TenantID], r.TenantID, p.Seq, p.Kind, p.Detail)}
		}
		entries += r.Entries
	}
	fmt.Fprintf(s.out, "audit: %d chain(s), %d entries: intact\n", len(reports), entries)
	return nil
}
