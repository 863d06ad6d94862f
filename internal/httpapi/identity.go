package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/session"
)

// browserHeaders are what tells a browser's request from a program's:
// every browser that honours SameSite sends Sec-Fetch-Site or Origin on
// a POST. Only browsers get cookies, and only they face the origin check
// (a login that sets cookies from another site is login CSRF).
type browserHeaders struct {
	Origin       string
	SecFetchSite string
}

func (b *browserHeaders) browser() bool { return b.Origin != "" || b.SecFetchSite != "" }

// checkOrigin applies session.CheckOrigin to a request that sets or
// reads cookies.
func (b *browserHeaders) checkOrigin(ctx context.Context) error {
	h := http.Header{}
	if b.Origin != "" {
		h.Set("Origin", b.Origin)
	}
	if b.SecFetchSite != "" {
		h.Set("Sec-Fetch-Site", b.SecFetchSite)
	}
	if err := session.CheckOrigin(session.Request{Method: http.MethodPost, Header: h, Cookie: true}, origins(ctx)); err != nil {
		return newProblem(http.StatusForbidden, engram.CodeForbidden, "cross-origin request refused")
	}
	return nil
}

type tokensOutput struct {
	SetCookie []string `header:"Set-Cookie"`
	Body      *engram.Tokens
}

// withCookies answers tokens, and for a browser sets them as HttpOnly
// __Host- cookies too.
func withCookies(b *browserHeaders, t *engram.Tokens) *tokensOutput {
	out := &tokensOutput{Body: t}
	if b.browser() {
		g := &session.Grant{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
			Access: session.AccessToken{ExpiresAt: t.AccessExpiresAt}, Refresh: session.RefreshToken{ExpiresAt: t.RefreshExpiresAt}}
		for _, c := range session.Cookies(time.Now(), g) {
			out.SetCookie = append(out.SetCookie, c.String())
		}
	}
	return out
}

type clearedOutput struct {
	SetCookie []string `header:"Set-Cookie"`
}

func cleared() *clearedOutput {
	out := &clearedOutput{}
	for _, c := range session.ClearCookies() {
		out.SetCookie = append(out.SetCookie, c.String())
	}
	return out
}

// huma binds parameters of the input's own fields only (not of an
// embedded struct), so each input repeats them and hands them over.
type loginInput struct {
	Origin       string `header:"Origin" maxLength:"2048" doc:"Sent by browsers; checked against the server's origin when cookies are involved."`
	SecFetchSite string `header:"Sec-Fetch-Site" maxLength:"32"`
	Body         struct {
		Email    string `json:"email" minLength:"1" maxLength:"254"`
		Password string `json:"password" minLength:"1" maxLength:"4096"`
		Tenant   string `json:"tenant,omitempty" maxLength:"63" doc:"The organisation, when the email belongs to several."`
	}
}

func (in *loginInput) headers() *browserHeaders {
	return &browserHeaders{Origin: in.Origin, SecFetchSite: in.SecFetchSite}
}

type refreshInput struct {
	Origin       string      `header:"Origin" maxLength:"2048"`
	SecFetchSite string      `header:"Sec-Fetch-Site" maxLength:"32"`
	Refresh      http.Cookie `cookie:"__Host-engram_rt"`
	Body         *struct {
		RefreshToken string `json:"refresh_token,omitempty" maxLength:"128" doc:"Omit to use the __Host-engram_rt cookie."`
	}
}

func (in *refreshInput) headers() *browserHeaders {
	return &browserHeaders{Origin: in.Origin, SecFetchSite: in.SecFetchSite}
}

func (in *refreshInput) token() (string, bool) {
	if in.Body != nil && in.Body.RefreshToken != "" {
		return in.Body.RefreshToken, false
	}
	return in.Refresh.Value, in.Refresh.Value != ""
}

type inviteInput struct {
	Body engram.InviteRequest
}

type acceptInput struct {
	Body struct {
		Token    string `json:"token" minLength:"1" maxLength:"128"`
		Password string `json:"password" minLength:"1" maxLength:"4096"`
		Name     string `json:"name,omitempty" maxLength:"200"`
	}
}

type memberIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type roleInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Role engram.Role `json:"role" enum:"owner,admin,operator,member,reader"`
	}
}

type passwordInput struct {
	Body struct {
		Current string `json:"current_password" minLength:"1" maxLength:"4096"`
		New     string `json:"new_password" minLength:"1" maxLength:"4096"`
	}
}

