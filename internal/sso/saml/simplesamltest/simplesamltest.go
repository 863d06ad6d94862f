// Package simplesamltest runs SimpleSAMLphp (Debian's simplesamlphp 1.19)
// as a real, independent SAML 2.0 identity provider for tests: configured
// in a temporary directory and served by PHP's built-in web server on
// 127.0.0.1 (no apache, no root, no system file touched). Users sign in
// through its exampleauth:UserPass login form; it signs its assertions
// with its own key and encrypts them when the SP's metadata offers an
// encryption key.
//
// scripts/test installs the packages (simplesamlphp, php8.2-cli, php-xml);
// a test that finds them missing fails, it never skips.
package simplesamltest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// WWW is where Debian installs SimpleSAMLphp's web root.
const WWW = "/usr/share/simplesamlphp/www"

// User is an account of the IdP: its attributes are sent as they are
// (basic attribute names such as mail, cn, eduPersonAffiliation); uid is
// also the persistent NameID.
type User struct {
	UID, Password string
	Attributes    map[string][]string
}

// IdP is a running SimpleSAMLphp.
type IdP struct {
	// URL is its base, http://127.0.0.1:PORT.
	URL string
	dir string

	mu  sync.Mutex
	sps [][]byte
}

// EntityID is the IdP's entity id (SimpleSAMLphp's default for a hosted
// IdP: its metadata URL).
func (i *IdP) EntityID() string { return i.URL + "/saml2/idp/metadata.php" }

// Start configures and starts SimpleSAMLphp with users; it stops with the
// test. SPs are added with AddSP (their metadata usually needs the IdP's
// first).
func Start(t testing.TB, users ...User) *IdP {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("simplesamltest: php not installed (scripts/test installs php8.2-cli, php-xml and simplesamlphp): %v", err)
	}
	if _, err := os.Stat(filepath.Join(WWW, "saml2/idp/SSOService.php")); err != nil {
		t.Fatalf("simplesamltest: simplesamlphp not installed (scripts/test installs it): %v", err)
	}
	dir := t.TempDir()
	for _, d := range []string{"config", "metadata", "cert", "tmp", "data", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	keyPEM, certPEM := selfSigned(t)
	write(t, filepath.Join(dir, "cert/idp.key"), keyPEM)
	write(t, filepath.Join(dir, "cert/idp.crt"), certPEM)
	write(t, filepath.Join(dir, "config/authsources.php"), authSources(users))
	write(t, filepath.Join(dir, "metadata/saml20-idp-hosted.php"), []byte(idpHosted))
	i := &IdP{dir: dir}
	i.writeSPs(t)
	// A free port, then the server on it. Another process may take the
	// port in between: try again with a new one.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		i.URL = "http://127.0.0.1:" + strconv.Itoa(port)
		write(t, filepath.Join(dir, "config/config.php"), config(dir, i.URL))
		if lastErr = i.serve(t, php, port); lastErr == nil {
			return i
		}
	}
	t.Fatalf("simplesamltest: %v", lastErr)
	return nil
}

func (i *IdP) serve(t testing.TB, php string, port int) error {
	logf, err := os.Create(filepath.Join(i.dir, "log/server.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(php, "-S", "127.0.0.1:"+strconv.Itoa(port), "-t", WWW)
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(i.dir, "config"),
		// A few workers, so a test's concurrent requests do not queue.
		"PHP_CLI_SERVER_WORKERS=4")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: the workers it forks go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(i.dir, "log/server.log"))
			return fmt.Errorf("php -S exited: %s", lastLines(log))
		default:
		}
		resp, err := http.Get(i.EntityID())
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("IDPSSODescriptor")) {
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						log, _ := os.ReadFile(filepath.Join(i.dir, "log/server.log"))
						t.Logf("SimpleSAMLphp log:\n%s", lastLines(log))
					}
				})
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return fmt.Errorf("SimpleSAMLphp did not answer on port %d", port)
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Metadata returns the IdP's metadata XML, as an SP's administrator
// downloads it.
func (i *IdP) Metadata(t testing.TB) []byte {
	t.Helper()
	resp, err := http.Get(i.EntityID())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP metadata: %d %v", resp.StatusCode, err)
	}
	return b
}

// AddSP registers a service provider by its metadata XML (one
// EntityDescriptor). SimpleSAMLphp reads its metadata sources on every
// request, so no restart is needed.
func (i *IdP) AddSP(t testing.TB, metadata []byte) {
	t.Helper()
	i.mu.Lock()
	i.sps = append(i.sps, metadata)
	i.mu.Unlock()
	i.writeSPs(t)
}

var xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*\?>`)

func (i *IdP) writeSPs(t testing.TB) {
	i.mu.Lock()
	defer i.mu.Unlock()
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n" + `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + "\n")
	for _, sp := range i.sps {
		b.Write(xmlDecl.ReplaceAll(sp, nil))
		b.WriteByte('\n')
	}
	b.WriteString("</EntitiesDescriptor>\n")
	// Written whole and renamed, so a request never reads half a file.
	tmp := filepath.Join(i.dir, "metadata/sp.xml.tmp")
	write(t, tmp, b.Bytes())
	if err := os.Rename(tmp, filepath.Join(i.dir, "metadata/sp.xml")); err != nil {
		t.Fatal(err)
	}
}

// Browser is a user agent with a cookie jar, as a person's browser would
// carry SimpleSAMLphp's session between its pages.
func Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// Post is the form the IdP's last page submits to the SP.
type Post struct {
	Action       string
	SAMLResponse string
	RelayState   string
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	inputField = regexp.MustCompile(`<input[^>]*name="([A-Za-z]+)"[^>]*value="([^"]*)"`)
	authState  = regexp.MustCompile(`name="AuthState"\s+value="([^"]+)"`)
)

