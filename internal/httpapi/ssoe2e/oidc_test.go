package ssoe2e_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/sso/oidc/oidctest"
)

// oidcOrg is a node, an organisation on it and an OP whose client
// redirects to that organisation's callback, configured with policy.
func oidcOrg(t *testing.T, policy engram.SSOPolicy) (*node, *org, *oidctest.OP, string) {
	t.Helper()
	n := startNode(t, nil)
	o := n.newOrg(t, "acme")
	op := oidctest.Start(t, n.URL+"/v1/sso/acme/oidc/callback")
	owner := n.ownerToken(t, o)
	got := n.configure(t, owner, engram.SSOConfig{Kind: "oidc", Policy: policy, OIDC: &engram.SSOOIDC{
		Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret, Scopes: []string{"openid", "email", "profile"}}})
	if got.OIDC == nil || got.OIDC.ClientSecret != "" || !got.OIDC.ClientSecretSet ||
		got.OIDC.RedirectURL != n.URL+"/v1/sso/acme/oidc/callback" {
		t.Fatalf("PUT /v1/sso answered %+v", got.OIDC)
	}
	return n, o, op, owner
}

// browserSignIn signs userID in through the browser flow: begin → OP
// login → callback; it returns the callback's answer.
func browserSignIn(t *testing.T, n *node, op *oidctest.OP, userID string) *http.Response {
	t.Helper()
	b := n.browser()
	resp, err := b.Get(n.URL + "/v1/sso/acme/begin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, op.Issuer) {
		t.Fatalf("begin: %d to %q, want 302 to the OP", resp.StatusCode, loc)
	}
	if n.cookie(b, "/v1/sso/acme/oidc/callback", "__Secure-engram_sso") == "" {
		t.Fatal("begin set no pending cookie")
	}
	callback := op.SignIn(t, b, loc, userID)
	resp, err = b.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.cookie(b, "/v1/sso/acme/oidc/callback", "__Secure-engram_sso") != "" {
		t.Error("the pending cookie outlived the callback")
	}
	return resp
}

// programSignIn signs userID in the way a program does (Accept: JSON) and
// returns the token pair, or the status and code of the refusal.
func programSignIn(t *testing.T, n *node, op *oidctest.OP, userID string) (*engram.Tokens, int, string) {
	t.Helper()
	b := n.browser()
	req, _ := http.NewRequest(http.MethodGet, n.URL+"/v1/sso/acme/begin", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var start engram.SSOStart
	err = json.NewDecoder(resp.Body).Decode(&start)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(start.RedirectURL, op.Issuer) {
		t.Fatalf("begin (JSON): %d %+v %v", resp.StatusCode, start, err)
	}
	resp, err = b.Get(op.SignIn(t, b, start.RedirectURL, userID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var p struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return nil, resp.StatusCode, p.Code
	}
	var tok engram.Tokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || !strings.HasPrefix(tok.AccessToken, "egat_") {
		t.Fatalf("callback answered %+v, %v", tok, err)
	}
	return &tok, resp.StatusCode, ""
}

// TestOIDCSignIn: a first sign-in through zitadel's OP provisions a member
// just in time with the role its group maps to; the browser gets the
// session cookies and the console; a program gets the pair, and the
// session holds exactly the member role's rights; the trail names the
// account only.
func TestOIDCSignIn(t *testing.T) {
	n, o, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: true, DefaultRole: engram.RoleReader,
		GroupRoles: []engram.SSOGroupRole{{Group: "engineering", Role: engram.RoleMember}, {Group: "ops", Role: engram.RoleOperator}},
		SyncRoles:  true})
	op.SetGroups(oidctest.User1, []string{"engineering"})

	resp := browserSignIn(t, n, op, oidctest.User1)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var at, rt *http.Cookie
	for _, c := range resp.Cookies() {
		switch c.Name {
		case session.AccessCookie:
			at = c
		case session.RefreshCookie:
			rt = c
		}
	}
	if at == nil || rt == nil || !at.HttpOnly || !at.Secure || at.SameSite != http.SameSiteStrictMode ||
		!strings.HasPrefix(at.Value, "egat_") || !strings.HasPrefix(rt.Value, "egrt_") {
		t.Fatalf("session cookies: %+v %+v", at, rt)
	}
	p := n.principal(t, at.Value)
	if p.TenantID != o.ID || p.Role != engram.RoleMember || p.SessionID == "" {
		t.Fatalf("principal = %+v, want a member session of acme", p)
	}

	// The same person again, as a program: the same account (linked by
	// issuer and subject), no second provisioning.
	tok, _, _ := programSignIn(t, n, op, oidctest.User1)
	p2 := n.principal(t, tok.AccessToken)
	if p2.AccountID != p.AccountID || p2.Role != engram.RoleMember {
		t.Fatalf("second sign-in = %+v, want account %s", p2, p.AccountID)
	}
	got, want := slices.Clone(p2.Permissions), slices.Clone(rbac.RolePermissions(engram.RoleMember))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("permissions %v, want the member role's %v", got, want)
	}
	// GET /v1/me says so, with exactly the member role's rights.
	var me engram.Me
	if st, code := n.call(t, http.MethodGet, "/v1/me", tok.AccessToken, nil, &me); st != http.StatusOK {
		t.Fatalf("GET /v1/me: %d %s", st, code)
	}
	gotMe := slices.Clone(me.Permissions)
	slices.Sort(gotMe)
	if me.ID != p.AccountID || me.Role != engram.RoleMember || me.TenantID != o.ID || me.Email != "test-user@zitadel.ch" ||
		me.Via != "session" || !slices.Equal(gotMe, want) {
		t.Errorf("GET /v1/me = %+v, want the member with %v", me, want)
	}
	// A member writes memories and does not read the audit trail.
	if st, code := n.call(t, http.MethodPost, "/v1/memories", tok.AccessToken,
		map[string]any{"content": "I like tea", "user_id": "u1"}, nil); st != http.StatusOK && st != http.StatusCreated {
		t.Errorf("member add memory: %d %s", st, code)
	}
	if st, code := n.call(t, http.MethodGet, "/v1/audit", tok.AccessToken, nil, nil); st != http.StatusForbidden {
		t.Errorf("member reads the audit trail: %d %s, want 403", st, code)
	}

	// The IdP moves them to ops: the next sign-in syncs the role.
	op.SetGroups(oidctest.User1, []string{"ops"})
	tok, _, _ = programSignIn(t, n, op, oidctest.User1)
	if p3 := n.principal(t, tok.AccessToken); p3.AccountID != p.AccountID || p3.Role != engram.RoleOperator {
		t.Fatalf("after the group change: %+v, want operator", p3)
	}

	acts := n.auditActions(t, owner)
	for _, want := range []string{"sso.configure:success", "sso.provisioned:success", "sso.login:success", "member.role_change:success"} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit trail lacks %s: %v", want, acts)
		}
	}
	if n := strings.Count(strings.Join(acts, " "), "sso.provisioned"); n != 1 {
		t.Errorf("%d sso.provisioned entries, want 1", n)
	}

	// The client secret, the person's address and name are sealed.
	n.atRest(t, op.ClientSecret, "test-user@zitadel.ch", "Test User")

	// The configuration reads back without its secret.
	var cfg engram.SSOConfig
	if st, code := n.call(t, http.MethodGet, "/v1/sso", owner, nil, &cfg); st != http.StatusOK || cfg.OIDC == nil ||
		cfg.OIDC.ClientSecret != "" || !cfg.OIDC.ClientSecretSet || len(cfg.Policy.GroupRoles) != 2 {
		t.Fatalf("GET /v1/sso: %d %s %+v", st, code, cfg)
	}
	// Members may not read or change it; keys may not change it.
	if st, _ := n.call(t, http.MethodGet, "/v1/sso", tok.AccessToken, nil, nil); st != http.StatusForbidden {
		t.Errorf("operator reads SSO: %d, want 403", st)
	}
}

