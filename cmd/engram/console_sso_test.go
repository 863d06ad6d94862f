package main_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/browsertest"
)

// idpMetadata is a SAML IdP's metadata whose single sign-on endpoint is
// location, signed by a fresh self-signed certificate. No IdP answers
// there beyond a plain page: the test stops at the redirect.
func idpMetadata(t *testing.T, location string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return `<?xml version="1.0"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + location + `/metadata">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + location + `/sso"/>
  </IDPSSODescriptor>
</EntityDescriptor>`
}

// TestConsoleSSO: the owner sees no single sign-on, configures a SAML IdP
// from the SSO page (the SP's ACS URL is shown), and the sign-in page's
// "Sign in with SSO" sends the browser through /v1/sso/acme/begin to the
// IdP with a SAMLRequest. Then the owner removes the configuration. A
// reader sees no SSO link.
func TestConsoleSSO(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><title>IdP</title><p id="idp">The identity provider</p>`))
	}))
	defer idp.Close()
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	// GET /v1/sso answers 404 while nothing is configured: the page says so.
	p.AllowConsoleError("status of 404 (Not Found) " + s.url + "/v1/sso")
	p.Navigate(s.url + "/console/")
	signInOwner(p)
	p.Click("#nav-sso")
	p.WaitText("#sso-status", "No single sign-on")

	p.WaitTrue("SAML chosen", `(document.getElementById('sso-kind').value = 'saml', true)`)
	p.WaitTrue("metadata pasted", `(document.getElementById('sso-metadata').value = `+jsString(idpMetadata(t, idp.URL))+`, true)`)
	p.Click("#sso-save")
	p.WaitText("#sso-status", "Configured: SAML 2.0")
	p.WaitText("#sso-current", "/v1/sso/acme/saml/acs")
	p.Screenshot("sso")

	// The begin route redirects to the IdP.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(s.url + "/v1/sso/acme/begin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, idp.URL+"/sso?SAMLRequest=") {
		t.Fatalf("begin: %d, Location %q", res.StatusCode, loc)
	}

	// In a fresh browser (no cookies of the owner's): the sign-in page's SSO entry.
	q := browsertest.Start(t).NewPage(t)
	allowSignedOut(q, s)
	q.Navigate(s.url + "/console/")
	q.Type("#sso-tenant", "acme")
	q.Click("#sso-begin")
	q.WaitText("#idp", "identity provider")
	if href := browsertest.Eval[string](q, `location.href`); !strings.HasPrefix(href, idp.URL+"/sso?SAMLRequest=") {
		t.Errorf("the SSO sign-in went to %q", href)
	}

	p.Click("#sso-remove")
	p.WaitText("#sso-status", "No single sign-on")
	p.Screenshot("sso-removed")

	r := browsertest.Start(t).NewPage(t)
	allowSignedOut(r, s)
	r.Navigate(s.url + "/console/")
	r.Type("#login-email", consoleReaderEmail)
	r.Type("#login-password", consoleReaderPass)
	r.Click("#login-submit")
	r.WaitText("#whoami", consoleReaderEmail)
	if browsertest.Eval[bool](r, `!document.getElementById('nav-sso').hidden`) {
		t.Error("a reader sees the SSO link")
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
