package storetest

import (
	"time"

	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

func (f *fx) member(tenantID, role string) *store.Account {
	a := &store.Account{ID: newID(), TenantID: tenantID, Role: role, Subject: "a:x", KeyVersion: 1, Name: sealed("n"),
		Email: sealed("e"), CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAccount(f.ctx, a) })
	return a
}

// testLogins: logins by blind email index across tenants, one address
// once per tenant, owner counting ignores pending invitations, and
// deleting an account takes its login, tokens, sessions and keys.
func testLogins(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	idx := []byte("0123456789abcdef0123456789abcdef")
	now := base
	owner := f.member(a, "owner")
	invited := f.member(a, "owner")
	other := f.member(b, "member")
	la := &store.Login{AccountID: owner.ID, TenantID: a, EmailIndex: idx, PasswordHash: "$argon2id$x", ActivatedAt: &now, UpdatedAt: now}
	lb := &store.Login{AccountID: other.ID, TenantID: b, EmailIndex: idx, UpdatedAt: now}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.PutLogin(f.ctx, la); err != nil {
			return err
		}
		return tx.PutLogin(f.ctx, lb)
	})
	got := mustGet(f, func(tx store.Tx) ([]store.Login, error) { return tx.LoginsByEmail(f.ctx, idx) })
	if len(got) != 2 {
		t.Fatalf("LoginsByEmail: %d, want 2 (one per tenant)", len(got))
	}
	err := f.write(func(tx store.Tx) error {
		return tx.PutLogin(f.ctx, &store.Login{AccountID: invited.ID, TenantID: a, EmailIndex: idx, UpdatedAt: now})
	})
	wantErr(t, "a second login with the same email in a tenant", err, store.ErrConflict)
	f.mustWrite(func(tx store.Tx) error {
		return tx.PutLogin(f.ctx, &store.Login{AccountID: invited.ID, TenantID: a, EmailIndex: []byte("other"), UpdatedAt: now})
	})
	n := mustGet(f, func(tx store.Tx) (int, error) { return tx.CountOwners(f.ctx, a) })
	if n != 1 {
		t.Fatalf("CountOwners: %d, want 1 (the pending invitation is not an owner yet)", n)
	}
	ms := mustGet(f, func(tx store.Tx) ([]store.Member, error) { return tx.Members(f.ctx, a) })
	if len(ms) != 2 || ms[0].Login == nil || ms[0].Login.PasswordHash != "$argon2id$x" {
		t.Fatalf("Members: %+v", ms)
	}
	l := mustGet(f, func(tx store.Tx) (*store.Login, error) { return tx.Login(f.ctx, a, owner.ID) })
	checkEqual(t, "Login", l, la)
	_, err = get(f, func(tx store.Tx) (*store.Login, error) { return tx.Login(f.ctx, b, owner.ID) })
	wantErr(t, "Login of another tenant", err, store.ErrNotFound)

	// Sessions and tokens of the owner go with the account.
	fam := &store.SessionFamily{Family: session.Family{ID: newID(), TenantID: a, AccountID: owner.ID, Method: "password", CreatedAt: now}}
	rt := &session.RefreshToken{Digest: []byte("rt1"), FamilyID: fam.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.InsertSessionFamily(f.ctx, fam); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(f.ctx, rt); err != nil {
			return err
		}
		return tx.PutAccountToken(f.ctx, &store.AccountToken{Digest: []byte("tok"), TenantID: a, AccountID: owner.ID,
			Purpose: store.TokenReset, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteAccount(f.ctx, a, owner.ID) })
	_, err = get(f, func(tx store.Tx) (*store.SessionFamily, error) { return tx.SessionFamily(f.ctx, fam.ID) })
	wantErr(t, "the family of a deleted account", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*session.RefreshToken, error) { return tx.RefreshToken(f.ctx, []byte("rt1")) })
	wantErr(t, "the refresh token of a deleted account", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.AccountToken, error) { return tx.AccountToken(f.ctx, []byte("tok")) })
	wantErr(t, "the link of a deleted account", err, store.ErrNotFound)
	err = f.write(func(tx store.Tx) error { return tx.DeleteAccount(f.ctx, a, owner.ID) })
	wantErr(t, "DeleteAccount twice", err, store.ErrNotFound)
}

