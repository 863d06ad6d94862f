// Package sso holds what every single sign-on protocol hands the rest of
// Engram: an Identity asserted by an organisation's identity provider, and the
// pure rules that turn it into a membership (just-in-time provisioning, group →
// role mapping, email-domain checks, SSO-only enforcement).
//
// The protocol packages (sso/oidc, sso/saml) verify what the IdP says and
// produce an Identity; nothing here does I/O, so the engine can apply the same
// Policy whichever protocol signed the user in, and tests are table tests.
package sso

import (
	"errors"
	"strings"
)

// Identity is what an identity provider asserted about a person, after the
// protocol package verified it. It carries no secret.
type Identity struct {
	// Subject is the IdP's stable, never-reassigned identifier for the person
	// (OIDC "sub", SAML NameID, GitHub's numeric user id). Accounts link on
	// (Issuer, Subject), never on Email, which an IdP may reassign.
	Subject string
	// Issuer names the IdP (OIDC issuer URL, SAML entity id, "https://github.com").
	Issuer string
	// Email as the IdP states it, lower-cased; may be empty.
	Email string
	// EmailVerified is true only when the IdP vouches for the address.
	EmailVerified bool
	// Name is a display name; may be empty.
	Name string
	// Groups are the IdP's group names or ids, as sent, for role mapping.
	Groups []string
}

// Errors the protocol packages and the Policy return. The engine maps all of
// them to "unauthenticated" or "forbidden" without echoing IdP details.
var (
	// ErrNoSubject: the IdP asserted no subject; such an identity cannot be linked.
	ErrNoSubject = errors.New("sso: identity has no subject")
	// ErrEmailNotVerified: a rule needed a verified email and the IdP did not vouch for it.
	ErrEmailNotVerified = errors.New("sso: email not verified by the identity provider")
	// ErrEmailDomain: the email's domain is not among the organisation's allowed domains.
	ErrEmailDomain = errors.New("sso: email domain not allowed")
	// ErrNotProvisioned: the person is not a member and just-in-time provisioning is off.
	ErrNotProvisioned = errors.New("sso: not a member and just-in-time provisioning is disabled")
)

// EmailDomain returns the lower-cased domain of an address, or "" when the
// address has no single '@' followed by a non-empty domain.
func EmailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.Count(email, "@") != 1 {
		return ""
	}
	return strings.ToLower(email[at+1:])
}

// DomainAllowed reports whether email's domain is exactly one of allowed
// (case-insensitive). Subdomains do not match implicitly: "a.example.com" is
// not "example.com", because a parent domain's owner does not necessarily
// control every subdomain's mailboxes. An empty list allows every domain.
func DomainAllowed(email string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	d := EmailDomain(email)
	if d == "" {
		return false
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(a), d) {
			return true
		}
	}
	return false
}
