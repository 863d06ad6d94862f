package saml_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/sso"
	"github.com/engram-memory/engram/internal/sso/saml"
)

func newSP(t testing.TB, idp *testIdP, name string, cache saml.ReplayCache, edit ...func(*saml.Config)) *saml.SP {
	t.Helper()
	key, cert := keyPair(t, name)
	base := "http://127.0.0.1:9/v1/sso/saml/" + name
	cfg := saml.Config{Scope: "org-" + name, MetadataURL: base + "/metadata", ACSURL: base + "/acs",
		IDPMetadata: idp.metadata(t), Key: key, Certificate: cert, TrustEmails: true, ReplayCache: cache}
	for _, e := range edit {
		e(&cfg)
	}
	sp, err := saml.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return sp
}

func signIn(t *testing.T, idp *testIdP, sp *saml.SP) (saml.Pending, string) {
	t.Helper()
	redirect, pending, err := sp.Begin("relay-1")
	if err != nil {
		t.Fatal(err)
	}
	return pending, idp.signIn(t, redirect)
}

func checkAlice(t *testing.T, idp *testIdP, r saml.Result) {
	t.Helper()
	id := r.Identity
	if id.Subject != "Alice@Example.com" || id.Issuer != idp.srv.URL+"/metadata" || id.Email != "alice@example.com" ||
		!id.EmailVerified || id.Name != "Alice Liddell" || !slices.Equal(id.Groups, []string{"engineering", "it-admins"}) {
		t.Fatalf("identity = %+v", id)
	}
	if r.AssertionID == "" {
		t.Fatal("no assertion id for the audit trail")
	}
}

func TestFullSSOEncrypted(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	pending, resp := signIn(t, idp, sp)
	raw, _ := base64.StdEncoding.DecodeString(resp)
	if !strings.Contains(string(raw), "EncryptedAssertion") {
		t.Fatal("the IdP did not encrypt the assertion")
	}
	r, err := sp.Finish(context.Background(), pending, resp)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	checkAlice(t, idp, r)
	// The groups drive the role through the organisation's policy.
	policy := sso.Policy{JIT: true, GroupRoles: []sso.GroupRole{{Group: "engineering", Role: engram.RoleMember},
		{Group: "it-admins", Role: engram.RoleAdmin}}, AllowedDomains: []string{"example.com"}}
	d, err := policy.Decide(r.Identity, nil)
	if err != nil || !d.Create || d.Role != engram.RoleAdmin {
		t.Fatalf("policy decision %+v, %v; want create as admin", d, err)
	}
}

func TestFullSSOPlain(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, false)
	pending, resp := signIn(t, idp, sp)
	raw, _ := base64.StdEncoding.DecodeString(resp)
	if strings.Contains(string(raw), "EncryptedAssertion") {
		t.Fatal("the IdP encrypted the assertion")
	}
	r, err := sp.Finish(context.Background(), pending, resp)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	checkAlice(t, idp, r)
}

func TestRequireEncryption(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache(), func(c *saml.Config) { c.RequireEncryption = true })
	idp.register(t, "acme", sp, false)
	pending, resp := signIn(t, idp, sp)
	if _, err := sp.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrNotEncrypted) {
		t.Fatalf("clear assertion with RequireEncryption: %v, want ErrNotEncrypted", err)
	}
	idp.register(t, "acme", sp, true)
	pending, resp = signIn(t, idp, sp)
	if _, err := sp.Finish(context.Background(), pending, resp); err != nil {
		t.Fatalf("encrypted assertion with RequireEncryption: %v", err)
	}
}

func TestReplayRefused(t *testing.T) {
	idp := startIdP(t)
	cache := saml.NewMemoryReplayCache() // shared, as the store's table is across nodes
	node1 := newSP(t, idp, "acme", cache)
	idp.register(t, "acme", node1, true)
	pending, resp := signIn(t, idp, node1)
	if _, err := node1.Finish(context.Background(), pending, resp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := node1.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrReplayed) {
		t.Fatalf("replay on the same node: %v, want ErrReplayed", err)
	}
}