// TestOIDCNotProvisioned: without JIT an unknown person is refused (403),
// and nothing is created.
func TestOIDCNotProvisioned(t *testing.T) {
	n, _, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: false})
	if _, st, code := programSignIn(t, n, op, oidctest.User2); st != http.StatusForbidden || code != engram.CodeForbidden {
		t.Fatalf("unknown person without JIT: %d %s, want 403 forbidden", st, code)
	}
	acts := n.auditActions(t, owner)
	if !slices.Contains(acts, "sso.login:denied") || slices.Contains(acts, "sso.provisioned:success") {
		t.Errorf("audit: %v", acts)
	}
}

// TestOIDCLinksByVerifiedEmail: a member invited by email who then signs
// in with SSO for the first time becomes the same account (the IdP
// verified the address and the domain is allowed), not a second one.
func TestOIDCLinksByVerifiedEmail(t *testing.T) {
	n, o, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: true, AllowedDomains: []string{"zitadel.ch"}})
	var inv engram.Invitation
	if st, code := n.call(t, http.MethodPost, "/v1/invitations", owner,
		engram.InviteRequest{Email: "Test-User2@zitadel.ch", Role: engram.RoleOperator}, &inv); st != http.StatusCreated {
		t.Fatalf("invite: %d %s", st, code)
	}
	tok, st, code := programSignIn(t, n, op, oidctest.User2)
	if st != http.StatusOK {
		t.Fatalf("SSO sign-in of the invited address: %d %s", st, code)
	}
	p := n.principal(t, tok.AccessToken)
	if p.AccountID != inv.ID || p.Role != engram.RoleOperator || p.TenantID != o.ID {
		t.Fatalf("signed in as %+v, want the invited account %s (operator)", p, inv.ID)
	}
	// The invitation is complete: the member is active.
	var members struct{ Results []engram.Member }
	if st, code := n.call(t, http.MethodGet, "/v1/members", owner, nil, &members); st != http.StatusOK {
		t.Fatalf("GET /v1/members: %d %s", st, code)
	}
	i := slices.IndexFunc(members.Results, func(m engram.Member) bool { return m.ID == inv.ID })
	if i < 0 || members.Results[i].Status != engram.MemberActive || !members.Results[i].EmailVerified {
		t.Errorf("the invited member after SSO (index %d of %+v): want active and verified", i, members.Results)
	}
	if acts := n.auditActions(t, owner); slices.Contains(acts, "sso.provisioned:success") {
		t.Errorf("linking provisioned a new account: %v", acts)
	}
	// An address outside the allowed domains is refused, linked or not.
	n.configure(t, owner, engram.SSOConfig{Kind: "oidc", OIDC: &engram.SSOOIDC{Issuer: op.Issuer, ClientID: op.ClientID},
		Policy: engram.SSOPolicy{JIT: true, AllowedDomains: []string{"example.com"}}})
	if _, st, code := programSignIn(t, n, op, oidctest.User1); st != http.StatusForbidden || code != engram.CodeForbidden {
		t.Fatalf("address outside the allowed domains: %d %s, want 403", st, code)
	}
}
