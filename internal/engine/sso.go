package engine

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/sso"
	"github.com/engram-memory/engram/internal/sso/oidc"
	"github.com/engram-memory/engram/internal/sso/saml"
	"github.com/engram-memory/engram/internal/store"
)

// ssoSubject owns the key an organisation's SSO configuration is sealed
// under: a subject key like an account's, so rotation gives it a fresh
// version and re-encryption moves it (it counts as a stale record).
const ssoSubject = "sso"

// WithSSONetwork sets which address ranges the OIDC client may reach
// (discovery, JWKS, token, userinfo). The default, public addresses
// only, keeps an owner from pointing the server at internal services;
// on-premises IdPs need private ranges, tests loopback.
func WithSSONetwork(p safedial.Policy) Option { return func(e *Engine) { e.sso.network = p } }

// ssoState is the engine's SSO machinery: providers built once per
// tenant and configuration version (oidc.New runs discovery).
type ssoState struct {
	network safedial.Policy
	mu      sync.Mutex
	cache   map[string]*ssoProvider
}

type ssoProvider struct {
	version time.Time // the configuration's UpdatedAt
	cfg     *ssoSecretConfig
	policy  sso.Policy
	oidc    *oidc.Provider
	saml    *saml.SP
}

// ssoSecretConfig is the sealed part of a configuration.
type ssoSecretConfig struct {
	Kind string `json:"kind"`
	// OIDC
	Issuer       string   `json:"issuer,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	GroupsClaim  string   `json:"groups_claim,omitempty"`
	// SAML
	IDPMetadata       string `json:"idp_metadata,omitempty"`
	SignRequests      bool   `json:"sign_requests,omitempty"`
	RequireEncryption bool   `json:"require_encryption,omitempty"`
	TrustEmails       bool   `json:"trust_emails,omitempty"`
	SPKey             []byte `json:"sp_key,omitempty"`  // PKCS#8 DER
	SPCert            []byte `json:"sp_cert,omitempty"` // DER
}

func ssoContext(tenantID, field string) seal.Context {
	return seal.Context{Domain: "sso", Tenant: tenantID, Subject: ssoSubject, Record: tenantID, Field: field}
}

// ssoURLs are this server's SSO endpoints for a tenant.
func (e *Engine) ssoURLs(tenantName string) (redirect, acs, metadata string) {
	base := strings.TrimRight(e.idOpts.PublicURL, "/")
	if base == "" {
		base = "http://localhost:8080"
	}
	p := base + "/v1/sso/" + tenantName
	return p + "/oidc/callback", p + "/saml/acs", p + "/saml/metadata"
}

// ConfigureSSO sets the organisation's identity provider and policy
// (owner, signed in). Secrets omitted are kept from the stored
// configuration; the SAML SP key is made on the first SAML configuration.
func (e *Engine) ConfigureSSO(ctx context.Context, in engram.SSOConfig) (_ *engram.SSOConfig, err error) {
	a := e.begin(ctx, engram.AuditSSOConfigure, engram.TargetSSO, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.SSOConfigure)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = p.TenantID
	policy, err := ssoPolicy(in.Policy)
	if err != nil {
		return nil, err
	}
	var tenant *store.Tenant
	var old *store.SSOConfig
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if tenant, err = tx.Tenant(ctx, p.TenantID); err != nil {
			return err
		}
		old, err = tx.SSOConfig(ctx, p.TenantID)
		if errors.Is(err, store.ErrNotFound) {
			old, err = nil, nil
		}
		return err
	}); err != nil {
		return nil, err
	}
	var prev *ssoSecretConfig
	if old != nil {
		if prev, err = e.openSSO(ctx, old); err != nil {
			return nil, err
		}
	}
	sc, err := e.checkSSO(ctx, tenant, in, prev)
	if err != nil {
		return nil, err
	}
	pj, err := json.Marshal(policy)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	now := e.clock()
	rec := &store.SSOConfig{TenantID: p.TenantID, Kind: sc.Kind, Subject: ssoSubject, Policy: pj, UpdatedAt: now}
	err = retry(func() error {
		w, err := e.writer(ctx, p.TenantID, ssoSubject)
		if err != nil {
			return err
		}
		rec.KeyVersion = int(w.key.Version)
		if rec.Config, err = w.seal(ssoContext(p.TenantID, "config"), raw); err != nil {
			return err
		}
		return e.st.Write(ctx, func(tx store.Tx) error {
			if err := w.check(ctx, tx); err != nil {
				return err
			}
			if err := tx.PutSSOConfig(ctx, rec); err != nil {
				return err
			}
			return a.record(tx)
		})
	})
	if err != nil {
		return nil, err
	}
	e.dropSSO(p.TenantID)
	return e.publicSSO(tenant.Name, rec, sc, policy), nil
}

// SSOConfiguration returns the organisation's SSO configuration, secrets
// left out (owner and admin).
func (e *Engine) SSOConfiguration(ctx context.Context) (_ *engram.SSOConfig, err error) {
	a := e.begin(ctx, engram.AuditSSORead, engram.TargetSSO, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.SSORead)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = p.TenantID
	var tenant *store.Tenant
	var rec *store.SSOConfig
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if tenant, err = tx.Tenant(ctx, p.TenantID); err != nil {
			return err
		}
		rec, err = tx.SSOConfig(ctx, p.TenantID)
		return err
	}); err != nil {
		return nil, notFound(err, "SSO configuration")
	}
	sc, err := e.openSSO(ctx, rec)
	if err != nil {
		return nil, err
	}
	var policy sso.Policy
	if err := json.Unmarshal(rec.Policy, &policy); err != nil {
		return nil, err
	}
	return e.publicSSO(tenant.Name, rec, sc, policy), nil
}

// DeleteSSO removes the organisation's SSO configuration (owner, signed
// in). Linked identities stay, so the same IdP configured again finds its
// users; sessions already started are not ended.
func (e *Engine) DeleteSSO(ctx context.Context) (err error) {
	a := e.begin(ctx, engram.AuditSSOConfigure, engram.TargetSSO, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.SSOConfigure)
	if err != nil {
		return err
	}
	a.entry.TargetID = p.TenantID
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteSSOConfig(ctx, p.TenantID); err != nil {
			return err
		}
		return a.record(tx)
	})
	e.dropSSO(p.TenantID)
	return notFound(err, "SSO configuration")
}

// ssoPolicy checks a policy and converts it.
func ssoPolicy(in engram.SSOPolicy) (sso.Policy, error) {
	p := sso.Policy{JIT: in.JIT, DefaultRole: in.DefaultRole, SyncRoles: in.SyncRoles, SSOOnly: in.SSOOnly,
		BreakGlassOwners: in.BreakGlassOwners}
	if len(in.GroupRoles) > 100 || len(in.AllowedDomains) > 50 {
		return p, invalid("at most 100 group roles and 50 allowed domains")
	}
	for _, g := range in.GroupRoles {
		if len(g.Group) > 256 {
			return p, invalid("group names are at most 256 bytes")
		}
		p.GroupRoles = append(p.GroupRoles, sso.GroupRole{Group: g.Group, Role: g.Role})
	}
	for _, d := range in.AllowedDomains {
		p.AllowedDomains = append(p.AllowedDomains, strings.ToLower(strings.TrimSpace(d)))
	}
	if err := p.Validate(); err != nil {
		return p, invalid("%s", strings.TrimPrefix(err.Error(), "sso: "))
	}
	return p, nil
}

// checkSSO validates the provider settings and returns what to seal,
// keeping secrets from prev where the request leaves them out.
func (e *Engine) checkSSO(ctx context.Context, tenant *store.Tenant, in engram.SSOConfig, prev *ssoSecretConfig) (*ssoSecretConfig, error) {
	redirect, acs, metadata := e.ssoURLs(tenant.Name)
	switch in.Kind {
	case "oidc":
		o := in.OIDC
		if o == nil || in.SAML != nil {
			return nil, invalid("kind oidc needs the oidc settings (and no saml)")
		}
		if len(o.Scopes) > 20 || len(o.Issuer) > 2048 || len(o.ClientID) > 512 || len(o.ClientSecret) > 1024 || len(o.GroupsClaim) > 128 {
			return nil, invalid("oidc settings too long")
		}
		sc := &ssoSecretConfig{Kind: "oidc", Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scopes: o.Scopes, GroupsClaim: o.GroupsClaim}
		if sc.ClientSecret == "" && prev != nil && prev.Kind == "oidc" && prev.ClientID == o.ClientID {
			sc.ClientSecret = prev.ClientSecret
		}
		cfg := oidc.Config{Issuer: sc.Issuer, ClientID: sc.ClientID, ClientSecret: sc.ClientSecret, RedirectURL: redirect,
			Scopes: sc.Scopes, GroupsClaim: sc.GroupsClaim}
		if err := cfg.Validate(); err != nil {
			return nil, invalid("%s", strings.TrimPrefix(err.Error(), "oidc: "))
		}
		return sc, nil
	case "saml":
		s := in.SAML
		if s == nil || in.OIDC != nil {
			return nil, invalid("kind saml needs the saml settings (and no oidc)")
		}
		if len(s.IDPMetadata) > 256<<10 {
			return nil, invalid("idp_metadata is at most 256 KiB")
		}
		sc := &ssoSecretConfig{Kind: "saml", IDPMetadata: s.IDPMetadata, SignRequests: s.SignRequests,
			RequireEncryption: s.RequireEncryption, TrustEmails: s.TrustEmails}
		if prev != nil && prev.Kind == "saml" && prev.SPKey != nil {
			sc.SPKey, sc.SPCert = prev.SPKey, prev.SPCert
		} else {
			var err error
			if sc.SPKey, sc.SPCert, err = spKeyPair(tenant.Name); err != nil {
				return nil, err
			}
		}
		// Parsing the metadata now refuses a configuration that could
		// never sign anyone in.
		if _, err := e.buildSAML(tenant, acs, metadata, sc); err != nil {
			return nil, invalid("idp_metadata: not usable SAML IdP metadata")
		}
		return sc, nil
	}
	return nil, invalid("kind must be oidc or saml")
}

// spKeyPair makes the SAML SP's key and a self-signed certificate (SAML
// trusts the certificate in the metadata, not a CA).
func spKeyPair(cn string) (key, cert []byte, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "engram sso " + cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	if cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k); err != nil {
		return nil, nil, err
	}
	key, err = x509.MarshalPKCS8PrivateKey(k)
	return key, cert, err
}

// openSSO opens a stored configuration's sealed part.
func (e *Engine) openSSO(ctx context.Context, rec *store.SSOConfig) (*ssoSecretConfig, error) {
	raw, err := e.opener(ctx, rec.TenantID).open(rec.Subject, ssoContext(rec.TenantID, "config"), rec.Config)
	if err != nil {
		return nil, err
	}
	var sc ssoSecretConfig
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

// publicSSO is what a read shows: settings and the URLs to give the IdP,
// never a secret.
func (e *Engine) publicSSO(tenantName string, rec *store.SSOConfig, sc *ssoSecretConfig, p sso.Policy) *engram.SSOConfig {
	redirect, acs, metadata := e.ssoURLs(tenantName)
	t := rec.UpdatedAt
	out := &engram.SSOConfig{Kind: sc.Kind, UpdatedAt: &t, Policy: engram.SSOPolicy{JIT: p.JIT, DefaultRole: p.DefaultRole,
		SyncRoles: p.SyncRoles, AllowedDomains: p.AllowedDomains, SSOOnly: p.SSOOnly, BreakGlassOwners: p.BreakGlassOwners}}
	for _, g := range p.GroupRoles {
		out.Policy.GroupRoles = append(out.Policy.GroupRoles, engram.SSOGroupRole{Group: g.Group, Role: g.Role})
	}
	switch sc.Kind {
	case "oidc":
		out.OIDC = &engram.SSOOIDC{Issuer: sc.Issuer, ClientID: sc.ClientID, ClientSecretSet: sc.ClientSecret != "",
			Scopes: sc.Scopes, GroupsClaim: sc.GroupsClaim, RedirectURL: redirect}
	case "saml":
		out.SAML = &engram.SSOSAML{IDPMetadata: sc.IDPMetadata, SignRequests: sc.SignRequests,
			RequireEncryption: sc.RequireEncryption, TrustEmails: sc.TrustEmails, EntityID: metadata, ACSURL: acs,
			MetadataURL: metadata}
	}
	return out
}

// buildSAML makes the tenant's service provider.
func (e *Engine) buildSAML(tenant *store.Tenant, acs, metadata string, sc *ssoSecretConfig) (*saml.SP, error) {
	k, err := x509.ParsePKCS8PrivateKey(sc.SPKey)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("sso: SP key is not RSA")
	}
	cert, err := x509.ParseCertificate(sc.SPCert)
	if err != nil {
		return nil, err
	}
	return saml.New(saml.Config{Scope: tenant.ID, EntityID: metadata, ACSURL: acs, MetadataURL: metadata,
		IDPMetadata: []byte(sc.IDPMetadata), Key: rk, Certificate: cert, SignRequests: sc.SignRequests,
		TrustEmails: sc.TrustEmails, RequireEncryption: sc.RequireEncryption,
		ReplayCache: store.ReplayCache{Store: e.st}, Now: e.clock})
}

// ssoProviderFor returns the tenant's provider, built on first use and
// again whenever the configuration changed (on this node or another:
// the stored UpdatedAt is the version).
func (e *Engine) ssoProviderFor(ctx context.Context, tenant *store.Tenant) (*ssoProvider, error) {
	var rec *store.SSOConfig
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.SSOConfig(ctx, tenant.ID)
		return err
	}); err != nil {
		return nil, err
	}
	e.sso.mu.Lock()
	if p, ok := e.sso.cache[tenant.ID]; ok && p.version.Equal(rec.UpdatedAt) {
		e.sso.mu.Unlock()
		return p, nil
	}
	e.sso.mu.Unlock()
	sc, err := e.openSSO(ctx, rec)
	if err != nil {
		return nil, err
	}
	p := &ssoProvider{version: rec.UpdatedAt, cfg: sc}
	if err := json.Unmarshal(rec.Policy, &p.policy); err != nil {
		return nil, err
	}
	redirect, acs, metadata := e.ssoURLs(tenant.Name)
	switch sc.Kind {
	case "oidc":
		p.oidc, err = oidc.New(ctx, oidc.Config{Issuer: sc.Issuer, ClientID: sc.ClientID, ClientSecret: sc.ClientSecret,
			RedirectURL: redirect, Scopes: sc.Scopes, GroupsClaim: sc.GroupsClaim, Network: e.sso.network, Now: e.clock})
	case "saml":
		p.saml, err = e.buildSAML(tenant, acs, metadata, sc)
	default:
		err = errors.New("sso: unknown kind")
	}
	if err != nil {
		// Discovery failed or the metadata broke: the IdP is at fault,
		// not the person signing in.
		return nil, engram.Errorf(engram.CodeUnavailable, "the organisation's identity provider cannot be reached or is misconfigured")
	}
	e.sso.mu.Lock()
	if e.sso.cache == nil {
		e.sso.cache = map[string]*ssoProvider{}
	}
	e.sso.cache[tenant.ID] = p
	e.sso.mu.Unlock()
	return p, nil
}

func (e *Engine) dropSSO(tenantID string) {
	e.sso.mu.Lock()
	delete(e.sso.cache, tenantID)
	e.sso.mu.Unlock()
}

// passwordLoginAllowed is the SSO-only rule, checked by the password
// sign-in once the password matched (so it tells the organisation's rule
// only to someone who knows the password): an organisation with SSOOnly
// refuses password sign-in, except to owners when BreakGlassOwners.
func (e *Engine) passwordLoginAllowed(ctx context.Context, acct *store.Account) error {
	var rec *store.SSOConfig
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.SSOConfig(ctx, acct.TenantID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var p sso.Policy
	if err := json.Unmarshal(rec.Policy, &p); err != nil {
		return err
	}
	if p.PasswordLoginAllowed(engram.Role(acct.Role)) {
		return nil
	}
	return engram.Errorf(engram.CodeSSORequired, "this organisation signs in with its identity provider: use single sign-on")
}

// resealSSO moves a configuration to the subject's newest key (Reencrypt).
func (e *Engine) resealSSO(ctx context.Context, tx store.Tx, w *writer, o *opener) error {
	rec, err := tx.SSOConfig(ctx, w.tenant)
	if err != nil {
		return err
	}
	if rec.KeyVersion >= int(w.key.Version) {
		return nil
	}
	raw, err := o.open(rec.Subject, ssoContext(w.tenant, "config"), rec.Config)
	if err != nil {
		return err
	}
	if rec.Config, err = w.seal(ssoContext(w.tenant, "config"), raw); err != nil {
		return err
	}
	rec.KeyVersion = int(w.key.Version)
	return tx.PutSSOConfig(ctx, rec)
}