// testSessions: a refresh token is spent once (compare-and-set),
// revocation touches only what it names and only once, scopes survive the
// round trip, and the sweep drops what expired.
func testSessions(f *fx) {
	t := f.t
	a := f.tenant()
	acct, other := f.member(a, "member"), f.member(a, "member")
	now := base
	person := &store.SessionFamily{Family: session.Family{ID: newID(), TenantID: a, AccountID: acct.ID, Method: "password", CreatedAt: now}}
	oauth := &store.SessionFamily{Family: session.Family{ID: newID(), TenantID: a, AccountID: acct.ID, Method: "oauth",
		Scopes: []string{"memories:read"}, CreatedAt: now.Add(time.Second)}, ClientID: "client-1"}
	theirs := &store.SessionFamily{Family: session.Family{ID: newID(), TenantID: a, AccountID: other.ID, Method: "password", CreatedAt: now}}
	f.mustWrite(func(tx store.Tx) error {
		for _, fam := range []*store.SessionFamily{person, oauth, theirs} {
			if err := tx.InsertSessionFamily(f.ctx, fam); err != nil {
				return err
			}
		}
		if err := tx.InsertRefreshToken(f.ctx, &session.RefreshToken{Digest: []byte("r1"), FamilyID: person.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.InsertAccessToken(f.ctx, &session.AccessToken{Digest: []byte("a1"), FamilyID: person.ID, TenantID: a, AccountID: acct.ID, IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	})
	got := mustGet(f, func(tx store.Tx) (*store.SessionFamily, error) { return tx.SessionFamily(f.ctx, oauth.ID) })
	if got.ID != oauth.ID || got.ClientID != "client-1" || got.Method != "oauth" || len(got.Scopes) != 1 ||
		got.Scopes[0] != "memories:read" || !got.CreatedAt.Equal(oauth.CreatedAt.Truncate(time.Microsecond)) || got.Revoked() {
		t.Fatalf("SessionFamily: %+v, want %+v", got, oauth)
	}
	got = mustGet(f, func(tx store.Tx) (*store.SessionFamily, error) { return tx.SessionFamily(f.ctx, person.ID) })
	if got.Scopes != nil {
		t.Fatalf("a person's session came back with scopes %v", got.Scopes)
	}

	spent := mustWriteGet(f, func(tx store.Tx) (bool, error) { return tx.SpendRefreshToken(f.ctx, []byte("r1"), now) })
	again := mustWriteGet(f, func(tx store.Tx) (bool, error) { return tx.SpendRefreshToken(f.ctx, []byte("r1"), now) })
	if !spent || again {
		t.Fatalf("SpendRefreshToken: first %v, second %v; want true, false", spent, again)
	}

	n := mustWriteGet(f, func(tx store.Tx) (int, error) {
		return tx.RevokeSessions(f.ctx, session.Revocation{TenantID: a, AccountID: acct.ID, FamilyID: person.ID, At: now, Reason: session.ReasonLogout})
	})
	if n != 1 {
		t.Fatalf("revoking one family revoked %d", n)
	}
	n = mustWriteGet(f, func(tx store.Tx) (int, error) {
		return tx.RevokeSessions(f.ctx, session.LogoutEverywhere(now.Add(time.Second), a, acct.ID))
	})
	if n != 1 {
		t.Fatalf("logout everywhere revoked %d, want 1 (the other was revoked already)", n)
	}
	fams := mustGet(f, func(tx store.Tx) ([]store.SessionFamily, error) { return tx.SessionFamilies(f.ctx, a, acct.ID) })
	if len(fams) != 2 || fams[0].ID != oauth.ID || fams[1].RevokeReason != session.ReasonLogout {
		t.Fatalf("SessionFamilies: %+v", fams)
	}
	if mine := mustGet(f, func(tx store.Tx) (*store.SessionFamily, error) { return tx.SessionFamily(f.ctx, theirs.ID) }); mine.Revoked() {
		t.Fatal("another account's session was revoked")
	}

	swept := mustWriteGet(f, func(tx store.Tx) (int, error) { return tx.SweepIdentity(f.ctx, now.Add(2*time.Hour)) })
	if swept < 2 {
		t.Fatalf("SweepIdentity dropped %d rows, want the expired access and refresh tokens and their family", swept)
	}
	_, err := get(f, func(tx store.Tx) (*session.AccessToken, error) { return tx.AccessToken(f.ctx, []byte("a1")) })
	wantErr(t, "an expired access token after the sweep", err, store.ErrNotFound)
}

// mustWriteGet runs fn in a write transaction and returns its value.
func mustWriteGet[T any](f *fx, fn func(tx store.Tx) (T, error)) T {
	f.t.Helper()
	var v T
	f.mustWrite(func(tx store.Tx) (err error) {
		v, err = fn(tx)
		return err
	})
	return v
}
