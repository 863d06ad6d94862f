package httpapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// signedIn invites email with role through inviter, accepts and signs in
// with the Go client, returning a client holding the access token.
func signedIn(t *testing.T, s *testserver.Server, inviter *client.Client, email string, role engram.Role, pw string) (*client.Client, engram.Tokens, string) {
	t.Helper()
	ctx := context.Background()
	inv, err := inviter.Invite(ctx, engram.InviteRequest{Email: email, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(inv.AcceptURL, "#token=")
	anon := s.Client("")
	if _, err := anon.AcceptInvitation(ctx, engram.AcceptRequest{Token: tok, Password: pw}); err != nil {
		t.Fatal(err)
	}
	tk, err := anon.Login(ctx, engram.LoginRequest{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return s.Client(tk.AccessToken), *tk, inv.ID
}

// TestOwnershipAndKeys: ownership changes hands only by a person signed
// in; an API key a member made never outgrows the member's role, and
// removing the member ends the key at once.
func TestOwnershipAndKeys(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t)
	ownerKey := s.Client(ownerKey(t, s))
	inv, err := s.Engine.InviteAsOperator(ctx, "acme", engram.InviteRequest{Email: "ona@example.com", Role: engram.RoleOwner})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(inv.AcceptURL, "#token=")
	if _, err := s.Client("").AcceptInvitation(ctx, engram.AcceptRequest{Token: tok, Password: "Juniper-Falcon-Tide-30"}); err != nil {
		t.Fatal(err)
	}
	otk, err := s.Client("").Login(ctx, engram.LoginRequest{Email: "ona@example.com", Password: "Juniper-Falcon-Tide-30"})
	if err != nil {
		t.Fatal(err)
	}
	owner := s.Client(otk.AccessToken)
	admin, _, adminID := signedIn(t, s, owner, "ada@example.com", engram.RoleAdmin, "Marble-Sparrow-Quilt-55")
	member, _, memberID := signedIn(t, s, admin, "max@example.com", engram.RoleMember, memberPassword)

	// An admin cannot make an owner; the owner's key cannot transfer
	// (only a person signed in hands the organisation over).
	if _, err := admin.ChangeRole(ctx, memberID, engram.RoleOwner); err == nil {
		t.Fatal("an admin granted owner")
	}
	wantCode(t, ownerKey.TransferOwnership(ctx, adminID), engram.CodeForbidden)
	if err := owner.TransferOwnership(ctx, adminID); err != nil {
		t.Fatal(err)
	}
	me, err := admin.Me(ctx)
	if err != nil || me.Role != engram.RoleOwner {
		t.Fatalf("after the transfer the admin is %+v %v", me, err)
	}
	if me, err := owner.Me(ctx); err == nil && me.Role != engram.RoleAdmin {
		t.Fatalf("after the transfer the old owner is %s", me.Role)
	}

	// The member's key: scopes within the role, never beyond.
	if _, err := member.CreateKey(ctx, client.CreateKeyRequest{Name: "k", Scopes: []engram.Permission{engram.PermAuditRead}}); err == nil {
		t.Fatal("a member minted a key with audit:read")
	}
	k, err := member.CreateKey(ctx, client.CreateKeyRequest{Name: "k", Scopes: []engram.Permission{engram.PermMemoriesWrite}})
	if err != nil {
		t.Fatal(err)
	}
	keyClient := s.Client(k.Secret)
	if _, err := keyClient.Add(ctx, client.AddRequest{Messages: []engram.Message{{Role: "user", Content: "key write"}}, UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	// Demoted to reader, the key can no longer write; removed, it is dead.
	if _, err := admin.ChangeRole(ctx, memberID, engram.RoleReader); err != nil {
		t.Fatal(err)
	}
	_, err = keyClient.Add(ctx, client.AddRequest{Messages: []engram.Message{{Role: "user", Content: "x"}}, UserID: "u"})
	wantCode(t, err, engram.CodeForbidden)
	if err := admin.RemoveMember(ctx, memberID); err != nil {
		t.Fatal(err)
	}
	_, err = keyClient.Me(ctx)
	wantCode(t, err, engram.CodeUnauthenticated)
}

// TestRefreshRace: the same refresh token presented by many clients at
// once (a stolen copy racing the owner) wins at most once, and the loser's
// reuse ends the family, the winner's new pair included.
func TestRefreshRace(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t)
	_, tk, _ := signedIn(t, s, s.Client(ownerKey(t, s)), "ray@example.com", engram.RoleMember, memberPassword)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*engram.Tokens
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if nt, err := s.Client("").Refresh(ctx, tk.RefreshToken); err == nil {
				mu.Lock()
				won = append(won, nt)
				mu.Unlock()
			} else {
				wantCode(t, err, engram.CodeUnauthenticated)
			}
		}()
	}
	wg.Wait()
	if len(won) > 1 {
		t.Fatalf("%d refreshes of one token succeeded", len(won))
	}
	for _, nt := range won {
		_, err := s.Client(nt.AccessToken).Me(ctx)
		wantCode(t, err, engram.CodeUnauthenticated)
		_, err = s.Client("").Refresh(ctx, nt.RefreshToken)
		wantCode(t, err, engram.CodeUnauthenticated)
	}
}
