package ssoe2e_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/sso/oidc/oidctest"
)

// TestSSOOnly: an SSO-only organisation refuses the right password with
// 403 sso_required — to the owner too, unless break-glass keeps owners'
// passwords — while SSO still signs people in.
func TestSSOOnly(t *testing.T) {
	n, o, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: true, SSOOnly: true})
	if _, st, code := n.login(t, o); st != http.StatusForbidden || code != engram.CodeSSORequired {
		t.Fatalf("password sign-in in an SSO-only organisation: %d %s, want 403 %s", st, code, engram.CodeSSORequired)
	}
	// A wrong password is still only a wrong password: the rule is told to
	// those who know the password.
	wrong := *o
	wrong.OwnerPassword = "not the password at all"
	if _, st, code := n.login(t, &wrong); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s, want 401", st, code)
	}
	if _, st, code := programSignIn(t, n, op, oidctest.User2); st != http.StatusOK {
		t.Fatalf("SSO sign-in in an SSO-only organisation: %d %s", st, code)
	}

	// Break-glass: owners keep their password.
	n.configure(t, owner, engram.SSOConfig{Kind: "oidc", OIDC: &engram.SSOOIDC{Issuer: op.Issuer, ClientID: op.ClientID},
		Policy: engram.SSOPolicy{JIT: true, SSOOnly: true, BreakGlassOwners: true}})
	if _, st, code := n.login(t, o); st != http.StatusOK {
		t.Fatalf("break-glass owner: %d %s", st, code)
	}
	// The PUT without a client secret kept the stored one: SSO still works.
	if _, st, code := programSignIn(t, n, op, oidctest.User2); st != http.StatusOK {
		t.Fatalf("SSO after a PUT without the secret: %d %s", st, code)
	}
}

// TestSSOConfigAccess: only a signed-in owner configures SSO; a key (even
// the owner's) may not; bad input is refused with its code.
func TestSSOConfigAccess(t *testing.T) {
	n := startNode(t, nil)
	ctx := context.Background()
	nt, err := n.E.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	cfg := engram.SSOConfig{Kind: "oidc", OIDC: &engram.SSOOIDC{Issuer: "https://idp.example", ClientID: "c"}, Policy: engram.SSOPolicy{JIT: true}}
	if st, code := n.call(t, http.MethodPut, "/v1/sso", nt.Key.Secret, cfg, nil); st != http.StatusForbidden {
		t.Fatalf("owner's API key configures SSO: %d %s, want 403", st, code)
	}
	o := n.newOrg(t, "beta")
	owner := n.ownerToken(t, o)
	for name, bad := range map[string]engram.SSOConfig{
		"owner by group":   {Kind: "oidc", OIDC: cfg.OIDC, Policy: engram.SSOPolicy{GroupRoles: []engram.SSOGroupRole{{Group: "g", Role: engram.RoleOwner}}}},
		"admin by default": {Kind: "oidc", OIDC: cfg.OIDC, Policy: engram.SSOPolicy{DefaultRole: engram.RoleAdmin}},
		"http issuer":      {Kind: "oidc", OIDC: &engram.SSOOIDC{Issuer: "http://idp.example", ClientID: "c"}},
		"no settings":      {Kind: "saml"},
		"bad metadata":     {Kind: "saml", SAML: &engram.SSOSAML{IDPMetadata: "<nope/>"}},
		"both":             {Kind: "oidc", OIDC: cfg.OIDC, SAML: &engram.SSOSAML{IDPMetadata: "x"}},
	} {
		if st, code := n.call(t, http.MethodPut, "/v1/sso", owner, bad, nil); st != http.StatusBadRequest || code != engram.CodeInvalid {
			t.Errorf("%s: %d %s, want 400 invalid", name, st, code)
		}
	}
	if st, code := n.call(t, http.MethodGet, "/v1/sso", owner, nil, nil); st != http.StatusNotFound {
		t.Errorf("GET before any: %d %s, want 404", st, code)
	}
	if st, _ := n.call(t, http.MethodPut, "/v1/sso", owner, cfg, nil); st != http.StatusOK {
		t.Fatalf("PUT: %d", st)
	}
	if st, code := n.call(t, http.MethodDelete, "/v1/sso", owner, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", st, code)
	}
	if st, code := n.call(t, http.MethodGet, "/v1/sso/beta/begin", "", nil, nil); st != http.StatusNotFound {
		t.Errorf("begin without SSO: %d %s, want 404", st, code)
	}
	if st, code := n.call(t, http.MethodGet, "/v1/sso/nosuch/begin", "", nil, nil); st != http.StatusNotFound {
		t.Errorf("begin for an unknown organisation: %d %s, want 404", st, code)
	}
	// A callback without its pending cookie is refused.
	if st, code := n.call(t, http.MethodGet, "/v1/sso/beta/oidc/callback?code=x&state=y", "", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("callback without cookie: %d %s", st, code)
	}
}

// TestSSOKeyRotation: the sealed configuration is a record like the
// others: after a key rotation it is pending re-encryption, re-encryption
// moves it and retires the old key, and sign-in still works.
func TestSSOKeyRotation(t *testing.T) {
	n, o, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: true})
	ctx := context.Background()
	rot, err := n.E.RotateTenant(ctx, o.Name)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Pending < 1 {
		t.Fatalf("after rotation %d records pending, want the SSO configuration among them", rot.Pending)
	}
	for range 10 {
		_, remaining, err := n.E.Reencrypt(ctx, o.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if remaining == 0 {
			break
		}
	}
	if p, err := n.E.Pending(ctx, o.ID); err != nil || p != 0 {
		t.Fatalf("pending after re-encryption: %d, %v", p, err)
	}
	var cfg engram.SSOConfig
	if st, code := n.call(t, http.MethodGet, "/v1/sso", owner, nil, &cfg); st != http.StatusOK || !cfg.OIDC.ClientSecretSet {
		t.Fatalf("GET /v1/sso after rotation: %d %s", st, code)
	}
	if _, st, code := programSignIn(t, n, op, oidctest.User1); st != http.StatusOK {
		t.Fatalf("sign-in after rotation: %d %s", st, code)
	}
}
