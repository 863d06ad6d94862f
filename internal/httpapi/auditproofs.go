package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type inclusionInput struct {
	Seq  uint64 `query:"seq" minimum:"1" required:"true" doc:"The entry's sequence number."`
	Size uint64 `query:"size" doc:"Tree size to prove against (default: the newest checkpoint's)."`
}

type consistencyInput struct {
	From uint64 `query:"from" minimum:"1" required:"true" doc:"The older tree size."`
	To   uint64 `query:"to" doc:"The newer tree size (default: the newest checkpoint's)."`
}

type segmentsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" doc:"Page size (default 100)."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page."`
}

type segmentInput struct {
	First uint64 `path:"first" minimum:"1" doc:"First seq of the segment."`
}

type holdInput struct {
	Body struct {
		ReasonCode string `json:"reason_code" minLength:"1" maxLength:"32" pattern:"^[a-z0-9][a-z0-9_.-]*$" doc:"A short code (e.g. litigation, regulator_request); never free text."`
		UserID     string `json:"user_id,omitempty" maxLength:"256" doc:"Hold one end user only (stored as its pseudonym)."`
	}
}

type holdIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func registerAuditProofs(api huma.API, svc engram.AuditProofService) {
	if svc == nil {
		return
	}
	const scope = " Needs audit:read (owners and admins); every call, and every refused one, is recorded."
	o := op("getAuditCheckpoint", http.MethodGet, "/v1/audit/checkpoint", "The checkpoint verifier key and the newest signed checkpoint", http.StatusOK, "audit")
	o.Description = "The verifier key is the deployment's Ed25519 signed-note key: pin it out of band. The checkpoint is a C2SP signed note over the tenant's RFC 6962 log tree." + scope
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.AuditCheckpointInfo }, error) {
		out, err := svc.AuditCheckpoint(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditCheckpointInfo }{Body: out}, nil
	})

	o = op("verifyAudit", http.MethodGet, "/v1/audit/verify", "Verify the tenant's audit chain", http.StatusOK, "audit")
	o.Description = "Checks the caller's chain as `engram audit verify` does: the HMAC chain, its stored head, the signed checkpoints and the log tree over every sealed segment. A damaged chain answers 200 with intact false and the first problem. The walk covers the whole trail, so its cost grows with it." + scope
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.AuditVerification }, error) {
		out, err := svc.VerifyTenantAudit(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditVerification }{Body: out}, nil
	})

	o = op("listAuditKeys", http.MethodGet, "/v1/audit/keys", "Every checkpoint verifier key, with the tenant's key hand-overs", http.StatusOK, "audit")
	o.Description = "Every version of the deployment's checkpoint signing key, oldest first; current marks the one that signs now. A checkpoint signed by any listed version is genuine. handover is the tenant's newest checkpoint at the rotation, naming the new key (engram-next-key line) and signed by the previous and the new key: a verifier that pinned the previous key learns the new one from it (docs/AUDIT-PROOFS.md)." + scope
	huma.Register(api, o,
		func(ctx context.Context, _ *struct{}) (*resultsBody[engram.AuditVerifierKey], error) {
			ks, err := svc.AuditKeys(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.AuditVerifierKey]{}
			out.Body.Results = ks
			return out, nil
		})
	o = op("getAuditInclusionProof", http.MethodGet, "/v1/audit/proofs/inclusion", "RFC 6962 inclusion proof of an entry", http.StatusOK, "audit")
	o.Description = "Proves the entry (canonical bytes, leaf seq-1) is in the sealed log tree of the given size. Cost O(log n)." + scope
	huma.Register(api, o, func(ctx context.Context, in *inclusionInput) (*struct{ Body *engram.AuditInclusionProof }, error) {
		out, err := svc.AuditInclusion(ctx, in.Seq, in.Size)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditInclusionProof }{Body: out}, nil
	})

	o = op("getAuditConsistencyProof", http.MethodGet, "/v1/audit/proofs/consistency", "RFC 6962 consistency proof between two tree sizes", http.StatusOK, "audit")
	o.Description = "Proves the log of size from is a prefix of the log of size to: no rewrite or truncation in between." + scope
	huma.Register(api, o, func(ctx context.Context, in *consistencyInput) (*struct{ Body *engram.AuditConsistencyProof }, error) {
		out, err := svc.AuditConsistency(ctx, in.From, in.To)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditConsistencyProof }{Body: out}, nil
	})

	o = op("listAuditSegments", http.MethodGet, "/v1/audit/segments", "List sealed audit segments, oldest first", http.StatusOK, "audit")
	o.Description = "Segments dropped by retention stay listed as tombstones (dropped_at set)." + scope
	huma.Register(api, o, func(ctx context.Context, in *segmentsInput) (*struct{ Body *engram.AuditSegmentPage }, error) {
		out, err := svc.AuditSegments(ctx, in.Cursor, in.Limit)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditSegmentPage }{Body: out}, nil
	})

	o = op("getAuditSegmentBundle", http.MethodGet, "/v1/audit/segments/{first}/bundle", "Export a sealed segment as an offline proof bundle", http.StatusOK, "audit")
	o.Description = "Format engram.audit.bundle/v1 (docs/AUDIT-PROOFS.md): the entries, the newest signed checkpoint, one inclusion proof per entry and a consistency proof from the segment's own checkpoint. Check it offline with `engram audit check-bundle FILE --key KEY`." + scope
	huma.Register(api, o, func(ctx context.Context, in *segmentInput) (*struct{ Body *engram.AuditBundle }, error) {
		out, err := svc.AuditSegmentBundle(ctx, in.First)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditBundle }{Body: out}, nil
	})

	o = op("createAuditHold", http.MethodPost, "/v1/audit/holds", "Place a legal hold", http.StatusCreated, "audit")
	o.Description = "While a hold exists the tenant's audit segments are never dropped by retention, and erasure in its scope (the tenant, or the one user) fails with 409 legal_hold. Creating and releasing holds is recorded." + scope
	o.Errors = append(o.Errors, http.StatusConflict)
	huma.Register(api, o, func(ctx context.Context, in *holdInput) (*struct{ Body *engram.AuditHold }, error) {
		out, err := svc.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: in.Body.ReasonCode, UserID: in.Body.UserID})
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.AuditHold }{Body: out}, nil
	})

	huma.Register(api, op("listAuditHolds", http.MethodGet, "/v1/audit/holds", "List legal holds", http.StatusOK, "audit"),
		func(ctx context.Context, _ *struct{}) (*resultsBody[engram.AuditHold], error) {
			hs, err := svc.ListAuditHolds(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.AuditHold]{}
			out.Body.Results = hs
			return out, nil
		})

	huma.Register(api, op("releaseAuditHold", http.MethodDelete, "/v1/audit/holds/{id}", "Release a legal hold", http.StatusNoContent, "audit"),
		func(ctx context.Context, in *holdIDInput) (*struct{}, error) {
			if err := svc.ReleaseAuditHold(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})
}
