package engine

import (
	"context"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

// VerifyTenantAudit is GET /v1/audit/verify: `engram audit verify` for
// the caller's own chain, authorised as audit:read (owners and admins)
// and recorded like every audit read. A damaged chain is an answer
// (Intact false, the first problem), not an error.
func (e *Engine) VerifyTenantAudit(ctx context.Context) (out *engram.AuditVerification, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "verify")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	reports, err := e.verifyChains(ctx, []string{p.TenantID})
	if err != nil {
		return nil, err
	}
	r := reports[0]
	out = &engram.AuditVerification{Intact: r.Problem == nil, Entries: r.Entries, LastSeq: r.LastSeq}
	if q := r.Problem; q != nil {
		out.Problem = &engram.AuditChainProblem{Seq: q.Seq, Kind: q.Kind, Detail: q.Detail}
	}
	return out, nil
}
