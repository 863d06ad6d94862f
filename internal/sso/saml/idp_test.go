package saml_test

// A real SAML identity provider for the tests: crewjam's samlidp, served on
// 127.0.0.1 with its own key, users and service registry. Its assertion maker
// is wrapped so a test can make it issue an expired assertion or one for
// another audience — what an SP must refuse even when the signature is good.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"html"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"

	"github.com/engram-memory/engram/internal/sso/saml"
)

const (
	userName = "alice"
	userPass = "correct horse battery staple"
)

func keyPair(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return k, c
}

// editMaker is the default assertion maker plus an optional edit before the
// IdP signs (and encrypts) the assertion.
type editMaker struct {
	mu   sync.Mutex
	edit func(*crewjam.Assertion)
}

func (m *editMaker) set(f func(*crewjam.Assertion)) { m.mu.Lock(); m.edit = f; m.mu.Unlock() }

func (m *editMaker) MakeAssertion(req *crewjam.IdpAuthnRequest, s *crewjam.Session) error {
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.edit != nil {
		m.edit(req.Assertion)
	}
	return nil
}

type testIdP struct {
	srv   *httptest.Server
	idp   *samlidp.Server
	maker *editMaker
}

func startIdP(t testing.TB) *testIdP {
	t.Helper()
	key, cert := keyPair(t, "test idp")
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	idp, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert,
		Store: &samlidp.MemoryStore{}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	maker := &editMaker{}
	idp.IDP.AssertionMaker = maker
	h = idp
	hash, _ := bcrypt.GenerateFromPassword([]byte(userPass), bcrypt.MinCost)
	if err := idp.Store.Put("/users/"+userName, samlidp.User{Name: userName, HashedPassword: hash,
		Email: "Alice@Example.com", GivenName: "Alice", Surname: "Liddell", CommonName: "Alice Liddell",
		Groups: []string{"engineering", "it-admins"}}); err != nil {
		t.Fatal(err)
	}
	return &testIdP{srv: srv, idp: idp, maker: maker}
}

func (i *testIdP) metadata(t testing.TB) []byte {
	t.Helper()
	resp, err := http.Get(i.srv.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// register gives the IdP the SP's metadata through its admin API; without
// encryption the SP's encryption key descriptor is left out, so the IdP sends
// the assertion in the clear (signed).
func (i *testIdP) register(t *testing.T, name string, sp *saml.SP, encrypt bool) {
	t.Helper()
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if !encrypt {
		var ed crewjam.EntityDescriptor
		if err := xml.Unmarshal(md, &ed); err != nil {
			t.Fatal(err)
		}
		for j := range ed.SPSSODescriptors {
			kds := ed.SPSSODescriptors[j].KeyDescriptors[:0]
			for _, kd := range ed.SPSSODescriptors[j].KeyDescriptors {
				if kd.Use != "encryption" {
					kds = append(kds, kd)
				}
			}
			ed.SPSSODescriptors[j].KeyDescriptors = kds
		}
		if md, err = xml.Marshal(ed); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, i.srv.URL+"/services/"+name, bytes.NewReader(md))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("registering the SP at the IdP: %d", resp.StatusCode)
	}
}

var samlResponseField = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

// signIn plays the browser: it signs in at the IdP (its /login form), then
// follows the SP's redirect to the IdP's SSO endpoint and returns the
// SAMLResponse the IdP's page would post to the ACS. Signing in first keeps
// the redirect's query signature intact (samlidp's in-flow login form
// re-posts the request without it).
func (i *testIdP) signIn(t *testing.T, redirectURL string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.PostForm(i.srv.URL+"/login", url.Values{"user": {userName}, "password": {userPass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP login answered %d", resp.StatusCode)
	}
	resp, err = browser.Get(redirectURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := samlResponseField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("IdP answered %d without a SAMLResponse form", resp.StatusCode)
	}
	return html.UnescapeString(string(m[1]))
}
