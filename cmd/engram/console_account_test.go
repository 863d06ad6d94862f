package main_test

import (
	"testing"

	"github.com/engram-memory/engram/internal/browsertest"
)

// TestConsoleAccount: signed out, the forgot-password form gives the same
// neutral answer for an address with an account and one without. Signed in,
// the owner sees their sessions on the Account page, changes the password,
// signs out; the old password is refused and the new one signs in. Then
// "sign out everywhere" ends the session and leaves the sign-in page.
func TestConsoleAccount(t *testing.T) {
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	p.AllowConsoleError("status of 401 (Unauthorized) " + s.url + "/v1/auth/login")
	p.Navigate(s.url + "/console/")

	const neutral = "If an account has this address"
	for _, email := range []string{consoleOwnerEmail, "nobody@example.com"} {
		p.Type("#forgot-email", email)
		p.Click("#forgot-submit")
		p.WaitText("#forgot-status", neutral)
	}
	p.Screenshot("account-forgot")

	const newPassword = "Granite-Willow-Heron-77"
	signInOwner(p)
	p.Click("#nav-account")
	p.WaitText("#session-list", "this session")
	p.Screenshot("account")
	p.Type("#password-current", consoleOwnerPassword)
	p.Type("#password-new", newPassword)
	p.Click("#password-change")
	p.WaitText("#notice", "Your password is changed")
	p.Click("#signout")
	p.WaitText("#notice", "Signed out")

	p.Type("#login-email", consoleOwnerEmail)
	p.Type("#login-password", consoleOwnerPassword)
	p.Click("#login-submit")
	p.WaitText("#error", "401")
	if p.Text("#whoami") != "" {
		t.Fatal("the old password signed in")
	}
	p.Type("#login-email", consoleOwnerEmail)
	p.Type("#login-password", newPassword)
	p.Click("#login-submit")
	p.WaitText("#whoami", consoleOwnerEmail)

	p.Click("#nav-account")
	p.WaitText("#session-list", "this session")
	p.Click("#signout-everywhere")
	p.WaitText("#notice", "Signed out everywhere")
	p.WaitVisible("#login-email")
	if n := len(p.Dialogs()); n == 0 {
		t.Error("sign out everywhere asked for no confirmation")
	}
	p.Screenshot("account-signed-out-everywhere")
	// The dead session's cookies are gone from the browser.
	p.WaitTrue("the session cookies are cleared",
		`fetch('/console/session', {cache: 'no-store'}).then((r) => r.json()).then((h) => !h.access && !h.refresh)`)
	p.Navigate(s.url + "/console/")
	p.WaitVisible("#login-email")
}
