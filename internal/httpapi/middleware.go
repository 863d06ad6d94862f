package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/importer"
	"github.com/engram-memory/engram/internal/session"
)

// reqInfo travels in the request context so that inner layers can tell
// the access log who called and what failed, without logging content.
type reqInfo struct {
	id string

	mu       sync.Mutex
	route    string
	tenantID string
	keyID    string
	err      error
}

type reqInfoKey struct{}

func info(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

func requestID(ctx context.Context) string {
	if ri := info(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// noteError records an internal error for the access log.
func noteError(ctx context.Context, err error) {
	if ri := info(ctx); ri != nil && err != nil {
		ri.mu.Lock()
		ri.err = err
		ri.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streaming responses through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// validRequestID accepts a caller's X-Request-Id only when it is short and
// plain, so it cannot inject into logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// clientIP is the peer address of the connection. Forwarded headers are not
// trusted: any client can set them, and the audit trail must not record an
// address the client chose.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe assigns a request id, recovers panics and writes one access log
// line per request: method, route pattern, status, size, duration, tenant
// and key id. Never the query string, headers or body.
func observe(log *slog.Logger, hist *prometheus.HistogramVec, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: r.Header.Get("X-Request-Id")}
		if !validRequestID(ri.id) {
			ri.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", ri.id)
		ctx := context.WithValue(r.Context(), reqInfoKey{}, ri)
		ctx = engram.WithOrigin(ctx, engram.Origin{RequestID: ri.id, IP: clientIP(r), Transport: "rest"})
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "request_id", ri.id, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, r, newProblem(http.StatusInternalServerError, engram.CodeInternal, "internal error"))
				}
			}
			ri.mu.Lock()
			defer ri.mu.Unlock()
			attrs := []any{
				"request_id", ri.id, "method", r.Method, "route", ri.route, "status", sw.status,
				"bytes", sw.bytes, "duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			}
			if ri.tenantID != "" {
				attrs = append(attrs, "tenant_id", ri.tenantID, "key_id", ri.keyID)
			}
			level := slog.LevelInfo
			if ri.err != nil {
				// Internal errors are wrapped with context by the code that
				// returns them and never carry content.
				attrs = append(attrs, "error", ri.err.Error())
				level = slog.LevelError
			}
			log.Log(r.Context(), level, "request", attrs...)
			if hist != nil {
				hist.WithLabelValues(ri.route, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// authenticate resolves the bearer key of every /v1 and /mcp request except
// the public documents, and puts the principal in the context.
func authenticate(auth engram.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), originsKey{}, []string{baseURL(r)}))
		if publicPath(r.URL.Path) || publicPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		token, fromCookie := credentials(r)
		if token == "" && optionalAuthPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if token == "" {
			writeProblem(w, r, newProblem(http.StatusUnauthorized, engram.CodeUnauthenticated, "missing bearer API key"))
			return
		}
		if fromCookie {
			// A cookie rides along with any request the browser makes,
			// including one another site triggers: unsafe ones must come
			// from our own origin (CSRF).
			if err := session.CheckOrigin(session.Request{Method: r.Method, Header: r.Header, Cookie: true}, origins(r.Context())); err != nil {
				writeProblem(w, r, newProblem(http.StatusForbidden, engram.CodeForbidden, "cross-origin request refused"))
				return
			}
		}
		p, err := auth.Authenticate(r.Context(), token)
		if err != nil {
			writeProblem(w, r, problemOf(r.Context(), err))
			return
		}
		if p.Delegated && r.URL.Path != mcpPath {
			// An OAuth grant to an MCP host is bound to the /mcp resource
			// (RFC 8707): it is not a key for the rest of the API.
			writeProblem(w, r, newProblem(http.StatusUnauthorized, engram.CodeUnauthenticated, "this token was issued for /mcp only"))
			return
		}
		if ri := info(r.Context()); ri != nil {
			ri.mu.Lock()
			ri.tenantID, ri.keyID = p.TenantID, p.KeyID
			ri.mu.Unlock()
		}
		next.ServeHTTP(w, r.WithContext(engram.WithPrincipal(r.Context(), p)))
	})
}

// credentials finds the caller's token: "Authorization: Bearer" (an API
// key or an access token; mem0's clients send "Token KEY"), else the
// browser's access cookie.
func credentials(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
			return "", false
		}
		return strings.TrimSpace(tok), false
	}
	return session.AccessFrom(r.Header)
}

type originsKey struct{}

// origins are the origins a cookie-authenticated request may come from:
// the server's public URL (or, without one, the origin it was reached at).
func origins(ctx context.Context) []string {
	o, _ := ctx.Value(originsKey{}).([]string)
	return o
}

func publicPath(path string) bool {
	return path == "/healthz" || path == "/metrics" || path == "/v1/openapi.json" || path == "/v1/openapi.yaml" || ssoPublic(path) ||
		strings.HasPrefix(path, "/v1/schemas/") ||
		!(strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v3/") || path == mcpPath)
}

// limitBody caps every request body, whatever the route: an import's at
// importMax (0: importer.DefaultMaxBytes), every other at
// engram.MaxBodyBytes.
func limitBody(importMax int64, next http.Handler) http.Handler {
	if importMax <= 0 {
		importMax = importer.DefaultMaxBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(engram.MaxBodyBytes)
		if r.URL.Path == importPath {
			limit = importMax
		}
		r.Body = clientBody{http.MaxBytesReader(w, r.Body, limit+1)} // +1: huma reports the limit itself, as 413
		next.ServeHTTP(w, r)
	})
}

// routed records the matched route pattern (not the raw path) for the
// access log; ServeMux sets r.Pattern on the request it is given.
func routed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if ri := info(r.Context()); ri != nil {
			ri.mu.Lock()
			ri.route = r.Pattern
			ri.mu.Unlock()
		}
	})
}

// jsonBodies treats every /v1 request body as JSON, the only format the API
// speaks, so that `curl -d '{…}'` (which labels its body as a form) works.
func jsonBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		// The SAML ACS and the OAuth endpoints take forms (RFC 6749 §3.2).
		if r.ContentLength != 0 && !strings.Contains(ct, "json") && !ssoForm(r.URL.Path) && !strings.HasPrefix(r.URL.Path, "/oauth/") {
			r.Header.Set("Content-Type", "application/json")
		}
		next.ServeHTTP(w, r)
	})
}
