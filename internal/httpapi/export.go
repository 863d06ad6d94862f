package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type exportInput struct {
	Format string `query:"format" enum:"json,jsonld,pam" doc:"json (default): Engram's own format; jsonld: JSON-LD (schema.org, PROV-O); pam: Portable AI Memory v1.0. All three are checksummed and signed (docs/LIFECYCLE.md, \"Export\")."`
}

type userExportInput struct {
	UserID string `path:"user_id" maxLength:"256" doc:"The end user whose data to export."`
	exportInput
}

// registerExport serves the signed exports. Everything that can refuse
// (authorisation, the format, the user id) is decided before the first
// byte, so refusals are problem answers; once streaming, a failure can
// only truncate the document, and a truncated document fails
// `engram export verify`.
func registerExport(api huma.API, svc engram.ExportService) {
	if svc == nil {
		return
	}
	const format = " The document (format=json: engram-export version 1; jsonld: the same records as JSON-LD nodes under a schema.org and PROV-O @context; pam: a Portable AI Memory v1.0 memory store, every record a PAM memory; docs/LIFECYCLE.md, \"Export\") is streamed as it is read and ends with a SHA-256 checksum (pam: RFC 8785 canonical, as the PAM spec says) and the tenant's Ed25519 signature; check it offline with `engram export verify FILE --public-key KEY`. Audited (memory.export: who, which scope, how many records)."
	o := op("exportTenant", http.MethodGet, "/v1/export", "Export the whole tenant (owners)", http.StatusOK, "export")
	o.Description = "Every memory (private ones too) with its history, every episode, entity, fact (with its validity) and topic count. Needs the tenant:admin scope." + format
	registerStream(api, o, func(ctx context.Context, in *exportInput) (engram.ExportStream, error) {
		return svc.ExportTenant(ctx, in.Format)
	})

	o = op("exportUser", http.MethodGet, "/v1/users/{user_id}/export", "Export one end user's data", http.StatusOK, "export")
	o.Description = "The user's memories with history, episodes, entities, facts and topics (right of access). Needs the users:forget scope (owners and admins: whoever may erase the user)." + format
	registerStream(api, o, func(ctx context.Context, in *userExportInput) (engram.ExportStream, error) {
		return svc.ExportUser(ctx, in.UserID, in.Format)
	})

	o = op("exportMine", http.MethodGet, "/v1/me/export", "Export the memories you authored", http.StatusOK, "export")
	o.Description = "The memories the signed-in account wrote, private and shared, with their history. Needs a session (not an API key)." + format
	registerStream(api, o, func(ctx context.Context, in *exportInput) (engram.ExportStream, error) {
		return svc.ExportMine(ctx, in.Format)
	})

	o = op("getExportKey", http.MethodGet, "/v1/export/keys", "The public key that signs this tenant's exports", http.StatusOK, "export")
	o.Description = "Derived from the tenant's key hierarchy: the same on every node, never stored. Pin it, then verify exports offline with `engram export verify FILE --public-key KEY`."
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.ExportKey }, error) {
		k, err := svc.ExportKey(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.ExportKey }{Body: k}, nil
	})
}

// registerStream registers an export endpoint: call prepares (and may
// refuse) the export, then the stream writes it as the response body.
func registerStream[I any](api huma.API, o huma.Operation, call func(context.Context, *I) (engram.ExportStream, error)) {
	o.Responses = map[string]*huma.Response{"200": {Description: "The export document.", Content: map[string]*huma.MediaType{"application/json": {}}}}
	huma.Register(api, o, func(ctx context.Context, in *I) (*huma.StreamResponse, error) {
		s, err := call(ctx, in)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "application/json")
			hctx.SetHeader("Cache-Control", "no-store")
			hctx.SetStatus(http.StatusOK)
			_ = s(hctx.BodyWriter()) // audited by the engine; the client sees a truncated document
		}}, nil
	})
}
