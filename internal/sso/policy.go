package sso

import (
	"fmt"
	"strings"

	"github.com/engram-memory/engram"
)

// GroupRole maps one IdP group to a role. Group matches exactly (IdPs send ids
// or names; case is significant in most of them).
type GroupRole struct {
	Group string
	Role  engram.Role
}

// Policy is an organisation's SSO configuration as far as membership goes,
// set by its owner. The zero Policy provisions nobody and enforces nothing.
type Policy struct {
	// JIT creates a membership at first sign-in for a person who is not yet a
	// member. Without it, only invited members (matched by Issuer+Subject, or
	// by a verified email on first link) may sign in through SSO.
	JIT bool
	// DefaultRole is the role JIT gives when no group maps; must be member or
	// reader (an IdP must not mint admins by default). Empty means reader.
	DefaultRole engram.Role
	// GroupRoles maps IdP groups to roles. The strongest matching role wins.
	// A mapping can never grant owner: ownership changes hands only by an
	// explicit transfer inside Engram.
	GroupRoles []GroupRole
	// SyncRoles re-applies GroupRoles at every sign-in of an existing member,
	// so removing someone from a group at the IdP demotes them at next login.
	// Owners are never changed by it.
	SyncRoles bool
	// AllowedDomains restricts SSO sign-in (and JIT) to verified emails of
	// these domains. Empty allows any domain.
	AllowedDomains []string
	// SSOOnly refuses password sign-in (and password-based API key creation
	// flows) for members, once SSO is configured.
	SSOOnly bool
	// BreakGlassOwners keeps password sign-in for owners under SSOOnly, so a
	// broken IdP cannot lock an organisation out of its own settings.
	BreakGlassOwners bool
}

// Validate checks a Policy before it is stored. Its error names the offending
// field, never a secret (a Policy holds none).
func (p Policy) Validate() error {
	if p.DefaultRole != "" && p.DefaultRole != engram.RoleMember && p.DefaultRole != engram.RoleReader {
		return fmt.Errorf("sso: default role must be member or reader, not %q", p.DefaultRole)
	}
	for i, g := range p.GroupRoles {
		if strings.TrimSpace(g.Group) == "" {
			return fmt.Errorf("sso: group mapping %d has no group", i)
		}
		if !g.Role.Valid() {
			return fmt.Errorf("sso: group mapping %d has unknown role %q", i, g.Role)
		}
		if g.Role == engram.RoleOwner {
			return fmt.Errorf("sso: group mapping %d may not grant owner", i)
		}
	}
	for i, d := range p.AllowedDomains {
		d = strings.TrimSpace(d)
		if d == "" || strings.ContainsAny(d, "@ /") || strings.HasPrefix(d, ".") {
			return fmt.Errorf("sso: allowed domain %d is not a bare domain name", i)
		}
	}
	return nil
}

// MappedRole returns the strongest role any of groups maps to, and false when
// none maps. Owner mappings (which Validate refuses) are ignored here too.
func (p Policy) MappedRole(groups []string) (engram.Role, bool) {
	var best engram.Role
	for _, m := range p.GroupRoles {
		if m.Role == engram.RoleOwner || !m.Role.Valid() {
			continue
		}
		for _, g := range groups {
			if g == m.Group && m.Role.Rank() > best.Rank() {
				best = m.Role
			}
		}
	}
	return best, best != ""
}

// Member is what the store knows of an existing membership, for Decide.
type Member struct {
	Role engram.Role
}

// Decision says what the engine must do with a verified Identity.
type Decision struct {
	// Create: make a new account and membership with Role (JIT).
	Create bool
	// Role the member has after this sign-in.
	Role engram.Role
	// RoleChanged: an existing member's role must be updated to Role (SyncRoles).
	// The engine audits the change like any role change.
	RoleChanged bool
}

// Decide applies the policy to a verified identity. existing is the membership
// already linked to (Issuer, Subject), or nil. It returns an error wrapping one
// of the package's sentinels when sign-in must be refused.
func (p Policy) Decide(id Identity, existing *Member) (Decision, error) {
	if strings.TrimSpace(id.Subject) == "" {
		return Decision{}, ErrNoSubject
	}
	if len(p.AllowedDomains) > 0 {
		// A domain rule trusts the address, so it needs the IdP's word for it.
		if !id.EmailVerified {
			return Decision{}, ErrEmailNotVerified
		}
		if !DomainAllowed(id.Email, p.AllowedDomains) {
			return Decision{}, ErrEmailDomain
		}
	}
	mapped, ok := p.MappedRole(id.Groups)
	if existing != nil {
		d := Decision{Role: existing.Role}
		if p.SyncRoles && existing.Role != engram.RoleOwner {
			target := mapped
			if !ok {
				target = p.defaultRole()
			}
			if target != existing.Role {
				d.Role, d.RoleChanged = target, true
			}
		}
		return d, nil
	}
	if !p.JIT {
		return Decision{}, ErrNotProvisioned
	}
	if ok {
		return Decision{Create: true, Role: mapped}, nil
	}
	return Decision{Create: true, Role: p.defaultRole()}, nil
}

func (p Policy) defaultRole() engram.Role {
	if p.DefaultRole == engram.RoleMember {
		return engram.RoleMember
	}
	return engram.RoleReader
}

// PasswordLoginAllowed is the SSO-only enforcement decision for a member with
// role trying to sign in with a password (or to reset one).
func (p Policy) PasswordLoginAllowed(role engram.Role) bool {
	if !p.SSOOnly {
		return true
	}
	return p.BreakGlassOwners && role == engram.RoleOwner
}

// MayLinkByEmail reports whether a first SSO sign-in may attach to an existing
// (invited or password) account found by email: only with an address the IdP
// verified and that the organisation's domain rule accepts. Otherwise an IdP
// user could claim someone else's account by typing their address.
func (p Policy) MayLinkByEmail(id Identity) bool {
	return id.EmailVerified && EmailDomain(id.Email) != "" && DomainAllowed(id.Email, p.AllowedDomains)
}
