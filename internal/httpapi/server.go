// Package httpapi is Engram's REST transport: it authenticates, decodes,
// calls the engine and encodes. It holds no business rules. The OpenAPI 3.1
// document is generated from the Go types (huma) and served at
// /v1/openapi.json; request bodies are validated against it.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/mem0api"
)

// healthDatabaseTimeout bounds /healthz's database check: a database that
// does not answer within it is unavailable.
const healthDatabaseTimeout = 2 * time.Second

// Config is what the REST API serves.
type Config struct {
	Memories engram.MemoryService
	Keys     engram.KeyService
	Privacy  engram.PrivacyService
	// Audit serves GET /v1/audit; nil leaves the route out.
	Audit engram.AuditService
	// AuditProofs serves checkpoints, proofs, segments and legal holds
	// under /v1/audit/; nil leaves them out.
	AuditProofs engram.AuditProofService
	// Export serves /v1/export, /v1/users/{id}/export, /v1/me/export and
	// /v1/export/keys; nil leaves them out.
	Export engram.ExportService
	// Import serves POST /v1/import; nil leaves it out. ImportMaxBytes
	// caps its body (0: importer.DefaultMaxBytes); ImportDir is where the
	// body is spooled while it is imported ("": the system's temporary
	// directory).
	Import         engram.ImportService
	ImportMaxBytes int64
	ImportDir      string
	Auth           engram.Authenticator
	Logger         *slog.Logger
	Version        string
	// Health reports extra fields for /healthz (e.g. the crypto profile).
	Health map[string]string
	// Storage, when set, reports the free space of the data directory for
	// /healthz: "ok", "unknown", or "low" (below the free-space floor:
	// content writes answer 507, and the status is "degraded", still 200).
	Storage func() string
	// Database, when set, reports whether the database answers, for
	// /healthz: a store on a server (PostgreSQL) can be unreachable while
	// the process runs. An error makes the status "unavailable" with 503,
	// so a load balancer stops sending requests to this node; the error
	// itself is not shown.
	Database func(ctx context.Context) error
	// Metrics, when set, is served at GET /metrics (Prometheus text format)
	// and receives the API's request metrics. Counts only, no content.
	Metrics *prometheus.Registry
	// MCP, when set, is served at /mcp (streamable HTTP) behind the same
	// API-key check as /v1, with RFC 9728 metadata for its clients.
	MCP http.Handler
	// Scopes serves the mem0-compatible entity and delete-all endpoints
	// (see internal/mem0api); nil answers them 501.
	Scopes engram.ScopeService
	// PublicURL, when set (see ParsePublicURL), is the origin the RFC 9728
	// metadata and 401 challenges name, instead of the request's Host.
	PublicURL string
	// RequestTimeout, when positive, is every request's context deadline
	// (deadline.go); the http.Server's WriteTimeout must exceed it.
	RequestTimeout time.Duration
	// Limits are the request rate limits (ratelimit.go); the zero value
	// limits nothing.
	Limits Limits
	// MaxInflight, when positive, is how many requests may be in flight
	// at once; past it a request is answered 503 overloaded with
	// Retry-After at once (shed.go). 0 sheds nothing.
	MaxInflight int

	// Observe serves /v1/observe, /v1/episodes, /v1/entities, /v1/facts,
	// /v1/topics and /v1/patterns; nil leaves them out.
	Observe engram.ObserveService
	// Graph serves the MCP memory server's operations under /v1/graph/;
	// nil leaves them out.
	Graph engram.GraphService
	// OAuth, when set with MCP, serves the OAuth authorization server MCP
	// hosts sign in through (/oauth/*, RFC 8414 metadata), and the
	// protected-resource metadata names it.
	OAuth OAuthServer
	// Identity serves sign-in (/v1/auth/…), invitations, members and
	// /v1/me; nil leaves them out.
	Identity engram.IdentityService

	// SSO serves PUT/GET/DELETE /v1/sso; SSOSignIn the sign-in routes
	// under /v1/sso/{tenant}/ (sso.go). nil leaves them out.
	SSO       engram.SSOService
	SSOSignIn engram.SSOSignIn

	// Deletion serves DELETE /v1/me, DELETE /v1/users/{id}?grace=, the
	// cancel routes and GET /v1/deletions; nil leaves them out (and
	// answers ?grace= 501).
	Deletion engram.DeletionService

	// Console, when set, is served at /console/ and at the mailed links'
	// paths /accept, /reset and /verify (internal/console); it sets its
	// own security headers.
	Console http.Handler
}

