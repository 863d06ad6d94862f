package rbac_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

func actor(role engram.Role) rbac.Actor { return rbac.Actor{AccountID: "actor", Role: role} }

// TestCanGrant over every pair: at most one's own role, owner only by an
// owner.
func TestCanGrant(t *testing.T) {
	for i, a := range rbac.Roles {
		for j, r := range rbac.Roles {
			want := j >= i // Roles is strongest first
			if got := rbac.CanGrant(a, r); got != want {
				t.Errorf("CanGrant(%s, %s) = %v, want %v", a, r, got, want)
			}
		}
		if rbac.CanGrant(a, "superuser") || rbac.CanGrant("", a) {
			t.Errorf("unknown role granted")
		}
	}
}

func TestCheckInvite(t *testing.T) {
	for _, a := range rbac.Roles {
		for _, r := range rbac.Roles {
			err := rbac.CheckInvite(actor(a), r)
			want := rbac.Rank(a) >= rbac.Rank(engram.RoleAdmin) && rbac.CanGrant(a, r)
			if (err == nil) != want {
				t.Errorf("%s invites %s: %v, want allowed=%v", a, r, err, want)
			}
		}
	}
	if err := rbac.CheckInvite(actor(engram.RoleAdmin), engram.RoleOwner); !errors.Is(err, rbac.ErrForbidden) {
		t.Errorf("admin invites owner: %v", err)
	}
	if err := rbac.CheckInvite(actor(engram.RoleOwner), "root"); !errors.Is(err, rbac.ErrRole) {
		t.Errorf("unknown role: %v", err)
	}
}

// TestCheckRoleChange over every actor × target role × new role, with one
// owner and with two.
func TestCheckRoleChange(t *testing.T) {
	for _, a := range rbac.Roles {
		for _, from := range rbac.Roles {
			for _, to := range rbac.Roles {
				for _, owners := range []int{1, 2} {
					err := rbac.CheckRoleChange(actor(a), rbac.Member{AccountID: "target", Role: from}, to, owners)
					var want error
					switch {
					case rbac.Rank(a) < rbac.Rank(engram.RoleAdmin):
						want = rbac.ErrForbidden
					case rbac.Rank(from) > rbac.Rank(a) || !rbac.CanGrant(a, to):
						want = rbac.ErrForbidden
					case from == engram.RoleOwner && to != engram.RoleOwner && owners == 1:
						want = rbac.ErrLastOwner
					}
					if !errors.Is(err, want) || (want == nil && err != nil) {
						t.Errorf("%s changes %s to %s (%d owners): %v, want %v", a, from, to, owners, err, want)
					}
				}
			}
		}
	}
	// The named cases of the issue.
	if err := rbac.CheckRoleChange(actor(engram.RoleOwner), rbac.Member{AccountID: "actor", Role: engram.RoleOwner}, engram.RoleAdmin, 1); !errors.Is(err, rbac.ErrLastOwner) {
		t.Errorf("last owner demotes itself: %v", err)
	}
	if err := rbac.CheckRoleChange(actor(engram.RoleAdmin), rbac.Member{AccountID: "actor", Role: engram.RoleAdmin}, engram.RoleOwner, 1); !errors.Is(err, rbac.ErrForbidden) {
		t.Errorf("admin makes itself owner: %v", err)
	}
	if err := rbac.CheckRoleChange(actor(engram.RoleAdmin), rbac.Member{AccountID: "o", Role: engram.RoleOwner}, engram.RoleReader, 2); !errors.Is(err, rbac.ErrForbidden) {
		t.Errorf("admin demotes an owner: %v", err)
	}
}

