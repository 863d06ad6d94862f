package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

// The OAuth authorization server's clients and codes (internal/oauth).

func (f *fx) oauthClient() *oauth.Client {
	f.t.Helper()
	c := &oauth.Client{ID: "egc_" + newID()[:22], Name: "Inspector", CreatedAt: at(1),
		RedirectURIs: []string{"http://127.0.0.1:6274/cb", "cursor://anysphere.cursor-mcp/oauth/callback"}}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateOAuthClient(f.ctx, c) })
	return c
}

func (f *fx) oauthCode(c *oauth.Client, tenantID, accountID string, digest byte) *oauth.Code {
	f.t.Helper()
	code := &oauth.Code{Digest: slices.Repeat([]byte{digest}, 32), ClientID: c.ID, RedirectURI: c.RedirectURIs[0],
		Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Resource: "https://h.example/mcp", TenantID: tenantID,
		AccountID: accountID, Scopes: []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite},
		IssuedAt: at(2), ExpiresAt: at(2 + 120)}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateOAuthCode(f.ctx, code) })
	return code
}

func testOAuthClients(f *fx) {
	c := f.oauthClient()
	var got *oauth.Client
	f.mustRead(func(tx store.Tx) (err error) { got, err = tx.OAuthClient(f.ctx, c.ID); return err })
	checkEqual(f.t, "client", got, c)
	err := f.s.Read(f.ctx, func(tx store.Tx) error { _, err := tx.OAuthClient(f.ctx, "egc_none"); return err })
	wantErr(f.t, "unknown client", err, store.ErrNotFound)
	err = f.write(func(tx store.Tx) error { return tx.CreateOAuthClient(f.ctx, c) })
	wantErr(f.t, "same id twice", err, store.ErrConflict)
}

func testOAuthCodes(f *fx) {
	tn := f.tenant()
	acct := f.account(tn)
	c := f.oauthClient()
	code := f.oauthCode(c, tn, acct, 1)
	other := f.oauthCode(c, tn, acct, 2)

	// The first spend returns the code unspent and marks it.
	var first, second *oauth.Code
	f.mustWrite(func(tx store.Tx) (err error) { first, err = tx.SpendOAuthCode(f.ctx, code.Digest, at(10)); return err })
	checkCode(f.t, "first spend", first, code)
	// The second sees the first's mark: a reuse.
	f.mustWrite(func(tx store.Tx) (err error) { second, err = tx.SpendOAuthCode(f.ctx, code.Digest, at(11)); return err })
	if second.SpentAt == nil || !second.SpentAt.Equal(at(10).Truncate(time.Microsecond)) {
		f.t.Fatalf("second spend: SpentAt %v, want %v", second.SpentAt, at(10))
	}
	// The other code is untouched.
	var o *oauth.Code
	f.mustWrite(func(tx store.Tx) (err error) { o, err = tx.SpendOAuthCode(f.ctx, other.Digest, at(12)); return err })
	if o.SpentAt != nil {
		f.t.Fatal("spending one code spent another")
	}

	// The family of the first exchange is kept for a reuse to revoke.
	f.mustWrite(func(tx store.Tx) error { return tx.SetOAuthCodeFamily(f.ctx, code.Digest, "family-1") })
	f.mustWrite(func(tx store.Tx) (err error) { second, err = tx.SpendOAuthCode(f.ctx, code.Digest, at(13)); return err })
	if second.FamilyID != "family-1" {
		f.t.Fatalf("family %q", second.FamilyID)
	}
	err := f.write(func(tx store.Tx) error { return tx.SetOAuthCodeFamily(f.ctx, make([]byte, 32), "x") })
	wantErr(f.t, "family of unknown code", err, store.ErrNotFound)
	err = f.write(func(tx store.Tx) error { _, err := tx.SpendOAuthCode(f.ctx, make([]byte, 32), at(1)); return err })
	wantErr(f.t, "spend unknown code", err, store.ErrNotFound)
	err = f.write(func(tx store.Tx) error { return tx.CreateOAuthCode(f.ctx, code) })
	wantErr(f.t, "same digest twice", err, store.ErrConflict)

	// A rolled-back spend leaves the code unspent.
	third := f.oauthCode(c, tn, acct, 3)
	boom := errors.New("boom")
	err = f.write(func(tx store.Tx) error {
		if _, err := tx.SpendOAuthCode(f.ctx, third.Digest, at(5)); err != nil {
			return err
		}
		return boom
	})
	wantErr(f.t, "rolled back", err, boom)
	f.mustWrite(func(tx store.Tx) (err error) { o, err = tx.SpendOAuthCode(f.ctx, third.Digest, at(6)); return err })
	if o.SpentAt != nil {
		f.t.Fatal("a rolled-back spend stuck")
	}

	// Sweeping drops only codes expired before the time given, spent or
	// not.
	late := &oauth.Code{Digest: slices.Repeat([]byte{4}, 32), ClientID: c.ID, RedirectURI: c.RedirectURIs[0],
		Challenge: code.Challenge, Resource: code.Resource, TenantID: tn, AccountID: acct, IssuedAt: at(2), ExpiresAt: at(10_000)}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateOAuthCode(f.ctx, late) })
	var n int
	f.mustWrite(func(tx store.Tx) (err error) { n, err = tx.DeleteExpiredOAuthCodes(f.ctx, at(2+121)); return err })
	if n != 3 { // code (spent), other (spent), third (unspent); not late
		f.t.Fatalf("swept %d", n)
	}
	f.mustWrite(func(tx store.Tx) (err error) { o, err = tx.SpendOAuthCode(f.ctx, late.Digest, at(1)); return err })
	if o.SpentAt != nil || len(o.Scopes) != 0 {
		f.t.Fatalf("late code %+v", o)
	}
	err = f.s.Read(f.ctx, func(tx store.Tx) error { _, err := tx.SpendOAuthCode(f.ctx, code.Digest, at(1)); return err })
	wantErr(f.t, "swept code", err, store.ErrNotFound)
}

