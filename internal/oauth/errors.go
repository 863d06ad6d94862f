package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2 and RFC 8707
// §2. They are the whole vocabulary a client branches on.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrInvalidTarget           = "invalid_target"
	ErrInvalidRedirectURI      = "invalid_redirect_uri"
	ErrInvalidClientMetadata   = "invalid_client_metadata"
)

// Error is a refusal a client sees: an RFC 6749 error code and a short
// description that never quotes a secret (code, verifier, token) and
// never says which of several checks on a grant failed.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status of a JSON answer: 400, or 401 for
	// invalid_client (RFC 6749 §5.2).
	Status int `json:"-"`
}

func (e *Error) Error() string { return "oauth: " + e.Code + ": " + e.Description }

func fail(code, desc string) *Error {
	st := http.StatusBadRequest
	if code == ErrInvalidClient {
		st = http.StatusUnauthorized
	}
	return &Error{Code: code, Description: desc, Status: st}
}

// ErrCodeReused is what Redeem returns for an authorization code that was
// already exchanged: the caller refuses (invalid_grant) and revokes the
// tokens the first exchange issued (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
var ErrCodeReused = &Error{Code: ErrInvalidGrant, Description: "the authorization code is invalid, expired or was already used", Status: http.StatusBadRequest}

// errGrant is the one answer for every other failed grant check (unknown,
// expired, another client's, another redirect URI, wrong verifier): a
// client learns nothing about which one.
var errGrant = &Error{Code: ErrInvalidGrant, Description: "the authorization code is invalid, expired or was already used", Status: http.StatusBadRequest}

// ErrGrant returns the invalid_grant refusal every failed code or refresh
// token check answers.
func ErrGrant() *Error { return errGrant }

// As returns err as an *Error when it is one.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// WriteJSON writes e as the JSON error body of RFC 6749 §5.2 (token and
// registration endpoints), with the no-store headers §5.1 asks for. An
// error that is not an *Error is a server_error (500) that says nothing
// of its cause.
func WriteJSON(w http.ResponseWriter, err error) {
	e, ok := As(err)
	if !ok {
		e = &Error{Code: ErrServerError, Description: "internal error", Status: http.StatusInternalServerError}
	}
	if e.Status == 0 {
		e = fail(e.Code, e.Description)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Status == http.StatusUnauthorized {
		// RFC 6749 §5.2: a 401 names the authentication scheme. Public
		// clients have none; this says so.
		h.Set("WWW-Authenticate", `Bearer error="invalid_client"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// WriteOK writes v as a JSON success answer with the no-store headers.
func WriteOK(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
