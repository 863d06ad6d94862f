package main_test

import (
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/browsertest"
)

const (
	consoleNewEmail = "nora@example.com"
	consoleNewPass  = "Willow-Ferry-Granite-73"
)

// memberRow is the XPath of the li of a member (or invitation) by email in
// the list of the given id, and of a button of the given class in it.
func memberButton(list, email, class string) string {
	return `//*[@id="` + list + `"]/li[@data-email="` + email + `"]//button[contains(concat(" ", normalize-space(@class), " "), " ` + class + ` ")]`
}

// TestConsoleMembers: the owner lists the members and the pending
// invitation, invites someone from the page (the one-time link shown, as no
// mail server is configured), changes the reader's role, withdraws a pending
// invitation; the invitee accepts the link in a fresh browser, signs in as a
// member, sees no invite form, and when the form is forced open the server
// refuses the invitation and the page shows the problem's message. Removing
// the member ends their session at once.
func TestConsoleMembers(t *testing.T) {
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	p.Navigate(s.url + "/console/")
	signInOwner(p)

	p.Click("#nav-members")
	p.WaitText("#member-list", consoleReaderEmail)
	p.WaitText("#invitation-list", consoleInviteeEmail)
	p.Screenshot("members")

	// Invite from the page: the link is shown once.
	p.Type("#invite-email", consoleNewEmail)
	p.Click("#invite-submit")
	link := p.WaitText("#invite-link", "#token=")
	_, tok, ok := strings.Cut(strings.TrimSpace(link), "#token=")
	if !ok || tok == "" {
		t.Fatalf("invitation link %q", link)
	}
	p.WaitText("#invitation-list", consoleNewEmail)
	p.Screenshot("members-invited")

	// Change the reader's role to member.
	browsertest.Eval[bool](p, `((s) => { s.value = "member"; return true; })(document.querySelector('#member-list li[data-email="`+consoleReaderEmail+`"] select.role-select'))`)
	p.ClickXPath(memberButton("member-list", consoleReaderEmail, "role-save"))
	p.WaitTrue("the reader is a member", `document.querySelector('#member-list li[data-email="`+consoleReaderEmail+`"]').dataset.role === "member"`)

	// Withdraw the pending invitation made offline.
	p.ClickXPath(memberButton("invitation-list", consoleInviteeEmail, "withdraw"))
	p.WaitTrue("the invitation is withdrawn", `!document.querySelector('#invitation-list li[data-email="`+consoleInviteeEmail+`"]')`)
	p.Screenshot("members-changed")

	// The invitee, in a fresh browser (no cookies of the owner's).
	b2 := browsertest.Start(t)
	q := b2.NewPage(t)
	allowSignedOut(q, s)
	q.Navigate(s.url + "/accept#token=" + tok)
	q.Type("#accept-password", consoleNewPass)
	q.Click("#accept-submit")
	q.WaitTrue("the email is filled in", `document.querySelector("#login-email").value === "`+consoleNewEmail+`"`)
	q.Type("#login-password", consoleNewPass)
	q.Click("#login-submit")
	q.WaitText("#whoami", consoleNewEmail)
	q.WaitText("#role", "member")
	q.Click("#nav-members")
	q.WaitText("#member-list", consoleOwnerEmail)
	visible := `((sel) => { const e = document.querySelector(sel); return !!e && !e.closest("[hidden]") && e.getClientRects().length > 0; })`
	for _, sel := range []string{"#invite-submit", "#member-list button.remove", "#member-list select"} {
		if browsertest.Eval[bool](q, visible+`("`+sel+`")`) {
			t.Errorf("a member sees %s", sel)
		}
	}
	q.Screenshot("members-as-member")
	// Forced open, the form's request is refused by the server, and the
	// page shows the problem's message.
	q.AllowConsoleError("status of 403 (Forbidden) " + s.url + "/v1/invitations")
	browsertest.Eval[bool](q, `((f) => { f.hidden = false; return true; })(document.querySelector("#invite-form"))`)
	q.Type("#invite-email", "someone@example.com")
	q.Click("#invite-submit")
	msg := q.WaitText("#error", "(403)")
	if strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "(403)")) == "" {
		t.Errorf("the refusal shows no message: %q", msg)
	}
	q.Screenshot("members-refused")

	// The member's Data page: only their own export, no deletions.
	q.Click("#nav-data")
	q.WaitVisible("#export-download")
	if got := browsertest.Eval[string](q, `[...document.querySelectorAll("#export-scope option")].map((o) => o.value).join(",")`); got != "mine" {
		t.Errorf("a member may export %q, want mine", got)
	}
	if browsertest.Eval[bool](q, visible+`("#deletion-schedule")`) {
		t.Error("a member sees the deletion form")
	}
	// The member schedules their own account's deletion (DELETE /v1/me,
	// not in the page yet); the Data page says when, and cancels it.
	if st := browsertest.Eval[int](q, `fetch("/v1/me", {method: "DELETE"}).then((r) => r.status)`); st != 202 {
		t.Fatalf("DELETE /v1/me from the page: %d", st)
	}
	q.Navigate(s.url + "/console/")
	q.WaitText("#whoami", consoleNewEmail)
	q.Click("#nav-data")
	q.WaitText("#my-deletion-text", "scheduled for deletion")
	q.Screenshot("data-my-deletion")
	q.Click("#my-deletion-cancel")
	q.WaitTrue("the deletion is cancelled", `document.querySelector("#my-deletion").hidden`)

	// The owner removes the new member: their session ends at once.
	p.Click("#nav-memories")
	p.Click("#nav-members")
	p.WaitText("#member-list", consoleNewEmail)
	p.ClickXPath(memberButton("member-list", consoleNewEmail, "remove"))
	p.WaitTrue("the member is removed", `!document.querySelector('#member-list li[data-email="`+consoleNewEmail+`"]')`)
	q.AllowConsoleError("status of 401 (Unauthorized) " + s.url + "/v1/me")
	if st := browsertest.Eval[int](q, `fetch("/v1/me").then((r) => r.status)`); st != 401 {
		t.Errorf("GET /v1/me of a removed member: %d, want 401", st)
	}
}