// checkCode is checkEqual for codes (its scope list is not a type
// checkEqual knows).
func checkCode(t *testing.T, what string, got, want *oauth.Code) {
	t.Helper()
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("%s.Scopes = %v, want %v", what, got.Scopes, want.Scopes)
	}
	type plain struct {
		Digest                                                             []byte
		ClientID, RedirectURI, Challenge, Resource, TenantID, AccountID, F string
		IssuedAt, ExpiresAt                                                time.Time
		SpentAt                                                            *time.Time
	}
	p := func(c *oauth.Code) plain {
		return plain{c.Digest, c.ClientID, c.RedirectURI, c.Challenge, c.Resource, c.TenantID, c.AccountID, c.FamilyID, c.IssuedAt, c.ExpiresAt, c.SpentAt}
	}
	checkEqual(t, what, p(got), p(want))
}

// testOAuthCodeRace: of concurrent spends of one code exactly one sees it
// unspent.
func testOAuthCodeRace(f *fx) {
	tn := f.tenant()
	acct := f.account(tn)
	code := f.oauthCode(f.oauthClient(), tn, acct, 9)
	const n = 8
	var wg sync.WaitGroup
	fresh := make(chan bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *oauth.Code
			err := f.write(func(tx store.Tx) (err error) {
				c, err = tx.SpendOAuthCode(f.ctx, code.Digest, at(20+i))
				return err
			})
			fresh <- err == nil && c.SpentAt == nil
		}()
	}
	wg.Wait()
	close(fresh)
	won := 0
	for ok := range fresh {
		if ok {
			won++
		}
	}
	if won != 1 {
		f.t.Fatalf("%d spends saw the code unspent", won)
	}
}

// testOAuthTenantDelete: a tenant's codes go with it.
func testOAuthTenantDelete(f *fx) {
	tn := f.tenant()
	acct := f.account(tn)
	code := f.oauthCode(f.oauthClient(), tn, acct, 7)
	f.mustWrite(func(tx store.Tx) error { _, err := tx.DeleteTenant(f.ctx, tn); return err })
	err := f.s.Read(f.ctx, func(tx store.Tx) error { _, err := tx.SpendOAuthCode(f.ctx, code.Digest, time.Now()); return err })
	wantErr(f.t, "code of a deleted tenant", err, store.ErrNotFound)
}

// testOAuthIdleClients: a client nobody uses any more is swept; one with
// a code or a session family, or registered recently, is kept.
func testOAuthIdleClients(f *fx) {
	tn := f.tenant()
	acct := f.account(tn)
	idle, withCode, withSession := f.oauthClient(), f.oauthClient(), f.oauthClient()
	f.oauthCode(withCode, tn, acct, 5)
	f.mustWrite(func(tx store.Tx) error {
		return tx.InsertSessionFamily(f.ctx, &store.SessionFamily{ClientID: withSession.ID, Family: session.Family{
			ID: newID(), TenantID: tn, AccountID: acct, Method: "oauth", Scopes: []string{"memories:read"}, CreatedAt: at(3)}})
	})
	var n int
	f.mustWrite(func(tx store.Tx) (err error) { n, err = tx.DeleteIdleOAuthClients(f.ctx, at(1)); return err })
	if n != 0 {
		f.t.Fatalf("swept %d clients registered at the cut-off", n)
	}
	f.mustWrite(func(tx store.Tx) (err error) { n, err = tx.DeleteIdleOAuthClients(f.ctx, at(100)); return err })
	if n != 1 {
		f.t.Fatalf("swept %d clients, want 1", n)
	}
	for _, c := range []*oauth.Client{withCode, withSession} {
		f.mustRead(func(tx store.Tx) error { _, err := tx.OAuthClient(f.ctx, c.ID); return err })
	}
	err := f.s.Read(f.ctx, func(tx store.Tx) error { _, err := tx.OAuthClient(f.ctx, idle.ID); return err })
	wantErr(f.t, "idle client", err, store.ErrNotFound)
}