// New returns the HTTP handler of the whole API.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	NewAPI(mux, cfg)
	mountSSO(mux, cfg.SSOSignIn)
	if cfg.MCP != nil {
		mountMCP(mux, cfg.MCP, cfg.OAuth != nil)
		if cfg.OAuth != nil {
			mountOAuth(mux, cfg.OAuth)
		}
	}
	mem0api.Mount(mux, mem0api.Config{Memories: cfg.Memories, Scopes: cfg.Scopes, Problem: func(w http.ResponseWriter, r *http.Request, err error) {
		writeProblem(w, r, problemOf(r.Context(), err))
	}})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]string{"status": "ok"}
		for k, v := range cfg.Health {
			body[k] = v
		}
		if cfg.Storage != nil {
			body["storage"] = cfg.Storage()
			if body["storage"] == "low" {
				body["status"] = "degraded"
			}
		}
		code := http.StatusOK
		if cfg.Database != nil {
			ctx, cancel := context.WithTimeout(r.Context(), healthDatabaseTimeout)
			defer cancel()
			body["database"] = "ok"
			if err := cfg.Database(ctx); err != nil {
				body["database"], body["status"], code = "unavailable", "unavailable", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	if cfg.Console != nil {
		mux.Handle("/console/", cfg.Console)
		// A browser signed in by SSO is sent to "/": the console.
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
		for _, p := range []string{"/accept", "/reset", "/verify"} {
			mux.Handle("GET "+p, cfg.Console)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem(http.StatusNotFound, engram.CodeNotFound, "no such endpoint"))
	})
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var hist *prometheus.HistogramVec
	if cfg.Metrics != nil {
		hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "engram_http_request_duration_seconds",
			Help:    "HTTP requests by route pattern and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "status"})
		cfg.Metrics.MustRegister(hist)
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	lim := newLimiters(cfg.Limits, cfg.Metrics)
	shed := newShedder(cfg.MaxInflight, cfg.Metrics)
	h := observe(log.With("component", "http"), hist, shed.wrap(lim.sources(withDeadline(cfg.RequestTimeout, limitBody(cfg.ImportMaxBytes, jsonBodies(authenticate(cfg.Auth, lim.keys(utf8Bodies(routed(mux))))))))))
	if cfg.PublicURL != "" {
		h = withPublicURL(cfg.PublicURL, h)
	}
	return h
}

// NewAPI registers every /v1 operation on mux and returns the huma API
// (used directly to produce the OpenAPI document).
func NewAPI(mux *http.ServeMux, cfg Config) huma.API {
	hc := huma.DefaultConfig("Engram API", cfg.Version)
	hc.Info.Description = "Secure memory for AI agents. Authenticate with `Authorization: Bearer egm_…`."
	hc.OpenAPIPath = "/v1/openapi"
	hc.SchemasPath = "/v1/schemas"
	hc.DocsPath = "" // the stock docs page loads scripts from a CDN
	// No $schema links in bodies: responses keep the documented shape.
	hc.CreateHooks = nil
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "egm_<id>_<secret>"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	// A relative server: generated clients resolve paths against the origin
	// the document was fetched from, whatever name the server is reached by.
	hc.Servers = []*huma.Server{{URL: "/", Description: "The server this document was fetched from."}}
	api := humago.New(mux, hc)
	registerMemories(api, cfg.Memories, cfg.Observe)
	registerKeys(api, cfg.Keys)
	registerPrivacy(api, cfg.Privacy, cfg.Deletion)
	registerDeletion(api, cfg.Deletion)
	registerAudit(api, cfg.Audit)
	registerAuditProofs(api, cfg.AuditProofs)
	registerExport(api, cfg.Export)
	registerImport(api, cfg.Import, cfg.ImportMaxBytes, cfg.ImportDir)
	registerObserve(api, cfg.Observe)
	registerGraph(api, cfg.Graph)
	registerIdentity(api, cfg.Identity)
	registerSSO(api, cfg.SSO)
	declareInvalidAs400(api.OpenAPI())
	return api
}

// op fills the parts every operation shares.
func op(id, method, path, summary string, status int, tags ...string) huma.Operation {
	return huma.Operation{
		OperationID:   id,
		Method:        method,
		Path:          path,
		Summary:       summary,
		DefaultStatus: status,
		Tags:          tags,
		MaxBodyBytes:  engram.MaxBodyBytes,
		Errors:        commonErrors(),
	}
}
