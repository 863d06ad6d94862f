package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/session"
)

// ssoPendingCookie holds a pending sign-in (sealed by the engine) between
// /begin and the IdP's return. __Secure- (not __Host-) so that its Path
// can be /v1/sso/: no other route ever receives it.
const ssoPendingCookie = "__Secure-engram_sso"

type ssoConfigInput struct {
	Body engram.SSOConfig
}

func registerSSO(api huma.API, svc engram.SSOService) {
	if svc == nil {
		return
	}
	huma.Register(api, op("putSSO", http.MethodPut, "/v1/sso", "Set the organisation's single sign-on (owner, signed in; secrets are write-only)", http.StatusOK, "sso"),
		func(ctx context.Context, in *ssoConfigInput) (*struct{ Body *engram.SSOConfig }, error) {
			c, err := svc.ConfigureSSO(ctx, in.Body)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.SSOConfig }{Body: c}, nil
		})
	huma.Register(api, op("getSSO", http.MethodGet, "/v1/sso", "Read the organisation's single sign-on, secrets left out", http.StatusOK, "sso"),
		func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.SSOConfig }, error) {
			c, err := svc.SSOConfiguration(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.SSOConfig }{Body: c}, nil
		})
	huma.Register(api, op("deleteSSO", http.MethodDelete, "/v1/sso", "Remove the organisation's single sign-on", http.StatusNoContent, "sso"),
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			if err := svc.DeleteSSO(ctx); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})
}

// ssoPublic says whether a path is one of the sign-in routes, which need
// no credentials: /v1/sso/{tenant}/… (the configuration, /v1/sso itself,
// does).
func ssoPublic(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v1/sso/")
	return ok && strings.Contains(rest, "/")
}

// ssoForm: the ACS receives the IdP's HTML form, not JSON.
func ssoForm(path string) bool {
	return ssoPublic(path) && strings.HasSuffix(path, "/saml/acs")
}

// mountSSO serves the sign-in routes. They are browser navigations and
// form posts, not JSON operations, so they live beside the huma API.
func mountSSO(mux *http.ServeMux, svc engram.SSOSignIn) {
	if svc == nil {
		return
	}
	mux.HandleFunc("GET /v1/sso/{tenant}/begin", func(w http.ResponseWriter, r *http.Request) {
		program := wantsJSON(r)
		// return_to (an OAuth consent page, oauthsso.go) is checked by the
		// engine and sealed into the pending cookie: the callback never
		// reads a destination from its own query.
		start, err := svc.BeginSSO(r.Context(), r.PathValue("tenant"), program, r.URL.Query().Get("return_to"))
		if err != nil {
			writeProblem(w, r, problemOf(r.Context(), err))
			return
		}
		// SAML's answer comes back as a cross-site form POST, which
		// carries only SameSite=None cookies; OIDC's as a top-level GET,
		// for which Lax suffices. The value is sealed and bound to this
		// one sign-in (state, nonce and PKCE verifier, or the request id).
		same := http.SameSiteLaxMode
		if start.Kind == "saml" {
			same = http.SameSiteNoneMode
		}
		http.SetCookie(w, &http.Cookie{Name: ssoPendingCookie, Value: start.Pending, Path: "/v1/sso/",
			MaxAge: int(start.MaxAge / time.Second), Secure: true, HttpOnly: true, SameSite: same})
		w.Header().Set("Cache-Control", "no-store")
		if program {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(start)
			return
		}
		http.Redirect(w, r, start.RedirectURL, http.StatusFound)
	})
	mux.HandleFunc("GET /v1/sso/{tenant}/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		res, err := svc.FinishOIDC(r.Context(), r.PathValue("tenant"), pendingOf(r), r.URL.Query())
		signedIn(w, r, res, err)
	})
	mux.HandleFunc("POST /v1/sso/{tenant}/saml/acs", func(w http.ResponseWriter, r *http.Request) {
		// No CSRF check: the IdP's page posts here cross-site by design;
		// InResponseTo bound to the sealed cookie and the replay cache
		// stand in for it.
		if err := r.ParseForm(); err != nil {
			writeProblem(w, r, newProblem(http.StatusBadRequest, engram.CodeInvalid, "the SAML response must be a form"))
			return
		}
		res, err := svc.FinishSAML(r.Context(), r.PathValue("tenant"), pendingOf(r), r.PostForm.Get("SAMLResponse"))
		signedIn(w, r, res, err)
	})
	mux.HandleFunc("GET /v1/sso/{tenant}/saml/metadata", func(w http.ResponseWriter, r *http.Request) {
		md, err := svc.SAMLMetadata(r.Context(), r.PathValue("tenant"))
		if err != nil {
			writeProblem(w, r, problemOf(r.Context(), err))
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(md)
	})
}

func wantsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

func pendingOf(r *http.Request) string {
	if c, err := r.Cookie(ssoPendingCookie); err == nil {
		return c.Value
	}
	return ""
}

// signedIn answers a finished sign-in the way a password sign-in does: the
// pair as JSON for a program, the session cookies and a redirect to the
// console for a browser. The pending cookie goes whatever the outcome: an
// attempt is used once.
func signedIn(w http.ResponseWriter, r *http.Request, res *engram.SSOSignedIn, err error) {
	http.SetCookie(w, &http.Cookie{Name: ssoPendingCookie, Value: "", Path: "/v1/sso/", MaxAge: -1, Secure: true, HttpOnly: true})
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		writeProblem(w, r, problemOf(r.Context(), err))
		return
	}
	if res.Program {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res.Tokens)
		return
	}
	g := &session.Grant{AccessToken: res.Tokens.AccessToken, RefreshToken: res.Tokens.RefreshToken,
		Access: session.AccessToken{ExpiresAt: res.Tokens.AccessExpiresAt}, Refresh: session.RefreshToken{ExpiresAt: res.Tokens.RefreshExpiresAt}}
	for _, c := range session.Cookies(time.Now(), g) {
		http.SetCookie(w, c)
	}
	if res.ReturnTo != "" {
		returnPage(w, r, res.ReturnTo)
		return
	}
	// 303: the browser follows with a GET, whatever method reached us.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
