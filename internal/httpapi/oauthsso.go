package httpapi

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/session"
)

// Signing in to the consent page with the organisation's SSO
// (docs/IDENTITY.md, "Signing in with SSO"): the page's SSO form comes
// here with the organisation's name and the page's own URL; the browser
// goes on to /v1/sso/{tenant}/begin, which seals that URL into the pending
// cookie; after the IdP, the callback sets the session cookies and sends
// the browser back (returnPage), where the page recognises the session.

// ssoStartPath is where the consent page's SSO form goes.
const ssoStartPath = "/oauth/sso"

// tenantLike is the syntax of organisation names (the engine's rule):
// checked here too so that nothing but a name is put into the path.
func tenantLike(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// fieldReturnTo carries the consent page's URL through the SSO form.
const fieldReturnTo = "return_to"

// ssoStart sends the browser to the organisation's SSO with the consent
// page as the return target. Nothing is signed in or stored here, so a
// GET (the form's method) is safe.
func (o *oauthRoutes) ssoStart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenant, ret := q.Get(fieldTenant), q.Get(fieldReturnTo)
	if !oauth.ValidReturnTarget(ret) {
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid. Go back to the application and start signing in again.")
		return
	}
	if !tenantLike(tenant) {
		renderError(w, http.StatusBadRequest, "Enter your organisation's name (lower-case letters, digits and hyphens).")
		return
	}
	to := "/v1/sso/" + url.PathEscape(tenant) + "/begin?" + url.Values{fieldReturnTo: {ret}}.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

var returnTemplate = template.Must(template.New("return").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}">
<title>Signed in</title><style>` + pageStyle + `</style></head><body>
<h1>Signed in</h1><p><a href="{{.}}">Continue to the application's request</a></p></body></html>
`))

// returnPage ends an SSO sign-in begun from the consent page. Not a
// redirect, on purpose: the session cookies are SameSite=Strict, and the
// browser reached the callback through a navigation another site started
// (the IdP's redirect, or its form post for SAML); a 303 from here would
// continue that cross-site chain, and the browser would load the consent
// page without the cookie it just received, asking the person to sign in
// again. A page of our own whose meta refresh (or link, without it) loads
// the target starts a new navigation from this origin, which is
// same-site, so the cookie goes along. The target was sealed in the
// pending cookie by /begin and is checked once more here.
func returnPage(w http.ResponseWriter, r *http.Request, target string) {
	if !oauth.ValidReturnTarget(target) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	pageHeaders(w, http.StatusOK)
	_ = returnTemplate.Execute(w, target)
}

// sessionCookie is the browser's access token from the session cookie
// (never the Authorization header: this is the page a person sees).
func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(session.AccessCookie); err == nil {
		return c.Value
	}
	return ""
}

// signedIn says who the session cookie signs in, or nil (no cookie, an
// ended session, an OAuth client's token).
func (o *oauthRoutes) signedInAs(r *http.Request) *engram.Me {
	tok := sessionCookie(r)
	if tok == "" {
		return nil
	}
	me, err := o.srv.OAuthSignedIn(r.Context(), tok)
	if err != nil {
		if engram.ErrorCode(err) != engram.CodeUnauthenticated {
			noteError(r.Context(), err)
		}
		return nil
	}
	return me
}

// consentPost is the Allow of a person signed in: the form's token was
// checked by the caller; here the request must also come from our own
// origin (it is authenticated by a cookie, session.CheckOrigin).
func (o *oauthRoutes) consentPost(w http.ResponseWriter, r *http.Request, form url.Values) {
	if err := session.CheckOrigin(session.Request{Method: r.Method, Header: r.Header, Cookie: true}, origins(r.Context())); err != nil {
		renderError(w, http.StatusForbidden, "This form did not come from this page. Go back to the application and start signing in again.")
		return
	}
	to, err := o.srv.ApproveOAuthSession(r.Context(), form, issuer(r), mcpResource(r), sessionCookie(r))
	if err == nil {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if oe, ok := oauth.As(err); ok {
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid: "+oe.Description+".")
		return
	}
	if engram.ErrorCode(err) != engram.CodeUnauthenticated {
		noteError(r.Context(), err)
		renderError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
		return
	}
	req, aerr, rerr := o.srv.OAuthAuthorization(r.Context(), form, mcpResource(r))
	if rerr != nil || aerr != nil {
		renderError(w, http.StatusBadRequest, "This sign-in link is not valid.")
		return
	}
	o.renderSignIn(w, r, req, http.StatusUnauthorized, "", "", "Your session has ended: sign in again.", nil)
}
