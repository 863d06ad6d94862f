// Package saml is Engram's SAML 2.0 service provider, one per organisation,
// built on crewjam/saml (with goxmldsig ≥ 1.6.1): SP metadata, AuthnRequests
// over the HTTP-Redirect binding, and an assertion consumer that checks the
// IdP's signature (on the Response or on the Assertion), audience, recipient
// and destination, NotBefore/NotOnOrAfter, InResponseTo, decrypts encrypted
// assertions, and refuses replays through a ReplayCache shared by every node.
// Verified attributes become an sso.Identity; sso.Policy maps its groups to
// roles.
//
// Like sso/oidc it routes nothing and stores nothing: Begin returns the IdP
// URL and the Pending request to keep in the browser's session; Finish takes
// the SAMLResponse form value posted to the ACS.
package saml

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/engram-memory/engram/internal/sso"
)

// Config is one organisation's SAML service provider. Key is secret.
type Config struct {
	// Scope keys the replay cache: the organisation (tenant) id.
	Scope string
	// EntityID, ACSURL and MetadataURL are this SP's, e.g.
	// https://engram.example/v1/sso/saml/ORG/{metadata,acs}. EntityID
	// defaults to MetadataURL.
	EntityID, ACSURL, MetadataURL string
	// IDPMetadata is the IdP's metadata XML (uploaded or fetched by the owner).
	IDPMetadata []byte
	// Key signs AuthnRequests (when SignRequests) and decrypts encrypted
	// assertions; Certificate is its public half, published in the metadata.
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	// DecryptionKeys are earlier keys still accepted for decryption while
	// rotating the SP key.
	DecryptionKeys []*rsa.PrivateKey
	SignRequests   bool
	// Attributes maps attributes to identity fields (defaults cover the
	// common IdPs).
	Attributes Attributes
	// TrustEmails: the organisation vouches for the emails its IdP asserts,
	// so they count as verified (needed by domain rules and email linking).
	TrustEmails bool
	// RequireEncryption refuses assertions the IdP sent unencrypted (the
	// browser, its extensions and any TLS-terminating proxy then never see
	// the attributes in the clear).
	RequireEncryption bool
	// ReplayCache is required: without it a captured assertion could be
	// posted again until it expires.
	ReplayCache ReplayCache
	// Now is the clock for pending-login age; nil means time.Now.
	Now func() time.Time
	// LoginTimeout bounds Begin → Finish (default 10 min).
	LoginTimeout time.Duration
}

// Errors Finish returns, wrapped. They name the failed check and nothing of
// the assertion (its content is personal data and never logged).
var (
	ErrSignature    = errors.New("saml: missing or invalid signature")
	ErrAudience     = errors.New("saml: audience is not this service provider")
	ErrExpired      = errors.New("saml: assertion expired or not yet valid")
	ErrRequestID    = errors.New("saml: response is not for this login")
	ErrDestination  = errors.New("saml: response sent to another recipient")
	ErrIssuer       = errors.New("saml: response from another identity provider")
	ErrInvalid      = errors.New("saml: invalid response")
	ErrLoginExpired = errors.New("saml: login attempt expired")
	ErrNotEncrypted = errors.New("saml: assertion was not encrypted")
)

// SP is one organisation's service provider; safe for concurrent use.
type SP struct {
	cfg Config
	sp  crewjam.ServiceProvider
	acs url.URL
}

// New checks the configuration and parses the IdP metadata.
func New(cfg Config) (*SP, error) {
	if cfg.Key == nil || cfg.Certificate == nil {
		return nil, errors.New("saml: key and certificate are required")
	}
	if cfg.ReplayCache == nil {
		return nil, errors.New("saml: a replay cache is required")
	}
	if cfg.Scope == "" {
		return nil, errors.New("saml: scope (organisation id) is required")
	}
	acs, err := absURL(cfg.ACSURL)
	if err != nil {
		return nil, fmt.Errorf("saml: ACS URL: %w", err)
	}
	meta, err := absURL(cfg.MetadataURL)
	if err != nil {
		return nil, fmt.Errorf("saml: metadata URL: %w", err)
	}
	idp, err := samlsp.ParseMetadata(cfg.IDPMetadata)
	if err != nil {
		return nil, fmt.Errorf("saml: IdP metadata: %w", err)
	}
	s := &SP{cfg: cfg, acs: *acs}
	s.sp = crewjam.ServiceProvider{
		EntityID:          cfg.EntityID,
		Key:               cfg.Key,
		Certificate:       cfg.Certificate,
		DecryptionKeys:    cfg.DecryptionKeys,
		MetadataURL:       *meta,
		AcsURL:            *acs,
		IDPMetadata:       idp,
		AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat,
		// Only HTTP-POST: artifact resolution would need an outbound SOAP
		// call from the server, which is not wired.
		AssertionConsumerServiceBindings: []string{crewjam.HTTPPostBinding},
		RejectSHA1Signatures:             true,
		RequireSignedResponseForCBC:      false, // see docs/IDENTITY.md: most IdPs sign only the assertion
		MetadataValidDuration:            7 * 24 * time.Hour,
		// RelayState crosses the IdP unprotected; keep it a short reference.
		LimitRelayStateLength: true,
	}
	if cfg.SignRequests {
		s.sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return s, nil
}

func absURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("must be an absolute http(s) URL")
	}
	return u, nil
}

