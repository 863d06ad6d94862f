package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/throttle"
)

// OAuthServer is the engine's OAuth authorization server for MCP hosts
// (internal/oauth holds the rules; docs/IDENTITY.md the flow). Its
// refusals are *oauth.Error.
type OAuthServer interface {
	RegisterOAuthClient(ctx context.Context, reg oauth.Registration) (*oauth.Client, error)
	OAuthAuthorization(ctx context.Context, q url.Values, resource string) (*oauth.AuthRequest, *oauth.AuthError, error)
	ApproveOAuth(ctx context.Context, q url.Values, issuer, resource, tenant, email, password string) (string, error)
	OAuthToken(ctx context.Context, form url.Values, resource string) (*oauth.TokenResponse, error)
	// The consent of a person already signed in (the session cookie's
	// access token), e.g. back from their organisation's SSO (oauthsso.go).
	OAuthSignedIn(ctx context.Context, accessToken string) (*engram.Me, error)
	ApproveOAuthSession(ctx context.Context, q url.Values, issuer, resource, accessToken string) (string, error)
	// OAuthFormKey is the consent form's CSRF key, the same on every node.
	OAuthFormKey(ctx context.Context) ([]byte, error)
}

// Form fields of the sign-in page that are not authorization parameters.
const (
	fieldTenant   = "organisation"
	fieldEmail    = "email"
	fieldPassword = "password"
	fieldCSRF     = "csrf"
	fieldDeny     = "deny"
	// fieldSession marks the consent of a person signed in (no password).
	fieldSession = "signed_in"
)

// maxFormBytes bounds the sign-in and token forms (parameters are bounded
// one by one by internal/oauth; this bounds their number).
const maxFormBytes = 16 << 10

// mountOAuth serves the authorization server: RFC 8414 metadata (at the
// root and with the /mcp path inserted, for hosts that take the MCP URL
// for the issuer), registration, the sign-in and consent page, and the
// token endpoint. Everything but the page allows any origin: browser-based
// hosts (the MCP Inspector) call them, and no cookie or ambient
// credential is involved.
func mountOAuth(mux *http.ServeMux, srv OAuthServer) {
	o := &oauthRoutes{srv: srv}
	mux.HandleFunc("GET "+oauth.MetadataPath, o.metadata)
	mux.HandleFunc("GET "+oauth.MetadataPath+mcpPath, o.metadata)
	mux.HandleFunc("POST "+oauth.RegisterPath, o.register)
	mux.HandleFunc("GET "+oauth.AuthorizePath, o.authorizePage)
	mux.HandleFunc("POST "+oauth.AuthorizePath, o.authorizePost)
	mux.HandleFunc("POST "+oauth.TokenPath, o.token)
	mux.HandleFunc("GET "+ssoStartPath, o.ssoStart)
	for _, p := range []string{oauth.MetadataPath, oauth.MetadataPath + mcpPath, oauth.RegisterPath, oauth.TokenPath,
		metadataPath, metadataPath + mcpPath} {
		mux.HandleFunc("OPTIONS "+p, preflight)
	}
}

type oauthRoutes struct {
	srv OAuthServer
	// csrf is the form key, fetched from the engine on first use (it may
	// create the key hierarchy's pepper, which a constructor must not).
	mu   sync.Mutex
	csrf []byte
}

// formKey returns the consent form's CSRF key (OAuthFormKey, cached).
func (o *oauthRoutes) formKey(ctx context.Context) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.csrf == nil {
		k, err := o.srv.OAuthFormKey(ctx)
		if err != nil {
			return nil, err
		}
		o.csrf = k
	}
	return o.csrf, nil
}

// issuer is the authorization server's identifier: the server's public
// origin (RFC 8414 §2), which the protected-resource metadata names.
func issuer(r *http.Request) string { return baseURL(r) }

// mcpResource is the one resource tokens are issued for (RFC 8707).
func mcpResource(r *http.Request) string { return baseURL(r) + mcpPath }

func cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

// preflight answers CORS preflights of the public OAuth endpoints.
func preflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	cors(w)
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, MCP-Protocol-Version")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (o *oauthRoutes) metadata(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(oauth.NewMetadata(issuer(r)))
}

// register is RFC 7591 dynamic client registration: open, since a host
// and a server have no prior relationship; it grants nothing by itself.
func (o *oauthRoutes) register(w http.ResponseWriter, r *http.Request) {
	cors(w)
	body, err := io.ReadAll(io.LimitReader(r.Body, oauth.MaxRegistration+1))
	if err != nil || len(body) > oauth.MaxRegistration {
		oauth.WriteJSON(w, &oauth.Error{Code: oauth.ErrInvalidClientMetadata, Description: "the registration must be a JSON object of at most 16 KiB", Status: http.StatusBadRequest})
		return
	}
	var reg oauth.Registration
	if err := json.Unmarshal(body, &reg); err != nil {
		oauth.WriteJSON(w, &oauth.Error{Code: oauth.ErrInvalidClientMetadata, Description: "the registration must be a JSON object with redirect_uris", Status: http.StatusBadRequest})
		return
	}
	c, err := o.srv.RegisterOAuthClient(r.Context(), reg)
	if err != nil {
		o.fail(w, r, err)
		return
	}
	oauth.WriteOK(w, http.StatusCreated, c.Response())
}

