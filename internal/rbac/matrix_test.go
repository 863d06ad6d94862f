package rbac_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

// allOps lists every operation independently of the Matrix, so a row left
// out of it (or an op nobody wrote a row for) fails TestComplete.
var allOps = []rbac.Op{
	rbac.MemoryCreate, rbac.MemoryRead, rbac.MemoryUpdate, rbac.MemoryDelete, rbac.MemoryDeleteAll, rbac.ScopeList,
	rbac.Observe, rbac.GraphRead, rbac.GraphWrite, rbac.GraphDelete, rbac.EntityMerge, rbac.EntityForget,
	rbac.KeyCreate, rbac.KeyList, rbac.KeyRevoke,
	rbac.AuditRead, rbac.AuditHold, rbac.AuditRetention,
	rbac.UserForget, rbac.TenantRotate, rbac.TenantExport, rbac.TenantImport, rbac.UserExport, rbac.ExportKeys, rbac.TenantSettings, rbac.TenantDelete,
	rbac.MemberList, rbac.MemberInvite, rbac.MemberRoleChange, rbac.MemberRemove, rbac.MemberLeave,
	rbac.OwnershipTransfer, rbac.SessionRevoke, rbac.SSORead, rbac.SSOConfigure, rbac.Profile,
}

func TestComplete(t *testing.T) {
	if len(rbac.Matrix) != len(allOps) {
		t.Errorf("Matrix has %d rows, %d operations exist", len(rbac.Matrix), len(allOps))
	}
	seen := map[rbac.Op]bool{}
	for _, r := range rbac.Matrix {
		if seen[r.Op] {
			t.Errorf("%s has two rows", r.Op)
		}
		seen[r.Op] = true
		if len(r.Reach) != 5 {
			t.Errorf("%s: %d roles, want 5", r.Op, len(r.Reach))
		}
		for _, role := range rbac.Roles {
			if _, ok := r.Reach[role]; !ok {
				t.Errorf("%s: no entry for %s", r.Op, role)
			}
		}
		if r.Reach[engram.RoleOwner] == rbac.No {
			t.Errorf("%s: the owner may not do it; then nobody can", r.Op)
		}
	}
	for _, op := range allOps {
		if !seen[op] {
			t.Errorf("no row for %s", op)
		}
	}
	if rbac.ReachOf("ghost", rbac.MemoryRead) != rbac.No || rbac.ReachOf(engram.RoleOwner, "made.up") != rbac.No {
		t.Error("unknown role or op is not refused")
	}
}

// TestMonotonic: owner ⊇ admin ⊇ operator ⊇ member ⊇ reader, op by op,
// as docs/SECURITY.md promises.
func TestMonotonic(t *testing.T) {
	for _, r := range rbac.Matrix {
		for i := 1; i < len(rbac.Roles); i++ {
			hi, lo := rbac.Roles[i-1], rbac.Roles[i]
			if r.Reach[lo] > r.Reach[hi] {
				t.Errorf("%s: %s has %s but %s only %s", r.Op, lo, r.Reach[lo], hi, r.Reach[hi])
			}
		}
	}
}

// TestRootAgrees: the keys each role may hold are exactly the root
// package's Role.Permissions, and every scope is a known permission.
func TestRootAgrees(t *testing.T) {
	for _, role := range rbac.Roles {
		derived := rbac.RolePermissions(role)
		want := role.Permissions()
		slices.Sort(derived)
		slices.Sort(want)
		if !slices.Equal(derived, want) {
			t.Errorf("%s: matrix gives keys %v, root package %v", role, derived, want)
		}
	}
}