// Metadata returns this SP's metadata XML, for the IdP's administrator.
func (s *SP) Metadata() ([]byte, error) {
	b, err := xml.MarshalIndent(s.sp.Metadata(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// EntityID is the SP's entity id (its audience).
func (s *SP) EntityID() string { return s.sp.Metadata().EntityID }

// Pending is what the caller keeps in the browser's session between Begin
// and Finish: the AuthnRequest id the response must answer.
type Pending struct {
	RequestID string    `json:"request_id"`
	Created   time.Time `json:"created"`
}

// Begin makes an AuthnRequest and returns the IdP URL (HTTP-Redirect
// binding) to send the browser to. relayState travels to the IdP and back
// unprotected: pass an opaque, short session reference, never a secret.
func (s *SP) Begin(relayState string) (redirectURL string, pending Pending, err error) {
	loc := s.sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding)
	if loc == "" {
		return "", Pending{}, errors.New("saml: IdP metadata has no HTTP-Redirect SSO endpoint")
	}
	req, err := s.sp.MakeAuthenticationRequest(loc, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return "", Pending{}, fmt.Errorf("saml: authn request: %w", err)
	}
	u, err := req.Redirect(relayState, &s.sp)
	if err != nil {
		return "", Pending{}, fmt.Errorf("saml: authn request: %w", err)
	}
	return u.String(), Pending{RequestID: req.ID, Created: s.now()}, nil
}

// Result is a verified sign-in.
type Result struct {
	Identity sso.Identity
	// AssertionID is for the audit trail (ids only).
	AssertionID  string
	SessionIndex string
}

// maxResponse bounds the base64 SAMLResponse accepted (crewjam bounds the
// XML structure itself).
const maxResponse = 512 << 10

// Finish verifies the SAMLResponse form value posted to the ACS for the
// login in pending. The caller deletes pending from the session whatever the
// outcome. Every refusal wraps one of the package's errors.
func (s *SP) Finish(ctx context.Context, pending Pending, samlResponse string) (Result, error) {
	if pending.RequestID == "" {
		return Result{}, ErrRequestID
	}
	if s.now().Sub(pending.Created) > s.loginTimeout() {
		return Result{}, ErrLoginExpired
	}
	if len(samlResponse) > maxResponse {
		return Result{}, fmt.Errorf("%w: response too large", ErrInvalid)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(samlResponse))
	if err != nil || !bytes.Contains(raw, []byte("Response")) {
		return Result{}, fmt.Errorf("%w: not a base64 SAML response", ErrInvalid)
	}
	sp := s.sp // a per-request copy, so the replay cache sees this ctx and scope
	sp.ReplayCache = boundCache{ctx: ctx, scope: s.cfg.Scope, cache: s.cfg.ReplayCache}
	a, err := sp.ParseXMLResponse(raw, []string{pending.RequestID}, s.acs)
	if err != nil {
		return Result{}, classify(err, raw)
	}
	if s.cfg.RequireEncryption && !encrypted(raw) {
		return Result{}, ErrNotEncrypted
	}
	id, err := s.cfg.Attributes.identity(a, s.cfg.TrustEmails)
	if err != nil {
		return Result{}, err
	}
	r := Result{Identity: id, AssertionID: a.ID}
	for _, st := range a.AuthnStatements {
		if st.SessionIndex != "" {
			r.SessionIndex = st.SessionIndex
		}
	}
	return r, nil
}

// encrypted reports whether the Response (already verified by crewjam)
// carries its assertion only as an EncryptedAssertion.
func encrypted(raw []byte) bool {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return false
	}
	enc := false
	for _, el := range doc.Root().ChildElements() {
		switch el.Tag {
		case "Assertion":
			return false
		case "EncryptedAssertion":
			enc = true
		}
	}
	return enc
}

// classify reduces crewjam's error (whose details may quote the assertion)
// to the check that failed. crewjam does not export the error for a missing
// signature, so a refusal of a response holding no signature value and no
// encrypted assertion is labelled ErrSignature; the label is only a label,
// crewjam has already refused.
func classify(err error, raw []byte) error {
	kind := ErrInvalid
	switch {
	case errors.Is(err, crewjam.ErrAssertionReplayed):
		kind = ErrReplayed
	case errors.Is(err, crewjam.ErrInvalidSignature), errors.Is(err, crewjam.ErrUntrustedCertificate),
		errors.Is(err, crewjam.ErrCertificateNotValidNow):
		kind = ErrSignature
	case errors.Is(err, crewjam.ErrAudienceMismatch):
		kind = ErrAudience
	case errors.Is(err, crewjam.ErrExpired), errors.Is(err, crewjam.ErrNotYetValid):
		kind = ErrExpired
	case errors.Is(err, crewjam.ErrRequestIDMismatch):
		kind = ErrRequestID
	case errors.Is(err, crewjam.ErrDestinationMismatch):
		kind = ErrDestination
	case errors.Is(err, crewjam.ErrIssuerMismatch):
		kind = ErrIssuer
	case !bytes.Contains(raw, []byte("SignatureValue")) && !bytes.Contains(raw, []byte("EncryptedAssertion")):
		kind = ErrSignature
	}
	return fmt.Errorf("saml: assertion refused: %w", kind)
}

func (s *SP) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func (s *SP) loginTimeout() time.Duration {
	if s.cfg.LoginTimeout <= 0 {
		return 10 * time.Minute
	}
	return s.cfg.LoginTimeout
}
