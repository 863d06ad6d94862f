package sqlstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

const auditColumns = `tenant_id, seq, at, actor, key_id, action, target_type, target_id, outcome, reason, ip, request_id, transport, key_version, mac, count, detail`

func (t *Tx) AppendAudit(ctx context.Context, r *store.AuditRecord, h *store.AuditHead) error {
	defer t.scope(h.TenantID)()
	e := &r.Entry
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_entries (`+auditColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.TenantID, int64(e.Seq), t.at(e.Time), e.Actor, e.KeyID, string(e.Action), e.TargetType, e.TargetID,
		string(e.Outcome), e.Reason, e.IP, e.RequestID, e.Transport, r.KeyVersion, r.MAC, int64(e.Count), detailOf(e.Detail))
	if err != nil {
		return t.wrapErr("append audit entry", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, mac, key_version, head_mac) VALUES (?,?,?,?,?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, key_version = excluded.key_version, head_mac = excluded.head_mac`,
		h.TenantID, int64(h.Seq), h.MAC, h.KeyVersion, h.HeadMAC)
	return t.nilOr("set audit head", err)
}

func (t *Tx) AuditHead(ctx context.Context, tenantID string) (*store.AuditHead, error) {
	defer t.scope(tenantID)()
	h := &store.AuditHead{}
	var seq int64
	err := t.tx.QueryRowContext(ctx, `SELECT tenant_id, seq, mac, key_version, head_mac FROM audit_heads WHERE tenant_id = ?`, tenantID).
		Scan(&h.TenantID, &seq, &h.MAC, &h.KeyVersion, &h.HeadMAC)
	if err != nil {
		return nil, t.wrapErr("audit head", err)
	}
	h.Seq = uint64(seq)
	return h, nil
}

func (t *Tx) ListAudit(ctx context.Context, tenantID string, f store.AuditFilter) ([]store.AuditRecord, error) {
	defer t.scope(tenantID)()
	var where strings.Builder
	where.WriteString(`tenant_id = ?`)
	args := []any{tenantID}
	for _, c := range []struct{ col, v string }{
		{"actor", f.Actor}, {"action", f.Action}, {"target_type", f.TargetType}, {"target_id", f.TargetID}, {"outcome", f.Outcome},
	} {
		if c.v != "" {
			where.WriteString(` AND ` + c.col + ` = ?`)
			args = append(args, c.v)
		}
	}
	if f.Since != nil {
		where.WriteString(` AND at >= ?`)
		args = append(args, t.at(*f.Since))
	}
	if f.Until != nil {
		where.WriteString(` AND at < ?`)
		args = append(args, t.at(*f.Until))
	}
	if f.Before > 0 {
		where.WriteString(` AND seq < ?`)
		args = append(args, int64(f.Before))
	}
	args = append(args, max(f.Limit, 1))
	return t.queryAudit(ctx, "list audit", `SELECT `+auditColumns+` FROM audit_entries WHERE `+where.String()+` ORDER BY seq DESC LIMIT ?`, args...)
}

func (t *Tx) AuditRange(ctx context.Context, tenantID string, after uint64, limit int) ([]store.AuditRecord, error) {
	defer t.scope(tenantID)()
	return t.queryAudit(ctx, "audit range", `SELECT `+auditColumns+` FROM audit_entries WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		tenantID, int64(after), max(limit, 1))
}

func (t *Tx) AuditChains(ctx context.Context) ([]string, error) {
	defer t.scopeAll()()
	return queryRows(ctx, t, "audit chains", scanString,
		`SELECT DISTINCT tenant_id FROM audit_entries UNION SELECT tenant_id FROM audit_heads ORDER BY 1`)
}

func (t *Tx) AuditWatermarks(ctx context.Context) ([]store.AuditWatermark, error) {
	defer t.scopeAll()()
	return queryRows(ctx, t, "audit watermarks", func(s scanner) (*store.AuditWatermark, error) {
		var w store.AuditWatermark
		var head, published int64
		err := s.Scan(&w.TenantID, &head, &published)
		w.Head, w.Published = uint64(head), uint64(published)
		return &w, err
	}, `SELECT h.tenant_id, h.seq, COALESCE(p.seq, 0) FROM audit_heads h
		LEFT JOIN audit_published p ON p.tenant_id = h.tenant_id ORDER BY h.tenant_id`)
}

func (t *Tx) SetAuditPublished(ctx context.Context, tenantID string, seq uint64) error {
	defer t.scope(tenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_published AS p (tenant_id, seq) VALUES (?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = `+t.d.Greatest+`(p.seq, excluded.seq)`, tenantID, int64(seq))
	return t.nilOr("set audit watermark", err)
}

func (t *Tx) queryAudit(ctx context.Context, op, q string, args ...any) ([]store.AuditRecord, error) {
	return queryRows(ctx, t, op, scanAuditRecord, q, args...)
}

func scanAuditRecord(row scanner) (*store.AuditRecord, error) {
	var r store.AuditRecord
	e := &r.Entry
	var seq, count int64
	var at stamp
	var action, outcome, detail string
	if err := row.Scan(&e.TenantID, &seq, &at, &e.Actor, &e.KeyID, &action, &e.TargetType, &e.TargetID,
		&outcome, &e.Reason, &e.IP, &e.RequestID, &e.Transport, &r.KeyVersion, &r.MAC, &count, &detail); err != nil {
		return nil, err
	}
	if detail != "" {
		e.Detail = &engram.AuditDetail{}
		if err := json.Unmarshal([]byte(detail), e.Detail); err != nil {
			return nil, err
		}
	}
	e.Seq, e.Time, e.Count = uint64(seq), at.t, uint64(count)
	e.Action, e.Outcome = engram.AuditAction(action), engram.AuditOutcome(outcome)
	return &r, nil
}

// nilOr wraps err like wrapErr but keeps nil nil.
func (t *Tx) nilOr(op string, err error) error {
	if err == nil {
		return nil
	}
	return t.wrapErr(op, err)
}

// detailOf is the detail column: a deletion's compliance record as JSON,
// ” for every other entry. Times keep the microseconds the MAC covers.
func detailOf(d *engram.AuditDetail) string {
	if d == nil {
		return ""
	}
	c := *d
	c.RequestedAt, c.ScheduledFor = c.RequestedAt.UTC().Truncate(time.Microsecond), c.ScheduledFor.UTC().Truncate(time.Microsecond)
	b, err := json.Marshal(c)
	if err != nil {
		panic("audit detail: " + err.Error()) // counts and times always encode
	}
	return string(b)
}
