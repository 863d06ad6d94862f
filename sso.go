package engram

import (
	"context"
	"net/url"
	"time"
)

// CodeSSORequired: the organisation signs in through its identity provider
// only (SSO-only), so a password sign-in is refused (403) even with the
// right password.
const CodeSSORequired = "sso_required"

// SSOConfig is an organisation's single sign-on: one identity provider,
// OpenID Connect or SAML 2.0, and the policy that turns its users into
// members. Secrets are write-only: a read never returns the OIDC client
// secret nor the SAML SP key.
type SSOConfig struct {
	// Kind is "oidc" or "saml".
	Kind   string    `json:"kind" enum:"oidc,saml"`
	OIDC   *SSOOIDC  `json:"oidc,omitempty"`
	SAML   *SSOSAML  `json:"saml,omitempty"`
	Policy SSOPolicy `json:"policy"`
	// UpdatedAt is set by the server.
	UpdatedAt *time.Time `json:"updated_at,omitempty" readOnly:"true"`
}

// SSOOIDC is an OpenID Connect provider.
type SSOOIDC struct {
	// Issuer is the provider's issuer URL (https; discovery is read from
	// it).
	Issuer   string `json:"issuer" maxLength:"2048"`
	ClientID string `json:"client_id" maxLength:"512"`
	// ClientSecret is write-only: omitted on a later PUT, the stored one
	// is kept.
	ClientSecret string `json:"client_secret,omitempty" maxLength:"1024" writeOnly:"true"`
	// ClientSecretSet says a secret is stored (reads only).
	ClientSecretSet bool     `json:"client_secret_set,omitempty" readOnly:"true"`
	Scopes          []string `json:"scopes,omitempty" maxItems:"20"`
	// GroupsClaim names the claim holding groups (default "groups").
	GroupsClaim string `json:"groups_claim,omitempty" maxLength:"128"`
	// RedirectURL is the callback to register at the provider (reads
	// only).
	RedirectURL string `json:"redirect_url,omitempty" readOnly:"true"`
}

// SSOSAML is a SAML 2.0 identity provider. The service provider's key is
// made by the server on the first configuration and kept sealed; its
// certificate is in the SP metadata.
type SSOSAML struct {
	// IDPMetadata is the IdP's metadata XML.
	IDPMetadata string `json:"idp_metadata" maxLength:"262144"`
	// SignRequests signs AuthnRequests with the SP key.
	SignRequests bool `json:"sign_requests,omitempty"`
	// RequireEncryption refuses assertions not encrypted to the SP key.
	RequireEncryption bool `json:"require_encryption,omitempty"`
	// TrustEmails: the organisation vouches for the addresses its IdP
	// asserts (they count as verified for domain rules and linking).
	TrustEmails bool `json:"trust_emails,omitempty"`
	// EntityID, ACSURL and MetadataURL are the SP's, to give the IdP
	// (reads only).
	EntityID    string `json:"entity_id,omitempty" readOnly:"true"`
	ACSURL      string `json:"acs_url,omitempty" readOnly:"true"`
	MetadataURL string `json:"metadata_url,omitempty" readOnly:"true"`
}

// SSOPolicy is how SSO users become members (internal/sso.Policy).
type SSOPolicy struct {
	// JIT creates a member at a first sign-in, with DefaultRole (member
	// or reader; reader when empty) unless a group maps to a role.
	JIT         bool `json:"jit"`
	DefaultRole Role `json:"default_role,omitempty"`
	// GroupRoles map IdP groups to roles (never owner); the strongest
	// matching role wins.
	GroupRoles []SSOGroupRole `json:"group_roles,omitempty" maxItems:"100"`
	// SyncRoles re-applies the mapping at every sign-in (owners are never
	// changed).
	SyncRoles bool `json:"sync_roles,omitempty"`
	// AllowedDomains accept only verified addresses of these domains.
	AllowedDomains []string `json:"allowed_domains,omitempty" maxItems:"50"`
	// SSOOnly refuses password sign-in to members; BreakGlassOwners keeps
	// it for owners, so a broken IdP cannot lock the organisation out.
	SSOOnly          bool `json:"sso_only,omitempty"`
	BreakGlassOwners bool `json:"break_glass_owners,omitempty"`
}

// SSOGroupRole maps one IdP group to a role.
type SSOGroupRole struct {
	Group string `json:"group" maxLength:"256"`
	Role  Role   `json:"role"`
}

// Audit actions of single sign-on. A sign-in records ids only: the
// account, never the assertion, token or IdP subject.
const (
	AuditSSOConfigure   AuditAction = "sso.configure"
	AuditSSORead        AuditAction = "sso.read"
	AuditSSOLogin       AuditAction = "sso.login"
	AuditSSOProvisioned AuditAction = "sso.provisioned"
)

// TargetSSO is an organisation's SSO configuration (target id: the tenant).
const TargetSSO = "sso"

// SSOService manages the organisation's SSO configuration.
type SSOService interface {
	// ConfigureSSO sets it (owner, signed in; audited sso.configure).
	ConfigureSSO(ctx context.Context, cfg SSOConfig) (*SSOConfig, error)
	// SSOConfiguration reads it, secrets left out (owner, admin).
	SSOConfiguration(ctx context.Context) (*SSOConfig, error)
	// DeleteSSO removes it (owner, signed in).
	DeleteSSO(ctx context.Context) error
}

// SSOSignIn is single sign-on itself: no principal, the identity
// provider's verified answer is the proof.
type SSOSignIn interface {
	// BeginSSO starts a sign-in with the organisation (by name); program
	// says the client wants the token pair as JSON at the end rather than
	// cookies and a redirect. returnTo, when not empty, is where the
	// browser goes back to afterwards: a relative /oauth/authorize?… URL
	// (oauth.ValidReturnTarget), kept sealed in the pending sign-in.
	BeginSSO(ctx context.Context, tenant string, program bool, returnTo string) (*SSOStart, error)
	FinishOIDC(ctx context.Context, tenant, pending string, callback url.Values) (*SSOSignedIn, error)
	FinishSAML(ctx context.Context, tenant, pending, samlResponse string) (*SSOSignedIn, error)
	// SAMLMetadata is the organisation's SP metadata XML.
	SAMLMetadata(ctx context.Context, tenant string) ([]byte, error)
}

// SSOStart is where the browser goes to sign in, and the pending sign-in
// it must bring back (sealed; the transport keeps it in a short-lived
// HttpOnly cookie).
type SSOStart struct {
	RedirectURL string `json:"redirect_url"`
	// Kind is "oidc" or "saml".
	Kind    string        `json:"-"`
	Pending string        `json:"-"`
	MaxAge  time.Duration `json:"-"`
}

// SSOSignedIn is a finished sign-in: the session's pair, and whether the
// sign-in was begun by a program (answer JSON) or a browser (cookies).
type SSOSignedIn struct {
	Tokens  *Tokens
	Program bool
	// ReturnTo is the return target BeginSSO was given (validated again),
	// or "" for the console.
	ReturnTo string
}
