package ssoe2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"html"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/sso/saml/simplesamltest"
)

// samlIdP is what the tests need of an identity provider.
type samlIdP struct {
	// private is what the IdP asserts of its user that must never be
	// stored in clear.
	private  []string
	metadata []byte
	register func(t *testing.T, spMetadata []byte)
	// signIn follows the SP's redirect in the browser through the IdP's
	// login and returns the form its page posts: action and SAMLResponse.
	signIn func(t *testing.T, browser *http.Client, redirect string) (action, response string)
}

// crewjamIdP is crewjam's samlidp in process, with one user in the
// engineering group.
func crewjamIdP(t *testing.T) *samlIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	idp, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	h = idp
	hash, _ := bcrypt.GenerateFromPassword([]byte("alice-password-1"), bcrypt.MinCost)
	if err := idp.Store.Put("/users/alice", samlidp.User{Name: "alice", HashedPassword: hash,
		Email: "alice@example.com", CommonName: "Alice Liddell", Groups: []string{"engineering"}}); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, c *http.Client, u string) []byte {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	return &samlIdP{
		private:  []string{"alice@example.com", "Alice Liddell"},
		metadata: get(t, http.DefaultClient, srv.URL+"/metadata"),
		register: func(t *testing.T, md []byte) {
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/services/engram", bytes.NewReader(md))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("registering the SP: %d", resp.StatusCode)
			}
		},
		signIn: func(t *testing.T, b *http.Client, redirect string) (string, string) {
			c := following(b)
			resp, err := c.PostForm(srv.URL+"/login", url.Values{"user": {"alice"}, "password": {"alice-password-1"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return formOf(t, get(t, c, redirect))
		},
	}
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	samlField  = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)
)

func formOf(t *testing.T, page []byte) (string, string) {
	t.Helper()
	a, r := formAction.FindSubmatch(page), samlField.FindSubmatch(page)
	if a == nil || r == nil {
		t.Fatalf("IdP page has no SAMLResponse form: %.300s", page)
	}
	return html.UnescapeString(string(a[1])), html.UnescapeString(string(r[1]))
}

// simpleSAMLphpIdP is SimpleSAMLphp with one user in the engineering
// affiliation.
func simpleSAMLphpIdP(t *testing.T) *samlIdP {
	t.Helper()
	u := simplesamltest.User{UID: "bob", Password: "bob-password-2718", Attributes: map[string][]string{
		"mail": {"bob@example.org"}, "cn": {"Bob Example"}, "eduPersonAffiliation": {"staff", "engineering"}}}
	idp := simplesamltest.Start(t, u)
	return &samlIdP{
		private:  []string{"bob@example.org", "Bob Example"},
		metadata: idp.Metadata(t),
		register: func(t *testing.T, md []byte) { idp.AddSP(t, md) },
		signIn: func(t *testing.T, b *http.Client, redirect string) (string, string) {
			p := idp.SignIn(t, following(b), redirect, u.UID, u.Password)
			return p.Action, p.SAMLResponse
		},
	}
}

// postACS posts a SAMLResponse to the ACS with the pending cookie value.
func postACS(t *testing.T, n *node, action, pending, response string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(url.Values{"SAMLResponse": {response}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Secure-engram_sso", Value: pending})
	resp, err := n.browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSAMLSignIn signs in through REST with crewjam's samlidp and with
// SimpleSAMLphp: the organisation configures SAML with the IdP's
// metadata, gives the IdP its SP metadata, and a first sign-in provisions
// a member from the engineering group. The same assertion posted again —
// to the same node or to a second node on the same store — is refused.
func TestSAMLSignIn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T) *samlIdP
	}{{"samlidp", crewjamIdP}, {"SimpleSAMLphp", simpleSAMLphpIdP}} {
		t.Run(tc.name, func(t *testing.T) {
			idp := tc.start(t)
			n := startNode(t, nil)
			o := n.newOrg(t, "acme")
			owner := n.ownerToken(t, o)
			cfg := n.configure(t, owner, engram.SSOConfig{Kind: "saml",
				SAML:   &engram.SSOSAML{IDPMetadata: string(idp.metadata), TrustEmails: true},
				Policy: engram.SSOPolicy{JIT: true, GroupRoles: []engram.SSOGroupRole{{Group: "engineering", Role: engram.RoleMember}}}})
			if cfg.SAML == nil || cfg.SAML.ACSURL != n.URL+"/v1/sso/acme/saml/acs" {
				t.Fatalf("configured: %+v", cfg.SAML)
			}
			resp, err := n.srv.Client().Get(n.URL + "/v1/sso/acme/saml/metadata")
			if err != nil {
				t.Fatal(err)
			}
			md, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(md, []byte(cfg.SAML.ACSURL)) {
				t.Fatalf("SP metadata: %d %.200s", resp.StatusCode, md)
			}
			idp.register(t, md)

			b := n.browser()
			resp, err = b.Get(n.URL + "/v1/sso/acme/begin")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("begin: %d", resp.StatusCode)
			}
			var pending *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "__Secure-engram_sso" {
					pending = c
				}
			}
			if pending == nil || pending.SameSite != http.SameSiteNoneMode || !pending.Secure || !pending.HttpOnly || pending.Path != "/v1/sso/" {
				t.Fatalf("pending cookie: %+v", pending)
			}
			action, response := idp.signIn(t, b, resp.Header.Get("Location"))
			if action != cfg.SAML.ACSURL {
				t.Fatalf("IdP posts to %q", action)
			}
			resp = postACS(t, n, action, pending.Value, response)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Fatalf("ACS: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
			}
			var at string
			for _, c := range resp.Cookies() {
				if c.Name == session.AccessCookie {
					at = c.Value
				}
			}
			if p := n.principal(t, at); p.TenantID != o.ID || p.Role != engram.RoleMember {
				t.Fatalf("signed in as %+v, want a member of acme", p)
			}

			// The person's address and name are sealed.
			n.atRest(t, idp.private...)

			// Captured with its cookie and posted again: refused, here
			// and on another instance sharing the store.
			if resp := postACS(t, n, action, pending.Value, response); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("replayed assertion: %d, want 401", resp.StatusCode)
			}
			n2 := startNode(t, n)
			if resp := postACS(t, n2, n2.URL+"/v1/sso/acme/saml/acs", pending.Value, response); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("replayed assertion on a second node: %d, want 401", resp.StatusCode)
			}
			// The second node does sign a fresh assertion in: its refusal
			// above was the replay.
			b2 := n2.browser()
			resp, err = b2.Get(n2.URL + "/v1/sso/acme/begin")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			pending2 := n2.cookie(b2, "/v1/sso/acme/saml/acs", "__Secure-engram_sso")
			_, response2 := idp.signIn(t, b2, resp.Header.Get("Location"))
			if resp := postACS(t, n2, n2.URL+"/v1/sso/acme/saml/acs", pending2, response2); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("fresh sign-in on the second node: %d, want 303", resp.StatusCode)
			}
			// Refusals before a verified identity are counted, not written
			// one row per request (anyone can post to the ACS).
			if err := n.E.FlushAuthFailures(context.Background()); err != nil {
				t.Fatal(err)
			}
			acts := n.auditActions(t, owner)
			if slices.Contains(acts, "sso.login:failure") {
				t.Errorf("a replay wrote an sso.login entry: %v", acts)
			}
			for _, want := range []string{"sso.provisioned:success", "sso.login:success", "auth.failure:failure"} {
				if !slices.Contains(acts, want) {
					t.Errorf("audit lacks %s: %v", want, acts)
				}
			}
		})
	}
}