type resetRequestInput struct {
	Body struct {
		Email  string `json:"email" minLength:"1" maxLength:"254"`
		Tenant string `json:"tenant,omitempty" maxLength:"63"`
	}
}

type resetInput struct {
	Body struct {
		Token    string `json:"token" minLength:"1" maxLength:"128"`
		Password string `json:"password" minLength:"1" maxLength:"4096"`
	}
}

func registerIdentity(api huma.API, svc engram.IdentityService) {
	if svc == nil {
		return
	}
	huma.Register(api, public(op("login", http.MethodPost, "/v1/auth/login", "Sign in with email and password", http.StatusOK, "auth")),
		func(ctx context.Context, in *loginInput) (*tokensOutput, error) {
			if in.headers().browser() {
				if err := in.headers().checkOrigin(ctx); err != nil {
					return nil, err
				}
			}
			t, err := svc.Login(ctx, engram.LoginRequest{Email: in.Body.Email, Password: in.Body.Password, Tenant: in.Body.Tenant})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return withCookies(in.headers(), t), nil
		})

	huma.Register(api, public(op("refresh", http.MethodPost, "/v1/auth/refresh", "Spend a refresh token for a new pair (a spent one ends the session)", http.StatusOK, "auth")),
		func(ctx context.Context, in *refreshInput) (*tokensOutput, error) {
			tok, fromCookie := in.token()
			if fromCookie || in.headers().browser() {
				if err := in.headers().checkOrigin(ctx); err != nil {
					return nil, err
				}
			}
			t, err := svc.Refresh(ctx, tok)
			if err != nil {
				p := problemOf(ctx, err)
				if fromCookie {
					p.setHeader("Set-Cookie", cleared().SetCookie...)
				}
				return nil, p
			}
			return withCookies(in.headers(), t), nil
		})

	huma.Register(api, public(op("logout", http.MethodPost, "/v1/auth/logout", "End this session", http.StatusNoContent, "auth")),
		func(ctx context.Context, in *refreshInput) (*clearedOutput, error) {
			tok, fromCookie := in.token()
			if fromCookie || in.headers().browser() {
				if err := in.headers().checkOrigin(ctx); err != nil {
					return nil, err
				}
			}
			if tok == "" && engram.PrincipalFrom(ctx) == nil {
				return nil, problemOf(ctx, engram.Errorf(engram.CodeUnauthenticated, "send the refresh token, or the session's access token"))
			}
			if err := svc.Logout(ctx, tok); err != nil {
				return nil, problemOf(ctx, err)
			}
			return cleared(), nil
		})

	huma.Register(api, op("logoutEverywhere", http.MethodPost, "/v1/auth/logout-everywhere", "End every session of the calling account", http.StatusOK, "auth"),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body struct {
				Revoked int `json:"revoked"`
			}
		}, error) {
			n, err := svc.LogoutEverywhere(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &struct {
				Body struct {
					Revoked int `json:"revoked"`
				}
			}{}
			out.Body.Revoked = n
			return out, nil
		})

	huma.Register(api, op("listSessions", http.MethodGet, "/v1/auth/sessions", "List the calling account's sessions", http.StatusOK, "auth"),
		func(ctx context.Context, _ *struct{}) (*resultsBody[engram.SessionInfo], error) {
			ss, err := svc.Sessions(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.SessionInfo]{}
			out.Body.Results = ss
			return out, nil
		})

	huma.Register(api, op("changePassword", http.MethodPost, "/v1/auth/password", "Change the password (ends every other session)", http.StatusNoContent, "auth"),
		func(ctx context.Context, in *passwordInput) (*struct{}, error) {
			if err := svc.ChangePassword(ctx, in.Body.Current, in.Body.New); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, public(op("requestPasswordReset", http.MethodPost, "/v1/auth/password-reset", "Mail a password reset link (same answer whether or not the address has an account)", http.StatusAccepted, "auth")),
		func(ctx context.Context, in *resetRequestInput) (*struct{}, error) {
			if err := svc.RequestPasswordReset(ctx, in.Body.Email, in.Body.Tenant); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, public(op("resetPassword", http.MethodPost, "/v1/auth/password-reset/confirm", "Set a new password with a reset link's token", http.StatusNoContent, "auth")),
		func(ctx context.Context, in *resetInput) (*struct{}, error) {
			if err := svc.ResetPassword(ctx, in.Body.Token, in.Body.Password); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, withConflict(op("invite", http.MethodPost, "/v1/invitations", "Invite someone by email with a role", http.StatusCreated, "members")),
		func(ctx context.Context, in *inviteInput) (*struct{ Body *engram.Invitation }, error) {
			inv, err := svc.Invite(ctx, in.Body)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.Invitation }{Body: inv}, nil
		})

	huma.Register(api, public(op("acceptInvitation", http.MethodPost, "/v1/invitations/accept", "Accept an invitation: set a password and activate the account", http.StatusCreated, "members")),
		func(ctx context.Context, in *acceptInput) (*struct{ Body *engram.Member }, error) {
			m, err := svc.AcceptInvitation(ctx, engram.AcceptRequest{Token: in.Body.Token, Password: in.Body.Password, Name: in.Body.Name})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.Member }{Body: m}, nil
		})

	huma.Register(api, op("listMembers", http.MethodGet, "/v1/members", "List the organisation's members and pending invitations", http.StatusOK, "members"),
		func(ctx context.Context, _ *struct{}) (*resultsBody[engram.Member], error) {
			ms, err := svc.Members(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.Member]{}
			out.Body.Results = ms
			return out, nil
		})

	huma.Register(api, withConflict(op("changeRole", http.MethodPatch, "/v1/members/{id}", "Change a member's role", http.StatusOK, "members")),
		func(ctx context.Context, in *roleInput) (*struct{ Body *engram.Member }, error) {
			m, err := svc.ChangeRole(ctx, in.ID, in.Body.Role)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.Member }{Body: m}, nil
		})

	huma.Register(api, withConflict(op("removeMember", http.MethodDelete, "/v1/members/{id}", "Remove a member (or leave): their sessions and keys end at once", http.StatusNoContent, "members")),
		func(ctx context.Context, in *memberIDInput) (*struct{}, error) {
			if err := svc.RemoveMember(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, withConflict(op("transferOwnership", http.MethodPost, "/v1/members/{id}/transfer-ownership", "Make a member the owner; the caller becomes admin", http.StatusNoContent, "members")),
		func(ctx context.Context, in *memberIDInput) (*struct{}, error) {
			if err := svc.TransferOwnership(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	registerProfile(api, svc)

	huma.Register(api, op("me", http.MethodGet, "/v1/me", "Who the caller is", http.StatusOK, "members"),
		func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.Me }, error) {
			me, err := svc.Me(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.Me }{Body: me}, nil
		})
}

type profileInput struct {
	Body struct {
		Name string `json:"name" maxLength:"200"`
	}
}

type tokenInput struct {
	Body struct {
		Token string `json:"token" minLength:"1" maxLength:"128"`
	}
}

func registerProfile(api huma.API, svc engram.IdentityService) {
	huma.Register(api, op("updateProfile", http.MethodPatch, "/v1/me", "Change the caller's name", http.StatusOK, "members"),
		func(ctx context.Context, in *profileInput) (*struct{ Body *engram.Me }, error) {
			me, err := svc.UpdateProfile(ctx, in.Body.Name)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.Me }{Body: me}, nil
		})

	huma.Register(api, withConflict(op("requestVerification", http.MethodPost, "/v1/me/verify-email", "Mail a link that proves the caller's address", http.StatusAccepted, "members")),
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			if err := svc.RequestVerification(ctx); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, public(op("verifyEmail", http.MethodPost, "/v1/auth/verify-email", "Confirm an address with a verification link's token", http.StatusNoContent, "auth")),
		func(ctx context.Context, in *tokenInput) (*struct{}, error) {
			if err := svc.VerifyEmail(ctx, in.Body.Token); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})
}

// public marks an operation that needs no credentials in the OpenAPI
// document (the middleware's publicPaths lets it through).
func public(o huma.Operation) huma.Operation {
	o.Security = []map[string][]string{}
	return o
}

// publicPaths need no credentials: sign-in, refresh, accepting an
// invitation, password reset. Logout authenticates when credentials come
// with it, and otherwise works with the refresh token alone.
var publicPaths = map[string]bool{
	"/v1/auth/login": true, "/v1/auth/refresh": true, "/v1/invitations/accept": true,
	"/v1/auth/password-reset": true, "/v1/auth/password-reset/confirm": true, "/v1/auth/verify-email": true,
}

// optionalAuthPaths authenticate when credentials are present.
var optionalAuthPaths = map[string]bool{"/v1/auth/logout": true}
