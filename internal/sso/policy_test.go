package sso_test

import (
	"errors"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/sso"
)

func TestDomainAllowed(t *testing.T) {
	cases := []struct {
		email   string
		allowed []string
		want    bool
	}{
		{"a@example.com", nil, true},
		{"a@Example.COM", []string{"example.com"}, true},
		{"a@sub.example.com", []string{"example.com"}, false},
		{"a@example.com.evil.io", []string{"example.com"}, false},
		{"a@evil.io", []string{"example.com", "example.org"}, false},
		{"a@example.org", []string{"example.com", " example.org "}, true},
		{"no-at-sign", []string{"example.com"}, false},
		{"a@b@example.com", []string{"example.com"}, false},
		{"a@", []string{"example.com"}, false},
		{"@example.com", []string{"example.com"}, false},
	}
	for _, c := range cases {
		if got := sso.DomainAllowed(c.email, c.allowed); got != c.want {
			t.Errorf("DomainAllowed(%q, %v) = %v, want %v", c.email, c.allowed, got, c.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := []sso.Policy{
		{DefaultRole: engram.RoleAdmin},
		{DefaultRole: engram.RoleOwner},
		{GroupRoles: []sso.GroupRole{{Group: "g", Role: engram.RoleOwner}}},
		{GroupRoles: []sso.GroupRole{{Group: "g", Role: "root"}}},
		{GroupRoles: []sso.GroupRole{{Group: " ", Role: engram.RoleMember}}},
		{AllowedDomains: []string{"user@example.com"}},
		{AllowedDomains: []string{".example.com"}},
		{AllowedDomains: []string{""}},
	}
	for i, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("policy %d: Validate accepted %+v", i, p)
		}
	}
	good := sso.Policy{JIT: true, DefaultRole: engram.RoleMember, AllowedDomains: []string{"example.com"},
		GroupRoles: []sso.GroupRole{{Group: "eng", Role: engram.RoleAdmin}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
}

func TestPolicyDecide(t *testing.T) {
	mapping := []sso.GroupRole{
		{Group: "readers", Role: engram.RoleReader},
		{Group: "eng", Role: engram.RoleMember},
		{Group: "ops", Role: engram.RoleOperator},
		{Group: "it-admins", Role: engram.RoleAdmin},
		{Group: "owners", Role: engram.RoleOwner}, // ignored: mapping never grants owner
	}
	alice := sso.Identity{Subject: "s1", Issuer: "https://idp", Email: "alice@example.com", EmailVerified: true}
	withGroups := func(id sso.Identity, g ...string) sso.Identity { id.Groups = g; return id }
	unverified := alice
	unverified.EmailVerified = false
	foreign := alice
	foreign.Email = "alice@elsewhere.net"

	cases := []struct {
		name     string
		policy   sso.Policy
		id       sso.Identity
		existing *sso.Member
		want     sso.Decision
		err      error
	}{
		{"no subject", sso.Policy{JIT: true}, sso.Identity{Email: "a@example.com"}, nil, sso.Decision{}, sso.ErrNoSubject},
		{"jit off, stranger", sso.Policy{}, alice, nil, sso.Decision{}, sso.ErrNotProvisioned},
		{"jit default reader", sso.Policy{JIT: true}, alice, nil, sso.Decision{Create: true, Role: engram.RoleReader}, nil},
		{"jit default member", sso.Policy{JIT: true, DefaultRole: engram.RoleMember}, alice, nil, sso.Decision{Create: true, Role: engram.RoleMember}, nil},
		{"jit strongest group wins", sso.Policy{JIT: true, GroupRoles: mapping}, withGroups(alice, "eng", "it-admins", "readers"), nil, sso.Decision{Create: true, Role: engram.RoleAdmin}, nil},
		{"owner group never grants owner", sso.Policy{JIT: true, GroupRoles: mapping}, withGroups(alice, "owners"), nil, sso.Decision{Create: true, Role: engram.RoleReader}, nil},
		{"group names are exact", sso.Policy{JIT: true, GroupRoles: mapping}, withGroups(alice, "ENG", "eng-team"), nil, sso.Decision{Create: true, Role: engram.RoleReader}, nil},
		{"domain ok", sso.Policy{JIT: true, AllowedDomains: []string{"example.com"}}, alice, nil, sso.Decision{Create: true, Role: engram.RoleReader}, nil},
		{"domain refused", sso.Policy{JIT: true, AllowedDomains: []string{"example.com"}}, foreign, nil, sso.Decision{}, sso.ErrEmailDomain},
		{"domain rule needs verified email", sso.Policy{JIT: true, AllowedDomains: []string{"example.com"}}, unverified, nil, sso.Decision{}, sso.ErrEmailNotVerified},
		{"domain rule applies to members too", sso.Policy{AllowedDomains: []string{"example.com"}}, foreign, &sso.Member{Role: engram.RoleMember}, sso.Decision{}, sso.ErrEmailDomain},
		{"existing member kept without sync", sso.Policy{GroupRoles: mapping}, withGroups(alice, "it-admins"), &sso.Member{Role: engram.RoleMember}, sso.Decision{Role: engram.RoleMember}, nil},
		{"sync promotes", sso.Policy{GroupRoles: mapping, SyncRoles: true}, withGroups(alice, "ops"), &sso.Member{Role: engram.RoleMember}, sso.Decision{Role: engram.RoleOperator, RoleChanged: true}, nil},
		{"sync demotes to default when groups gone", sso.Policy{GroupRoles: mapping, SyncRoles: true}, alice, &sso.Member{Role: engram.RoleAdmin}, sso.Decision{Role: engram.RoleReader, RoleChanged: true}, nil},
		{"sync unchanged", sso.Policy{GroupRoles: mapping, SyncRoles: true}, withGroups(alice, "eng"), &sso.Member{Role: engram.RoleMember}, sso.Decision{Role: engram.RoleMember}, nil},
		{"sync never touches owner", sso.Policy{GroupRoles: mapping, SyncRoles: true}, withGroups(alice, "readers"), &sso.Member{Role: engram.RoleOwner}, sso.Decision{Role: engram.RoleOwner}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.policy.Decide(c.id, c.existing)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got != c.want {
				t.Fatalf("decision = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestPasswordLoginAllowed(t *testing.T) {
	cases := []struct {
		p    sso.Policy
		role engram.Role
		want bool
	}{
		{sso.Policy{}, engram.RoleMember, true},
		{sso.Policy{SSOOnly: true}, engram.RoleMember, false},
		{sso.Policy{SSOOnly: true}, engram.RoleOwner, false},
		{sso.Policy{SSOOnly: true, BreakGlassOwners: true}, engram.RoleOwner, true},
		{sso.Policy{SSOOnly: true, BreakGlassOwners: true}, engram.RoleAdmin, false},
	}
	for i, c := range cases {
		if got := c.p.PasswordLoginAllowed(c.role); got != c.want {
			t.Errorf("case %d: PasswordLoginAllowed(%s) = %v, want %v", i, c.role, got, c.want)
		}
	}
}

func TestMayLinkByEmail(t *testing.T) {
	p := sso.Policy{AllowedDomains: []string{"example.com"}}
	if !p.MayLinkByEmail(sso.Identity{Subject: "s", Email: "a@example.com", EmailVerified: true}) {
		t.Error("verified address of an allowed domain must link")
	}
	if p.MayLinkByEmail(sso.Identity{Subject: "s", Email: "a@example.com"}) {
		t.Error("unverified address must not link")
	}
	if p.MayLinkByEmail(sso.Identity{Subject: "s", Email: "a@other.com", EmailVerified: true}) {
		t.Error("address outside the allowed domains must not link")
	}
	if (sso.Policy{}).MayLinkByEmail(sso.Identity{Subject: "s", Email: "", EmailVerified: true}) {
		t.Error("empty address must not link")
	}
}
