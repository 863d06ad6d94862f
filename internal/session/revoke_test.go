package session_test

import (
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/session"
)

var roles = []engram.Role{engram.RoleOwner, engram.RoleAdmin, engram.RoleOperator, engram.RoleMember, engram.RoleReader}

func TestLogoutOneAndEverywhere(t *testing.T) {
	s, iss := newStore(t)
	a1, ga1 := s.login(t, iss, t0, "t1", "alice")
	a2, ga2 := s.login(t, iss, t0, "t1", "alice")
	a3, ga3 := s.login(t, iss, t0, "t1", "alice")
	b1, gb1 := s.login(t, iss, t0, "t1", "bob")
	x1, gx1 := s.login(t, iss, t0, "t2", "alice") // same account id in another tenant
	now := t0.Add(time.Minute)

	// Logout of one session.
	r := session.RevokeFamily(now, a1, session.ReasonLogout)
	changed := 0
	for _, f := range s.families {
		if r.Apply(f) {
			changed++
		}
	}
	if changed != 1 || !a1.Revoked() || a2.Revoked() {
		t.Fatalf("logout changed %d families", changed)
	}
	if err := s.check(iss, now, ga1.AccessToken); err == nil {
		t.Error("logged-out access token still works")
	}
	if err := s.check(iss, now, ga2.AccessToken); err != nil {
		t.Errorf("other session hurt: %v", err)
	}

	// Logout everywhere: the account's other families in this tenant, not
	// bob's, not the same account id in another tenant; a1 keeps its
	// first reason.
	r = session.LogoutEverywhere(now.Add(time.Minute), "t1", "alice")
	changed = 0
	for _, f := range s.families {
		if r.Apply(f) {
			changed++
		}
	}
	if changed != 2 || !a2.Revoked() || !a3.Revoked() || b1.Revoked() || x1.Revoked() {
		t.Fatalf("logout everywhere changed %d; a2 %v a3 %v b1 %v x1 %v", changed, a2.Revoked(), a3.Revoked(), b1.Revoked(), x1.Revoked())
	}
	if a1.RevokeReason != session.ReasonLogout || a2.RevokeReason != session.ReasonLogoutAll {
		t.Errorf("reasons %q %q", a1.RevokeReason, a2.RevokeReason)
	}
	for _, tok := range []string{ga2.AccessToken, ga3.AccessToken} {
		if err := s.check(iss, now, tok); err == nil {
			t.Error("access token survived logout everywhere")
		}
	}
	if _, out := s.refreshWith(t, iss, now, ga3.RefreshToken); out != session.FamilyRevoked {
		t.Errorf("refresh after logout everywhere: %v", out)
	}
	for _, tok := range []string{gb1.AccessToken, gx1.AccessToken} {
		if err := s.check(iss, now, tok); err != nil {
			t.Errorf("unrelated session hurt: %v", err)
		}
	}
}

// TestOnRoleChange over every pair of roles: demotions revoke, the rest
// do not.
func TestOnRoleChange(t *testing.T) {
	for i, from := range roles {
		for j, to := range roles {
			r, ok := session.OnRoleChange(t0, "t1", "alice", from, to)
			if want := j > i; ok != want {
				t.Errorf("%s -> %s: revoke %v, want %v", from, to, ok, want)
			}
			if ok && (r.Reason != session.ReasonDemoted || r.FamilyID != "" || r.AccountID != "alice" || r.TenantID != "t1") {
				t.Errorf("%s -> %s: %+v", from, to, r)
			}
		}
	}
	// An unknown role in the store is weakest: going to it is a demotion.
	if _, ok := session.OnRoleChange(t0, "t1", "a", engram.RoleReader, "ghost"); !ok {
		t.Error("reader -> unknown role did not revoke")
	}
}

func TestOnRemovalAndPasswordChange(t *testing.T) {
	s, iss := newStore(t)
	a1, _ := s.login(t, iss, t0, "t1", "alice")
	a2, _ := s.login(t, iss, t0, "t1", "alice")
	a3, _ := s.login(t, iss, t0, "t1", "alice")
	revs := session.OnPasswordChange(t0, []*session.Family{a1, a2, a3}, a2.ID)
	if len(revs) != 2 {
		t.Fatalf("%d revocations", len(revs))
	}
	for _, r := range revs {
		for _, f := range s.families {
			r.Apply(f)
		}
	}
	if !a1.Revoked() || a2.Revoked() || !a3.Revoked() || a1.RevokeReason != session.ReasonPassword {
		t.Errorf("password change: a1 %v a2 %v a3 %v", a1.Revoked(), a2.Revoked(), a3.Revoked())
	}
	r := session.OnRemoval(t0, "t1", "alice")
	for _, f := range s.families {
		r.Apply(f)
	}
	if !a2.Revoked() || a2.RevokeReason != session.ReasonRemoved {
		t.Errorf("removal: %+v", a2)
	}
}