// token is the token endpoint: form-encoded, public clients.
func (o *oauthRoutes) token(w http.ResponseWriter, r *http.Request) {
	cors(w)
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	tok, err := o.srv.OAuthToken(r.Context(), form, mcpResource(r))
	if err != nil {
		o.fail(w, r, err)
		return
	}
	oauth.WriteOK(w, http.StatusOK, tok)
}

// fail writes a refusal as RFC 6749 JSON; an internal error is logged
// through the access log and answered server_error.
func (o *oauthRoutes) fail(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := oauth.As(err); !ok {
		noteError(r.Context(), err)
	}
	oauth.WriteJSON(w, err)
}

// readForm parses a form-encoded body, refusing anything else (RFC 6749
// §3.2: the token endpoint takes application/x-www-form-urlencoded).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		oauth.WriteJSON(w, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "send the parameters as application/x-www-form-urlencoded", Status: http.StatusBadRequest})
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil || len(body) > maxFormBytes {
		oauth.WriteJSON(w, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the form is too large", Status: http.StatusBadRequest})
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauth.WriteJSON(w, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the form is not valid x-www-form-urlencoded", Status: http.StatusBadRequest})
		return nil, false
	}
	return form, true
}

// authorizePage shows the sign-in and consent form for a valid request,
// redirects a refusal the client may see, and shows the others.
func (o *oauthRoutes) authorizePage(w http.ResponseWriter, r *http.Request) {
	req, aerr, err := o.srv.OAuthAuthorization(r.Context(), r.URL.Query(), mcpResource(r))
	switch {
	case err != nil:
		noteError(r.Context(), err)
		renderError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
	case aerr != nil && aerr.Redirect != nil:
		http.Redirect(w, r, aerr.Redirect.RedirectError(issuer(r), aerr.Error), http.StatusFound)
	case aerr != nil:
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid: "+aerr.Error.Description+".")
	default:
		o.renderSignIn(w, r, req, http.StatusOK, "", "", "", o.signedInAs(r))
	}
}

// authorizePost checks the form's CSRF token, then the password and
// consent; success and client-visible refusals go back to the client
// with 303 See Other, so the browser does not repost the password there
// (RFC 9700 §4.12).
func (o *oauthRoutes) authorizePost(w http.ResponseWriter, r *http.Request) {
	form, ok := readPageForm(w, r)
	if !ok {
		return
	}
	tenant, email, password, token := form.Get(fieldTenant), form.Get(fieldEmail), form.Get(fieldPassword), form.Get(fieldCSRF)
	deny, bySession := form.Get(fieldDeny) != "", form.Get(fieldSession) != ""
	for _, f := range []string{fieldTenant, fieldEmail, fieldPassword, fieldCSRF, fieldDeny, fieldSession} {
		form.Del(f)
	}
	if ok, err := o.checkForm(r, token, form); err != nil {
		noteError(r.Context(), err)
		renderError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
		return
	} else if !ok {
		renderError(w, http.StatusForbidden, "This form has expired or did not come from this page. Go back to the application and start signing in again.")
		return
	}
	if deny {
		req, aerr, err := o.srv.OAuthAuthorization(r.Context(), form, mcpResource(r))
		if err != nil || aerr != nil {
			renderError(w, http.StatusBadRequest, "This sign-in link is not valid.")
			return
		}
		http.Redirect(w, r, req.RedirectError(issuer(r), &oauth.Error{Code: oauth.ErrAccessDenied, Description: "the user declined"}), http.StatusSeeOther)
		return
	}
	if bySession {
		o.consentPost(w, r, form)
		return
	}
	to, err := o.srv.ApproveOAuth(r.Context(), form, issuer(r), mcpResource(r), tenant, email, password)
	if err == nil {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if e, ok := oauth.As(err); ok {
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid: "+e.Description+".")
		return
	}
	req, aerr, rerr := o.srv.OAuthAuthorization(r.Context(), form, mcpResource(r))
	if rerr != nil || aerr != nil {
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid.")
		return
	}
	var retry *engram.RetryLater
	switch code := engram.ErrorCode(err); {
	case errors.As(err, &retry):
		w.Header().Set("Retry-After", throttle.RetryAfter(retry.After))
		o.renderSignIn(w, r, req, http.StatusTooManyRequests, tenant, email, "Too many failed sign-ins. Wait "+throttle.RetryAfter(retry.After)+" seconds and try again.", nil)
	case code == engram.CodeUnauthenticated:
		o.renderSignIn(w, r, req, http.StatusUnauthorized, tenant, email, "Wrong organisation, email or password.", nil)
	case code == engram.CodeConflict:
		o.renderSignIn(w, r, req, http.StatusConflict, tenant, email, "This email belongs to several organisations: enter the organisation's name.", nil)
	case code == engram.CodeInvalid:
		o.renderSignIn(w, r, req, http.StatusBadRequest, tenant, email, "Enter a valid email address and your password.", nil)
	case code == engram.CodeSSORequired:
		o.renderSignIn(w, r, req, http.StatusForbidden, tenant, email, "Your organisation signs in with its identity provider: use its single sign-on below.", nil)
	default:
		noteError(r.Context(), err)
		renderError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
	}
}

// readPageForm is readForm for the HTML page: refusals are pages.
func readPageForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		renderError(w, http.StatusBadRequest, "The form could not be read.")
		return nil, false
	}
	// Only the body counts: a query string on the post is not part of the
	// signed form.
	return r.PostForm, true
}
