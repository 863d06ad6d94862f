package saml

import (
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/engram-memory/engram/internal/sso"
)

// Attributes names the SAML attributes that carry each part of an Identity.
// Each list is tried in order and matches an attribute's Name or
// FriendlyName exactly; nil lists use the defaults, which cover the
// eduPerson/LDAP OIDs (SimpleSAMLphp, Shibboleth, crewjam), Azure AD / Entra ID
// and ADFS claim URIs, Okta and Google Workspace's usual names.
type Attributes struct {
	// Subject, when set, names an attribute that replaces the NameID as the
	// stable subject (needed when the IdP sends transient NameIDs).
	Subject []string
	Email   []string
	Name    []string
	Groups  []string
}

var (
	defaultEmail = []string{"urn:oid:0.9.2342.19200300.100.1.3", "mail", "email", "emailAddress",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}
	defaultName = []string{"urn:oid:2.16.840.1.113730.3.1.241", "displayName", "urn:oid:2.5.4.3", "cn", "name",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"}
	defaultGroups = []string{"groups", "memberOf", "urn:oid:1.3.6.1.4.1.5923.1.1.1.7", "eduPersonEntitlement",
		"urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "eduPersonAffiliation",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
)

func or(names, def []string) []string {
	if len(names) == 0 {
		return def
	}
	return names
}

// values returns the values of the first attribute in names that the
// assertion carries, across all its attribute statements.
func values(a *crewjam.Assertion, names []string) []string {
	for _, n := range names {
		var out []string
		found := false
		for _, st := range a.AttributeStatements {
			for _, attr := range st.Attributes {
				if attr.Name != n && attr.FriendlyName != n {
					continue
				}
				found = true
				for _, v := range attr.Values {
					if s := strings.TrimSpace(v.Value); s != "" {
						out = append(out, s)
					}
				}
			}
		}
		if found {
			return out
		}
	}
	return nil
}

func first(a *crewjam.Assertion, names []string) string {
	if v := values(a, names); len(v) > 0 {
		return v[0]
	}
	return ""
}

const transientNameID = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// identity reads an Identity from a verified assertion. trustEmails says the
// organisation vouches for the addresses its IdP asserts (EmailVerified).
func (m Attributes) identity(a *crewjam.Assertion, trustEmails bool) (sso.Identity, error) {
	var id sso.Identity
	if a.Issuer.Value != "" {
		id.Issuer = a.Issuer.Value
	}
	if len(m.Subject) > 0 {
		id.Subject = first(a, m.Subject)
	} else if a.Subject != nil && a.Subject.NameID != nil && a.Subject.NameID.Format != transientNameID {
		// A transient NameID changes at every sign-in: linking on it would
		// create a new account each time.
		id.Subject = strings.TrimSpace(a.Subject.NameID.Value)
	}
	if id.Subject == "" {
		return sso.Identity{}, sso.ErrNoSubject
	}
	id.Email = strings.ToLower(first(a, or(m.Email, defaultEmail)))
	id.EmailVerified = trustEmails && id.Email != ""
	id.Name = first(a, or(m.Name, defaultName))
	if id.Name == "" {
		id.Name = strings.TrimSpace(first(a, []string{"urn:oid:2.5.4.42", "givenName"}) + " " +
			first(a, []string{"urn:oid:2.5.4.4", "sn", "surname"}))
	}
	id.Groups = values(a, or(m.Groups, defaultGroups))
	return id, nil
}