// TestRecordAccess runs every record operation for every role against
// the three kinds of memory: the actor's own, another member's shared,
// another member's private. want is the full expected table.
func TestRecordAccess(t *testing.T) {
	type rel int
	const (
		own rel = iota
		shared
		private
	)
	records := map[rel]rbac.Record{
		own:     {AuthorID: "me", Private: true},
		shared:  {AuthorID: "them"},
		private: {AuthorID: "them", Private: true},
	}
	// [op][role] -> allowed on (own, others' shared, others' private)
	want := map[rbac.Op]map[engram.Role][3]bool{
		rbac.MemoryRead: {
			engram.RoleOwner: {true, true, true}, engram.RoleAdmin: {true, true, false}, engram.RoleOperator: {true, true, false},
			engram.RoleMember: {true, true, false}, engram.RoleReader: {true, true, false},
		},
		rbac.MemoryUpdate: {
			engram.RoleOwner: {true, true, true}, engram.RoleAdmin: {true, true, false}, engram.RoleOperator: {true, true, false},
			engram.RoleMember: {true, false, false}, engram.RoleReader: {false, false, false},
		},
		rbac.MemoryDelete: {
			engram.RoleOwner: {true, true, true}, engram.RoleAdmin: {true, true, false}, engram.RoleOperator: {true, true, false},
			engram.RoleMember: {true, false, false}, engram.RoleReader: {false, false, false},
		},
		rbac.MemoryDeleteAll: {
			engram.RoleOwner: {true, true, true}, engram.RoleAdmin: {true, true, false}, engram.RoleOperator: {true, true, false},
			engram.RoleMember: {true, false, false}, engram.RoleReader: {false, false, false},
		},
		rbac.KeyRevoke: { // keys are always "private" to their creator
			engram.RoleOwner: {true, true, true}, engram.RoleAdmin: {true, true, true}, engram.RoleOperator: {true, false, false},
			engram.RoleMember: {true, false, false}, engram.RoleReader: {true, false, false},
		},
	}
	for op, byRole := range want {
		for role, w := range byRole {
			reach, err := rbac.Authorize(rbac.Actor{AccountID: "me", Role: role}, op)
			for rl, rec := range records {
				// Keys and sessions are owned, never shared.
				if op == rbac.KeyRevoke {
					rec.Private = true
				}
				got := err == nil && rbac.Allows(reach, "me", rec)
				if got != w[rl] {
					t.Errorf("%s by %s on %v record: %v, want %v", op, role, rl, got, w[rl])
				}
				f := rbac.Filter{Reach: reach, AuthorID: "me"}
				if err == nil && f.Match(rec) != got {
					t.Errorf("%s by %s: Filter disagrees with Allows", op, role)
				}
			}
		}
	}
	// Memories from before accounts: no author, shared; an empty actor id
	// owns nothing.
	if rbac.Allows(rbac.Own, "", rbac.Record{}) || !rbac.Allows(rbac.Shared, "x", rbac.Record{}) {
		t.Error("authorless records handled wrongly")
	}
	if rbac.Allows(rbac.No, "me", records[own]) {
		t.Error("reach No allowed something")
	}
}

// TestKeysVersusSessions: a key needs the row's scope as well as the role,
// and never does a session-only operation; a session needs only the role.
func TestKeysVersusSessions(t *testing.T) {
	for _, r := range rbac.Matrix {
		for _, role := range rbac.Roles {
			session := rbac.Actor{AccountID: "me", Role: role}
			reach, err := rbac.Authorize(session, r.Op)
			if (err == nil) != (r.Reach[role] != rbac.No) || (err == nil && reach != r.Reach[role]) {
				t.Errorf("session %s %s: %v %v", role, r.Op, reach, err)
			}
			full := rbac.Actor{AccountID: "me", Role: role, Key: true, Scopes: rbac.RolePermissions(role)}
			_, err = rbac.Authorize(full, r.Op)
			// Allowed when the role may, the row is not session-only,
			// and the role can hold the scope at all (a member cannot
			// hold keys:admin, so its keys cannot mint keys; an admin's
			// can).
			wantKey := r.Reach[role] != rbac.No && r.Scope != rbac.SessionOnly && slices.Contains(rbac.RolePermissions(role), r.Scope)
			if (err == nil) != wantKey {
				t.Errorf("key of %s with all its scopes, %s: %v, want allowed=%v", role, r.Op, err, wantKey)
			}
			if err != nil && !errors.Is(err, rbac.ErrForbidden) {
				t.Errorf("error %v", err)
			}
			// A key without the row's scope never passes.
			var others []engram.Permission
			for _, p := range rbac.RolePermissions(role) {
				if p != r.Scope {
					others = append(others, p)
				}
			}
			if _, err := rbac.Authorize(rbac.Actor{AccountID: "me", Role: role, Key: true, Scopes: others}, r.Op); err == nil {
				t.Errorf("key of %s without %q passed %s", role, r.Scope, r.Op)
			}
		}
	}
	// Spelled out: a member signed in manages its own keys, but its keys
	// cannot mint keys; an admin's key can.
	if reach, err := rbac.Authorize(rbac.Actor{AccountID: "me", Role: engram.RoleMember}, rbac.KeyCreate); err != nil || reach != rbac.Own {
		t.Errorf("member session creating a key: %v %v", reach, err)
	}
	if _, err := rbac.Authorize(rbac.Actor{AccountID: "me", Role: engram.RoleMember, Key: true, Scopes: rbac.RolePermissions(engram.RoleMember)}, rbac.KeyCreate); err == nil {
		t.Error("a member's key created a key")
	}
	if _, err := rbac.Authorize(rbac.Actor{AccountID: "me", Role: engram.RoleAdmin, Key: true, Scopes: []engram.Permission{engram.PermKeysAdmin}}, rbac.KeyCreate); err != nil {
		t.Errorf("an admin's keys:admin key: %v", err)
	}
}