// SignIn follows the SP's redirect (an AuthnRequest over HTTP-Redirect) in
// browser, fills SimpleSAMLphp's login form with uid and password, and
// returns the form its answer page would post to the SP's ACS.
func (i *IdP) SignIn(t testing.TB, browser *http.Client, redirectURL, uid, password string) Post {
	t.Helper()
	p := i.LoginPage(t, browser, redirectURL, uid, password)
	if p.SAMLResponse == "" {
		t.Fatalf("SimpleSAMLphp answered the login without a SAMLResponse")
	}
	return p
}

// LoginPage is SignIn that returns an empty Post when the IdP answers
// without a SAMLResponse (a refused password shows the form again).
func (i *IdP) LoginPage(t testing.TB, browser *http.Client, redirectURL, uid, password string) Post {
	t.Helper()
	page, final := get(t, browser, redirectURL)
	m := authState.FindSubmatch(page)
	if m == nil {
		t.Fatalf("SimpleSAMLphp showed no login form at %s: %.400s", final, page)
	}
	resp, err := browser.PostForm(final, url.Values{"username": {uid}, "password": {password},
		"AuthState": {html.UnescapeString(string(m[1]))}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return parsePost(page)
}

// Follow follows the SP's redirect in a browser that already holds an IdP
// session: SimpleSAMLphp answers with the form to post at once.
func (i *IdP) Follow(t testing.TB, browser *http.Client, redirectURL string) Post {
	t.Helper()
	page, final := get(t, browser, redirectURL)
	p := parsePost(page)
	if p.SAMLResponse == "" {
		t.Fatalf("SimpleSAMLphp answered %s without a SAMLResponse: %.400s", final, page)
	}
	return p
}

func parsePost(page []byte) Post {
	var p Post
	if !bytes.Contains(page, []byte(`name="SAMLResponse"`)) {
		return p
	}
	if a := formAction.FindSubmatch(page); a != nil {
		p.Action = html.UnescapeString(string(a[1]))
	}
	for _, f := range inputField.FindAllSubmatch(page, -1) {
		switch string(f[1]) {
		case "SAMLResponse":
			p.SAMLResponse = html.UnescapeString(string(f[2]))
		case "RelayState":
			p.RelayState = html.UnescapeString(string(f[2]))
		}
	}
	return p
}

func get(t testing.TB, c *http.Client, u string) ([]byte, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.Request.URL.String()
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t testing.TB) (keyPEM, certPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "simplesamlphp test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// phpString quotes s as a PHP single-quoted string.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func config(dir, base string) []byte {
	d := func(sub string) string { return phpString(filepath.Join(dir, sub) + "/") }
	salt := make([]byte, 16)
	rand.Read(salt)
	return []byte(`<?php
$config = [
  'baseurlpath' => ` + phpString(base+"/") + `,
  'certdir' => ` + d("cert") + `,
  'loggingdir' => ` + d("log") + `,
  'datadir' => ` + d("data") + `,
  'tempdir' => ` + d("tmp") + `,
  'metadatadir' => ` + d("metadata") + `,
  'secretsalt' => ` + phpString(fmt.Sprintf("%x", salt)) + `,
  'auth.adminpassword' => ` + phpString(fmt.Sprintf("%x", salt)) + `,
  'technicalcontact_name' => 'Test',
  'technicalcontact_email' => 'na@example.org',
  'timezone' => 'UTC',
  'logging.level' => SimpleSAML\Logger::WARNING,
  'logging.handler' => 'errorlog',
  'store.type' => 'phpsession',
  'session.phpsession.savepath' => ` + phpString(filepath.Join(dir, "tmp")) + `,
  // Plain HTTP on loopback in the test: a Secure cookie would never come back.
  'session.cookie.secure' => false,
  'session.cookie.samesite' => null,
  'language.cookie.secure' => false,
  'enable.saml20-idp' => true,
  'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
  'metadata.sources' => [
    ['type' => 'flatfile', 'directory' => ` + phpString(filepath.Join(dir, "metadata")) + `],
    ['type' => 'xml', 'file' => ` + phpString(filepath.Join(dir, "metadata/sp.xml")) + `],
  ],
  'production' => false,
];
`)
}

// idpHosted: the IdP signs with RSA-SHA256 and names users by a persistent
// NameID made from their uid (SimpleSAMLphp's default is transient, which
// Engram's SP refuses as a subject).
const idpHosted = `<?php
$metadata['__DYNAMIC:1__'] = [
  'host' => '__DEFAULT__',
  'privatekey' => 'idp.key',
  'certificate' => 'idp.crt',
  'auth' => 'example-userpass',
  'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  // Encrypt assertions to the SP's encryption key (from its metadata).
  'assertion.encryption' => true,
  // Whatever format the SP asks for or lists, the NameID is the uid.
  'authproc' => [
    3 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid',
          'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    4 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid',
          'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
  ],
];
`

func authSources(users []User) []byte {
	var b strings.Builder
	b.WriteString("<?php\n$config = [\n  'admin' => ['core:AdminPassword'],\n  'example-userpass' => [\n    'exampleauth:UserPass',\n")
	for _, u := range users {
		fmt.Fprintf(&b, "    %s => [\n      'uid' => [%s],\n", phpString(u.UID+":"+u.Password), phpString(u.UID))
		for name, vals := range u.Attributes {
			q := make([]string, len(vals))
			for k, v := range vals {
				q[k] = phpString(v)
			}
			fmt.Fprintf(&b, "      %s => [%s],\n", phpString(name), strings.Join(q, ", "))
		}
		b.WriteString("    ],\n")
	}
	b.WriteString("  ],\n];\n")
	return []byte(b.String())
}
