package saml_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/sso/saml"
	"github.com/engram-memory/engram/internal/sso/saml/simplesamltest"
)

var bob = simplesamltest.User{UID: "bob", Password: "bob-password-2718",
	Attributes: map[string][]string{"mail": {"bob@example.org"}, "cn": {"Bob Example"},
		"eduPersonAffiliation": {"staff", "engineering"}}}

// TestSimpleSAMLphp signs in through an independent IdP, SimpleSAMLphp,
// driving its login form like a browser: the assertion it signs (and
// encrypts, since our metadata offers a key) is accepted once, and refused
// when posted again.
func TestSimpleSAMLphp(t *testing.T) {
	idp := simplesamltest.Start(t, bob)
	key, cert := keyPair(t, "acme")
	base := "http://127.0.0.1:9/v1/sso/acme/saml"
	sp, err := saml.New(saml.Config{Scope: "org-acme", MetadataURL: base + "/metadata", ACSURL: base + "/acs",
		IDPMetadata: idp.Metadata(t), Key: key, Certificate: cert, TrustEmails: true, RequireEncryption: true,
		ReplayCache: saml.NewMemoryReplayCache()})
	if err != nil {
		t.Fatal(err)
	}
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	idp.AddSP(t, md)

	browser := simplesamltest.Browser()
	redirect, pending, err := sp.Begin("relay-1")
	if err != nil {
		t.Fatal(err)
	}
	post := idp.SignIn(t, browser, redirect, bob.UID, bob.Password)
	if post.Action != base+"/acs" || post.RelayState != "relay-1" {
		t.Fatalf("IdP posts to %q with relay %q", post.Action, post.RelayState)
	}
	r, err := sp.Finish(t.Context(), pending, post.SAMLResponse)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	id := r.Identity
	if id.Subject != "bob" || id.Issuer != idp.EntityID() || id.Email != "bob@example.org" || !id.EmailVerified ||
		id.Name != "Bob Example" || !slices.Equal(id.Groups, []string{"staff", "engineering"}) || r.AssertionID == "" {
		t.Fatalf("identity = %+v (assertion %q)", id, r.AssertionID)
	}
	if _, err := sp.Finish(t.Context(), pending, post.SAMLResponse); !errors.Is(err, saml.ErrReplayed) {
		t.Fatalf("replayed assertion: %v, want ErrReplayed", err)
	}

	// A wrong password gets no assertion.
	redirect, _, err = sp.Begin("relay-2")
	if err != nil {
		t.Fatal(err)
	}
	other := simplesamltest.Browser()
	page := idp.LoginPage(t, other, redirect, bob.UID, "wrong-password")
	if page.SAMLResponse != "" {
		t.Fatal("SimpleSAMLphp issued an assertion for a wrong password")
	}

	// The IdP's session signs the browser in again without the form: a
	// new assertion, for the new request only.
	redirect, pending2, err := sp.Begin("relay-3")
	if err != nil {
		t.Fatal(err)
	}
	again := idp.Follow(t, browser, redirect)
	if _, err := sp.Finish(t.Context(), pending, again.SAMLResponse); !errors.Is(err, saml.ErrRequestID) {
		t.Fatalf("response to another request: %v, want ErrRequestID", err)
	}
	if _, err := sp.Finish(t.Context(), pending2, again.SAMLResponse); err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
}
