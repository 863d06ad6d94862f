package session_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/session"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// memStore keeps records the way a database would, keyed by digest, and
// applies decisions, including the compare-and-set on spending.
type memStore struct {
	d        *session.Digester
	families map[string]*session.Family
	refresh  map[string]*session.RefreshToken
	access   map[string]*session.AccessToken
}

func newStore(t *testing.T) (*memStore, *session.Issuer) {
	t.Helper()
	d, err := session.NewDigester(key)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := session.NewIssuer(d, rand.Reader, session.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	return &memStore{d: d, families: map[string]*session.Family{}, refresh: map[string]*session.RefreshToken{}, access: map[string]*session.AccessToken{}}, iss
}

func (s *memStore) put(g *session.Grant) {
	a, r := g.Access, g.Refresh
	s.access[string(a.Digest)] = &a
	s.refresh[string(r.Digest)] = &r
}

func (s *memStore) login(t *testing.T, iss *session.Issuer, now time.Time, tenant, account string) (*session.Family, *session.Grant) {
	t.Helper()
	f, g, err := iss.Start(now, session.Subject{TenantID: tenant, AccountID: account, Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	s.families[f.ID] = f
	s.put(g)
	return f, g
}

// refresh is the /v1/auth/refresh handler's logic: look up, decide, apply.
// It returns the new grant or the outcome that refused it.
func (s *memStore) refreshWith(t *testing.T, iss *session.Issuer, now time.Time, token string) (*session.Grant, session.Outcome) {
	t.Helper()
	dg, err := s.d.Digest(session.Refresh, token)
	if err != nil {
		return nil, 0
	}
	rec, ok := s.refresh[string(dg)]
	if !ok {
		return nil, 0
	}
	f := s.families[rec.FamilyID]
	dec, err := iss.Rotate(now, f, *rec)
	if err != nil {
		t.Fatal(err)
	}
	switch dec.Outcome {
	case session.Rotated:
		if rec.SpentAt != nil { // the compare-and-set lost
			dec = iss.Reuse(now, f)
			break
		}
		rec.SpentAt = dec.Spend.SpentAt
		s.put(dec.Grant)
		return dec.Grant, dec.Outcome
	}
	if dec.Revoke != nil {
		for _, fam := range s.families {
			dec.Revoke.Apply(fam)
		}
	}
	return nil, dec.Outcome
}

func (s *memStore) check(iss *session.Issuer, now time.Time, token string) error {
	dg, err := s.d.Digest(session.Access, token)
	if err != nil {
		return err
	}
	rec, ok := s.access[string(dg)]
	if !ok {
		return errors.New("unknown")
	}
	return iss.CheckAccess(now, s.families[rec.FamilyID], *rec)
}

// TestStolenRefreshTokenKillsFamily is the acceptance case: a
// refresh token used twice revokes the whole family, including the pair
// the legitimate client got from the first use.
func TestStolenRefreshTokenKillsFamily(t *testing.T) {
	s, iss := newStore(t)
	f, g0 := s.login(t, iss, t0, "t1", "alice")
	_, other := s.login(t, iss, t0, "t1", "alice") // another device: must survive

	g1, out := s.refreshWith(t, iss, t0.Add(10*time.Minute), g0.RefreshToken)
	if out != session.Rotated || g1 == nil {
		t.Fatalf("first use: %v", out)
	}
	if g1.Refresh.Generation != 1 || g1.Refresh.FamilyID != f.ID {
		t.Errorf("rotated record %+v", g1.Refresh)
	}
	if err := s.check(iss, t0.Add(11*time.Minute), g1.AccessToken); err != nil {
		t.Fatalf("new access token refused: %v", err)
	}
	// The thief replays the spent token.
	if g, out := s.refreshWith(t, iss, t0.Add(12*time.Minute), g0.RefreshToken); out != session.Reused || g != nil {
		t.Fatalf("reuse: %v", out)
	}
	if !f.Revoked() || f.RevokeReason != session.ReasonReuse {
		t.Fatalf("family not revoked for reuse: %+v", f)
	}
	// Everything of the family is dead: the legitimate client's new pair too.
	if err := s.check(iss, t0.Add(13*time.Minute), g1.AccessToken); !errors.Is(err, session.ErrRevoked) {
		t.Errorf("access token after reuse: %v", err)
	}
	if _, out := s.refreshWith(t, iss, t0.Add(13*time.Minute), g1.RefreshToken); out != session.FamilyRevoked {
		t.Errorf("refresh after reuse: %v", out)
	}
	// The other device's family is untouched.
	if err := s.check(iss, t0.Add(13*time.Minute), other.AccessToken); err != nil {
		t.Errorf("other family hurt: %v", err)
	}
}

// TestRaceToSpendIsReuse: two requests present the same fresh refresh
// token; both decide Rotated from the same snapshot, the store's
// compare-and-set lets one through, and the loser is a reuse.
func TestRaceToSpendIsReuse(t *testing.T) {
	s, iss := newStore(t)
	f, g0 := s.login(t, iss, t0, "t1", "alice")
	dg, _ := s.d.Digest(session.Refresh, g0.RefreshToken)
	snapshot := *s.refresh[string(dg)]
	d1, _ := iss.Rotate(t0.Add(time.Minute), f, snapshot)
	d2, _ := iss.Rotate(t0.Add(time.Minute), f, snapshot)
	if d1.Outcome != session.Rotated || d2.Outcome != session.Rotated {
		t.Fatalf("outcomes %v %v", d1.Outcome, d2.Outcome)
	}
	if d1.Grant.RefreshToken == d2.Grant.RefreshToken {
		t.Fatal("two rotations minted the same token")
	}
	// First compare-and-set wins; the second finds spent_at set.
	s.refresh[string(dg)].SpentAt = d1.Spend.SpentAt
	if s.refresh[string(dg)].SpentAt == nil || d2.Spend.SpentAt == nil {
		t.Fatal("Spend without SpentAt")
	}
	loser := iss.Reuse(t0.Add(time.Minute), f)
	if loser.Outcome != session.Reused || loser.Revoke == nil || loser.Revoke.FamilyID != f.ID {
		t.Fatalf("loser decision %+v", loser)
	}
}

func TestLifetimes(t *testing.T) {
	s, iss := newStore(t)
	p := iss.Policy()
	if p.AccessTTL != 15*time.Minute || p.RefreshTTL != 30*24*time.Hour || p.MaxLifetime != 90*24*time.Hour {
		t.Fatalf("defaults %+v", p)
	}
	f, g := s.login(t, iss, t0, "t1", "alice")
	if g.ExpiresIn != 15*time.Minute {
		t.Errorf("ExpiresIn %v", g.ExpiresIn)
	}
	if err := s.check(iss, t0.Add(15*time.Minute-time.Second), g.AccessToken); err != nil {
		t.Errorf("access just before expiry: %v", err)
	}
	if err := s.check(iss, t0.Add(15*time.Minute), g.AccessToken); !errors.Is(err, session.ErrExpired) {
		t.Errorf("access at expiry: %v", err)
	}
	// An idle refresh token dies after 30 days.
	if _, out := s.refreshWith(t, iss, t0.Add(30*24*time.Hour), g.RefreshToken); out != session.Expired {
		t.Errorf("idle 30 days: %v", out)
	}
	// An active session slides: rotate every 29 days...
	_, g = s.login(t, iss, t0, "t1", "bob")
	now := t0
	for range 3 {
		now = now.Add(29 * 24 * time.Hour)
		ng, out := s.refreshWith(t, iss, now, g.RefreshToken)
		if out != session.Rotated {
			t.Fatalf("day %v: %v", now.Sub(t0).Hours()/24, out)
		}
		g = ng
	}
	// ...day 87: the newest token is capped at day 90, not day 117.
	cap := t0.Add(90 * 24 * time.Hour)
	if !g.Refresh.ExpiresAt.Equal(cap) {
		t.Errorf("refresh ExpiresAt %v, want the cap %v", g.Refresh.ExpiresAt, cap)
	}
	if _, out := s.refreshWith(t, iss, cap, g.RefreshToken); out != session.Expired {
		t.Errorf("at the absolute cap: %v", out)
	}
	_ = f
	// Access tokens near the cap end at the cap.
	_, ng := s.login(t, iss, t0, "t1", "carol")
	for _, at := range []time.Time{t0.Add(29 * 24 * time.Hour), t0.Add(58 * 24 * time.Hour), t0.Add(87 * 24 * time.Hour), cap.Add(-5 * time.Minute)} {
		var out session.Outcome
		if ng, out = s.refreshWith(t, iss, at, ng.RefreshToken); out != session.Rotated {
			t.Fatalf("rotate at %v: %v", at, out)
		}
	}
	if !ng.Access.ExpiresAt.Equal(cap) || ng.ExpiresIn != 5*time.Minute {
		t.Errorf("access near the cap: expires %v, in %v", ng.Access.ExpiresAt, ng.ExpiresIn)
	}
}

// TestOAuthFamilyKeepsScopes: a grant to an MCP host carries its scopes
// through rotation (they live on the family, not the tokens).
func TestOAuthFamilyKeepsScopes(t *testing.T) {
	s, iss := newStore(t)
	scopes := []string{"memories:read"}
	f, g, err := iss.Start(t0, session.Subject{TenantID: "t1", AccountID: "alice", Method: "oauth", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	scopes[0] = "changed by the caller"
	if len(f.Scopes) != 1 || f.Scopes[0] != "memories:read" || f.Method != "oauth" {
		t.Fatalf("family %+v", f)
	}
	s.families[f.ID] = f
	s.put(g)
	g2, out := s.refreshWith(t, iss, t0.Add(time.Hour), g.RefreshToken)
	if out != session.Rotated || g2.Refresh.FamilyID != f.ID {
		t.Fatalf("rotate: %v", out)
	}
	if p, _, _ := iss.Start(t0, session.Subject{TenantID: "t1", AccountID: "bob"}); p.Scopes != nil {
		t.Errorf("a person's session has scopes %v", p.Scopes)
	}
}

func TestRotateRefusesForeignFamily(t *testing.T) {
	s, iss := newStore(t)
	f1, _ := s.login(t, iss, t0, "t1", "alice")
	_, g2 := s.login(t, iss, t0, "t1", "bob")
	if _, err := iss.Rotate(t0, f1, g2.Refresh); err == nil {
		t.Error("Rotate accepted a record of another family")
	}
	if err := iss.CheckAccess(t0, f1, g2.Access); err == nil {
		t.Error("CheckAccess accepted a record of another family")
	}
}

func TestNewIssuerRefusesShortRefresh(t *testing.T) {
	d, _ := session.NewDigester(key)
	if _, err := session.NewIssuer(d, rand.Reader, session.Policy{AccessTTL: time.Hour, MaxLifetime: time.Minute}); err == nil {
		t.Error("MaxLifetime < AccessTTL accepted")
	}
}
