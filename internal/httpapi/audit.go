package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type auditInput struct {
	Actor      string    `query:"actor" maxLength:"256" doc:"An actor pseudonym as shown in entries, or an account id (pseudonymised before matching)."`
	Action     string    `query:"action" maxLength:"64" doc:"e.g. memory.create, auth.failure, audit.read."`
	TargetType string    `query:"target_type" maxLength:"32" enum:"memory,api_key,user,tenant,audit,"`
	TargetID   string    `query:"target_id" maxLength:"256" doc:"A target id; with target_type=user, a user_id or its pseudonym."`
	Outcome    string    `query:"outcome" enum:"success,failure,denied,"`
	Since      time.Time `query:"since" doc:"RFC 3339; entries at or after it."`
	Until      time.Time `query:"until" doc:"RFC 3339; entries before it."`
	Limit      int       `query:"limit" minimum:"1" maximum:"100" doc:"Page size (default 50)."`
	Cursor     string    `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page."`
}

type auditOutput struct {
	Body *engram.AuditPage
}

func registerAudit(api huma.API, svc engram.AuditService) {
	if svc == nil {
		return
	}
	o := op("listAudit", http.MethodGet, "/v1/audit", "Read the tenant's audit trail (audit:read)", http.StatusOK, "audit")
	o.Description = "Newest first. Entries hold metadata only: actor and end users as keyed pseudonyms, never content, queries or secrets. Needs the audit:read scope (owners and admins); every read, and every refused one, is itself recorded."
	huma.Register(api, o, func(ctx context.Context, in *auditInput) (*auditOutput, error) {
		q := engram.AuditQuery{Actor: in.Actor, Action: engram.AuditAction(in.Action), TargetType: in.TargetType, TargetID: in.TargetID,
			Outcome: engram.AuditOutcome(in.Outcome), Limit: in.Limit, Cursor: in.Cursor}
		if !in.Since.IsZero() {
			q.Since = &in.Since
		}
		if !in.Until.IsZero() {
			q.Until = &in.Until
		}
		page, err := svc.ListAudit(ctx, q)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &auditOutput{Body: page}, nil
	})
}