func TestReplayRefusedAcrossNodes(t *testing.T) {
	idp := startIdP(t)
	cache := saml.NewMemoryReplayCache()
	key, cert := keyPair(t, "acme")
	cfg := saml.Config{Scope: "org-acme", MetadataURL: "http://127.0.0.1:9/saml/metadata", ACSURL: "http://127.0.0.1:9/saml/acs",
		IDPMetadata: idp.metadata(t), Key: key, Certificate: cert, ReplayCache: cache}
	node1, err1 := saml.New(cfg)
	node2, err2 := saml.New(cfg)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	idp.register(t, "acme", node1, true)
	pending, resp := signIn(t, idp, node1)
	if _, err := node1.Finish(context.Background(), pending, resp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := node2.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrReplayed) {
		t.Fatalf("replay on another node: %v, want ErrReplayed", err)
	}
}

func TestWrongAudienceRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	idp.maker.set(func(a *crewjam.Assertion) {
		a.Conditions.AudienceRestrictions = []crewjam.AudienceRestriction{{Audience: crewjam.Audience{Value: "https://other-sp.example/metadata"}}}
	})
	pending, resp := signIn(t, idp, sp)
	if _, err := sp.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrAudience) {
		t.Fatalf("assertion for another audience: %v, want ErrAudience", err)
	}
}

func TestExpiredRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	idp.maker.set(func(a *crewjam.Assertion) {
		past := time.Now().Add(-30 * time.Minute)
		a.Conditions.NotBefore, a.Conditions.NotOnOrAfter = past.Add(-5*time.Minute), past
		for i := range a.Subject.SubjectConfirmations {
			if d := a.Subject.SubjectConfirmations[i].SubjectConfirmationData; d != nil {
				d.NotOnOrAfter = past
			}
		}
	})
	pending, resp := signIn(t, idp, sp)
	if _, err := sp.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrExpired) {
		t.Fatalf("expired assertion: %v, want ErrExpired", err)
	}
}

func TestNotYetValidRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	idp.maker.set(func(a *crewjam.Assertion) {
		a.Conditions.NotBefore = time.Now().Add(30 * time.Minute)
	})
	pending, resp := signIn(t, idp, sp)
	if _, err := sp.Finish(context.Background(), pending, resp); !errors.Is(err, saml.ErrExpired) {
		t.Fatalf("assertion valid only later: %v, want ErrExpired", err)
	}
}

// stripSignatures removes every ds:Signature, and edit (if any) may change
// the document, before it is encoded again.
func rewrite(t *testing.T, resp string, edit func(*etree.Document)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func TestUnsignedRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, false)
	pending, resp := signIn(t, idp, sp)
	stripped := rewrite(t, resp, func(d *etree.Document) {
		for _, sig := range d.FindElements("//Signature") {
			sig.Parent().RemoveChild(sig)
		}
	})
	if stripped == resp || strings.Contains(mustDecode(t, stripped), "SignatureValue") {
		t.Fatal("test did not strip the signature")
	}
	if _, err := sp.Finish(context.Background(), pending, stripped); !errors.Is(err, saml.ErrSignature) {
		t.Fatalf("unsigned response: %v, want ErrSignature", err)
	}
	// The untouched response is still good: the refusal was the signature's.
	if _, err := sp.Finish(context.Background(), pending, resp); err != nil {
		t.Fatalf("original response: %v", err)
	}
}

func TestTamperedRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, false)
	pending, resp := signIn(t, idp, sp)
	tampered := rewrite(t, resp, func(d *etree.Document) {
		for _, v := range d.FindElements("//AttributeValue") {
			if v.Text() == "it-admins" {
				v.SetText("owners")
			}
		}
	})
	if !strings.Contains(mustDecode(t, tampered), "owners") {
		t.Fatal("test did not tamper")
	}
	if _, err := sp.Finish(context.Background(), pending, tampered); !errors.Is(err, saml.ErrSignature) {
		t.Fatalf("tampered response: %v, want ErrSignature", err)
	}
}

func TestOtherLoginsResponseRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	_, resp := signIn(t, idp, sp)
	_, other, _ := sp.Begin("")
	if _, err := sp.Finish(context.Background(), other, resp); !errors.Is(err, saml.ErrRequestID) {
		t.Fatalf("response for another AuthnRequest: %v, want ErrRequestID", err)
	}
}

func TestWrongRecipientRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	// A second SP of the same IdP, with its own ACS: a response made for
	// acme must not be accepted at beta's ACS, even with beta's request id.
	beta := newSP(t, idp, "beta", saml.NewMemoryReplayCache())
	idp.register(t, "beta", beta, true)
	pending, resp := signIn(t, idp, sp)
	if _, err := beta.Finish(context.Background(), pending, resp); err == nil {
		t.Fatal("beta accepted a response made for acme")
	}
}

func TestLoginTimeout(t *testing.T) {
	idp := startIdP(t)
	key, cert := keyPair(t, "acme")
	now := time.Now()
	sp, err := saml.New(saml.Config{Scope: "org", MetadataURL: "http://127.0.0.1:9/m", ACSURL: "http://127.0.0.1:9/acs",
		IDPMetadata: idp.metadata(t), Key: key, Certificate: cert, ReplayCache: saml.NewMemoryReplayCache(),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	_, pending, _ := sp.Begin("")
	now = now.Add(11 * time.Minute)
	if _, err := sp.Finish(context.Background(), pending, "x"); !errors.Is(err, saml.ErrLoginExpired) {
		t.Fatalf("Finish after 11 minutes: %v, want ErrLoginExpired", err)
	}
}

func TestMetadata(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`entityID="http://127.0.0.1:9/v1/sso/saml/acme/metadata"`,
		`Location="http://127.0.0.1:9/v1/sso/saml/acme/acs"`, `use="encryption"`} {
		if !strings.Contains(string(md), want) {
			t.Errorf("metadata lacks %s", want)
		}
	}
	if strings.Contains(string(md), "PRIVATE") {
		t.Error("metadata holds a private key")
	}
}

func TestSignedAuthnRequests(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache(), func(c *saml.Config) { c.SignRequests = true })
	md, _ := sp.Metadata()
	if !strings.Contains(string(md), `use="signing"`) {
		t.Fatal("metadata of a signing SP has no signing key")
	}
	idp.register(t, "acme", sp, true)
	redirect, pending, err := sp.Begin("r")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(redirect, "SigAlg=") || !strings.Contains(redirect, "Signature=") {
		t.Fatal("AuthnRequest is not signed")
	}
	r, err := sp.Finish(context.Background(), pending, idp.signIn(t, redirect))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	checkAlice(t, idp, r)
}

func mustDecode(t *testing.T, s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConcurrentFinish signs four browsers in, then finishes their logins at
// once on one SP: the SP is documented as safe for concurrent use.
func TestConcurrentFinish(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	idp.register(t, "acme", sp, true)
	type login struct {
		p    saml.Pending
		resp string
	}
	var logins []login
	for range 4 {
		p, r := signIn(t, idp, sp)
		logins = append(logins, login{p, r})
	}
	errs := make(chan error, len(logins))
	for _, l := range logins {
		go func() {
			_, err := sp.Finish(context.Background(), l.p, l.resp)
			errs <- err
		}()
	}
	for range logins {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Finish: %v", err)
		}
	}
}

func TestLongRelayStateRefused(t *testing.T) {
	idp := startIdP(t)
	sp := newSP(t, idp, "acme", saml.NewMemoryReplayCache())
	if _, _, err := sp.Begin(strings.Repeat("r", 81)); err == nil {
		t.Fatal("an 81-byte RelayState was accepted")
	}
}