func TestCheckRemove(t *testing.T) {
	for _, a := range rbac.Roles {
		for _, target := range rbac.Roles {
			for _, owners := range []int{1, 2} {
				err := rbac.CheckRemove(actor(a), rbac.Member{AccountID: "target", Role: target}, owners)
				var want error
				switch {
				case rbac.Rank(a) < rbac.Rank(engram.RoleAdmin) || rbac.Rank(target) > rbac.Rank(a):
					want = rbac.ErrForbidden
				case target == engram.RoleOwner && owners == 1:
					want = rbac.ErrLastOwner
				}
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Errorf("%s removes %s (%d owners): %v, want %v", a, target, owners, err, want)
				}
			}
			// Leaving: every role may, except the last owner.
			if target != a {
				continue
			}
			err := rbac.CheckRemove(actor(a), rbac.Member{AccountID: "actor", Role: a}, 1)
			if a == engram.RoleOwner {
				if !errors.Is(err, rbac.ErrLastOwner) {
					t.Errorf("last owner leaves: %v", err)
				}
			} else if err != nil {
				t.Errorf("%s leaves: %v", a, err)
			}
			if err := rbac.CheckRemove(actor(a), rbac.Member{AccountID: "actor", Role: a}, 2); err != nil {
				t.Errorf("%s leaves with two owners: %v", a, err)
			}
		}
	}
	// A key cannot make its account leave (session only).
	k := rbac.Actor{AccountID: "actor", Role: engram.RoleMember, Key: true, Scopes: rbac.RolePermissions(engram.RoleMember)}
	if err := rbac.CheckRemove(k, rbac.Member{AccountID: "actor", Role: engram.RoleMember}, 1); !errors.Is(err, rbac.ErrForbidden) {
		t.Errorf("leave with a key: %v", err)
	}
}

func TestTransfer(t *testing.T) {
	ch, err := rbac.Transfer(actor(engram.RoleOwner), rbac.Member{AccountID: "m", Role: engram.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	want := []rbac.Change{{AccountID: "m", From: engram.RoleMember, To: engram.RoleOwner}, {AccountID: "actor", From: engram.RoleOwner, To: engram.RoleAdmin}}
	if !slices.Equal(ch, want) {
		t.Errorf("Transfer = %+v", ch)
	}
	for _, a := range rbac.Roles[1:] {
		if _, err := rbac.Transfer(actor(a), rbac.Member{AccountID: "m", Role: engram.RoleMember}); !errors.Is(err, rbac.ErrForbidden) {
			t.Errorf("%s transfers ownership: %v", a, err)
		}
	}
	if _, err := rbac.Transfer(actor(engram.RoleOwner), rbac.Member{AccountID: "actor", Role: engram.RoleOwner}); err == nil {
		t.Error("transfer to oneself")
	}
	key := rbac.Actor{AccountID: "actor", Role: engram.RoleOwner, Key: true, Scopes: rbac.RolePermissions(engram.RoleOwner)}
	if _, err := rbac.Transfer(key, rbac.Member{AccountID: "m", Role: engram.RoleMember}); !errors.Is(err, rbac.ErrForbidden) {
		t.Errorf("transfer with an API key: %v", err)
	}
}

// TestKeysNeverExceedRole: for every role, creating a key with any scope
// outside the role is refused, and a demotion shrinks existing keys.
func TestKeysNeverExceedRole(t *testing.T) {
	every := rbac.RolePermissions(engram.RoleOwner)
	for _, role := range rbac.Roles {
		allowed := rbac.RolePermissions(role)
		got, err := rbac.KeyScopes(role, nil)
		if err != nil || !slices.Equal(got, allowed) {
			t.Errorf("%s default scopes %v, %v", role, got, err)
		}
		for _, p := range every {
			_, err := rbac.KeyScopes(role, []engram.Permission{engram.PermMemoriesRead, p})
			inRole := slices.Contains(allowed, p) && slices.Contains(allowed, engram.PermMemoriesRead)
			if (err == nil) != inRole {
				t.Errorf("%s key with %s: %v", role, p, err)
			}
		}
		eff := rbac.EffectiveScopes(role, every)
		slices.Sort(eff)
		a := slices.Clone(allowed)
		slices.Sort(a)
		if !slices.Equal(eff, a) {
			t.Errorf("owner-scoped key held by a %s acts with %v, want %v", role, eff, a)
		}
	}
	if _, err := rbac.KeyScopes("ghost", nil); !errors.Is(err, rbac.ErrRole) {
		t.Errorf("unknown role: %v", err)
	}
	got, _ := rbac.KeyScopes(engram.RoleMember, []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesRead})
	if len(got) != 1 {
		t.Errorf("duplicates kept: %v", got)
	}
	// The permissions that let a key manage others never reach the
	// roles below admin.
	for _, role := range []engram.Role{engram.RoleOperator, engram.RoleMember, engram.RoleReader} {
		for _, p := range []engram.Permission{engram.PermKeysAdmin, rbac.PermMembersAdmin, engram.PermAuditRead, rbac.PermTenantAdmin} {
			if slices.Contains(rbac.RolePermissions(role), p) {
				t.Errorf("%s may hold %s", role, p)
			}
		}
	}
}
