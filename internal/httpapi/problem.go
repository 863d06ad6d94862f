package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// Problem is an RFC 9457 problem detail with Engram's stable code.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Code      string              `json:"code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty"`
	// headers go with the problem (Retry-After, Set-Cookie).
	headers http.Header
}

// GetHeaders makes Problem a huma.HeadersError.
func (p *Problem) GetHeaders() http.Header { return p.headers }

func (p *Problem) setHeader(name string, values ...string) {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Del(name)
	for _, v := range values {
		p.headers.Add(name, v)
	}
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus makes Problem a huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	engram.CodeInvalid:         http.StatusBadRequest,
	engram.CodeUnauthenticated: http.StatusUnauthorized,
	engram.CodeForbidden:       http.StatusForbidden,
	engram.CodeSSORequired:     http.StatusForbidden, // password sign-in in an SSO-only organisation
	engram.CodeNotFound:        http.StatusNotFound,
	engram.CodeUnreadable:      http.StatusNotFound, // a record whose key was destroyed
	engram.CodeConflict:        http.StatusConflict,
	engram.CodeHeld:            http.StatusConflict, // erasure refused by a legal hold
	engram.CodeDeletionPending: http.StatusConflict, // a write for a subject whose deletion is scheduled
	engram.CodeSoleOwner:       http.StatusConflict, // an only owner asked to be deleted
	engram.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	engram.CodeRateLimited:     http.StatusTooManyRequests,
	engram.CodeUnavailable:     http.StatusServiceUnavailable,
	engram.CodeOverloaded:      http.StatusServiceUnavailable, // shed: too many requests in flight (shed.go)
	engram.CodeInternal:        http.StatusInternalServerError,
	engram.CodeNotImplemented:  http.StatusNotImplemented,
	engram.CodeImportTampered:  http.StatusBadRequest, // a document whose checksum or signature fails

	// Below the free-space floor or out of disk (diskspace, store.ErrFull).
	engram.CodeInsufficientStorage: http.StatusInsufficientStorage,
}

// codeOf maps statuses that huma or net/http produce on their own.
func codeOf(status int) string {
	if status == http.StatusConflict {
		return engram.CodeConflict // not CodeHeld, which shares the status
	}
	if status == http.StatusNotFound {
		return engram.CodeNotFound // not CodeUnreadable, which shares the status
	}
	if status == http.StatusForbidden {
		return engram.CodeForbidden // not CodeSSORequired, which shares the status
	}
	if status == http.StatusBadRequest {
		return engram.CodeInvalid // not CodeImportTampered, which shares the status
	}
	if status == http.StatusServiceUnavailable {
		return engram.CodeUnavailable // not CodeOverloaded, which shares the status
	}
	for code, s := range statusOf {
		if s == status {
			return code
		}
	}
	switch status {
	case http.StatusUnprocessableEntity, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusNotAcceptable:
		return engram.CodeInvalid
	case http.StatusRequestTimeout:
		return engram.CodeUnavailable
	}
	return engram.CodeInternal
}

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:engram:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// problemOf turns any error into the problem a client sees. Internal errors
// reach the client only as "internal error" plus the request id; the cause
// is logged by the access log, not sent.
func problemOf(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	err = timedOut(err)
	code := engram.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status, code = http.StatusInternalServerError, engram.CodeInternal
	}
	p = newProblem(status, code, engram.ErrorMessage(err))
	p.RequestID = requestID(ctx)
	var later *engram.RetryLater
	if errors.As(err, &later) {
		p.setHeader("Retry-After", strconv.Itoa(max(1, int((later.After+time.Second-1)/time.Second))))
	}
	if code == engram.CodeInternal {
		noteError(ctx, err)
	}
	return p
}

func init() {
	// huma builds its own errors (validation, body size, malformed JSON)
	// through this package-level hook; it is set once here so that every
	// error leaving the API has the same problem+json shape and code.
	// Statuses 422 become 400: every "invalid" is a 400 to our clients.
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		if status == http.StatusInternalServerError && cutShort(errs) {
			// The client's body ended early or its connection broke: its
			// fault, and never the server's internal error (body.go).
			status, msg, errs = http.StatusBadRequest, "the request body ended before its declared length or could not be read", nil
		}
		code := codeOf(status)
		p := newProblem(status, code, msg)
		if hctx != nil {
			p.RequestID = requestID(hctx.Context())
		}
		if code == engram.CodeInternal {
			// Never echo an internal error's text.
			p.Detail = "internal error"
			if hctx != nil {
				for _, e := range errs {
					noteError(hctx.Context(), e)
				}
			}
			return p
		}
		for _, e := range errs {
			var d huma.ErrorDetailer
			if errors.As(e, &d) {
				detail := *d.ErrorDetail()
				// Never echo the offending value: it may be memory text.
				detail.Value = nil
				p.Errors = append(p.Errors, &detail)
			} else if e != nil {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: e.Error()})
			}
		}
		return p
	}
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return huma.NewErrorWithContext(nil, status, msg, errs...)
	}
}

// writeProblem writes a problem outside huma (middleware, unknown routes).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.RequestID == "" {
		p.RequestID = requestID(r.Context())
	}
	w.Header().Set("Content-Type", "application/problem+json")
	for k, vs := range p.headers {
		w.Header()[k] = vs
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge(r))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
