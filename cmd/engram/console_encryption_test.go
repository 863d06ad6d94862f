package main_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/engram-memory/engram/internal/browsertest"
)

// TestConsoleEncryption: the owner rotates the organisation's keys from the
// Encryption page (after a confirm) and sees the key version; a second
// rotation moves it on by one. A reader sees no Encryption page and, on the
// Knowledge page, no Forget button.
func TestConsoleEncryption(t *testing.T) {
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	p.Navigate(s.url + "/console/")
	signInOwner(p)

	// An entity, for the reader's view below.
	status := browsertest.Eval[int](p, `fetch("/v1/observe", {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({user_id: "mira", messages: [{role: "user", name: "Mira", content: "I live in Lyon."}]})}).then((r) => r.status)`)
	if status != 201 {
		t.Fatalf("POST /v1/observe from the page: %d", status)
	}

	p.Click("#nav-encryption")
	p.WaitText("#encryption-version", "not known")
	version := regexp.MustCompile(`Key version (\d+):`)
	rotate := func() int {
		t.Helper()
		before := p.Text("#encryption-version")
		p.Click("#encryption-rotate")
		p.WaitTrue("the version is shown anew", `document.getElementById('encryption-version').textContent !== `+strconv.Quote(before))
		m := version.FindStringSubmatch(p.Text("#encryption-version"))
		if m == nil {
			t.Fatalf("no key version in %q", p.Text("#encryption-version"))
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	v1 := rotate()
	p.Screenshot("encryption-rotated")
	if v2 := rotate(); v2 != v1+1 {
		t.Errorf("a second rotation gave version %d after %d", v2, v1)
	}
	if len(p.Dialogs()) < 2 {
		t.Errorf("rotating did not ask for confirmation: %v", p.Dialogs())
	}
	p.Screenshot("encryption")
	p.Click("#signout")
	p.WaitText("#notice", "Signed out")

	p.Type("#login-email", consoleReaderEmail)
	p.Type("#login-password", consoleReaderPass)
	p.Click("#login-submit")
	p.WaitText("#whoami", consoleReaderEmail)
	if !browsertest.Eval[bool](p, `document.getElementById('nav-encryption').hidden`) {
		t.Error("a reader sees the Encryption page's link")
	}
	p.Click("#nav-knowledge")
	p.Type("#knowledge-user", "mira")
	p.Click("#knowledge-show")
	p.WaitText("#entity-list", "Lyon")
	if n := p.Count("#entity-list button.forget"); n != 0 {
		t.Errorf("a reader sees %d Forget buttons", n)
	}
	p.Screenshot("knowledge-reader")
}
