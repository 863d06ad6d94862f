package mailer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/mailer"
)

// FuzzRender feeds user-chosen fields (organisation and inviter names, role)
// to the invitation template: the subject must stay one line, the body must
// keep its line count and hold the real link exactly once as its only link.
func FuzzRender(f *testing.F) {
	f.Add("Acme", "Ada", "member")
	f.Add("A\r\nBcc: x@y", "https://evil.example", "admin\n\nclick http://x")
	f.Add("\u2028\u0085\x00", "\t", "")
	base, _ := mailer.Render(mailer.Invitation, mailer.Data{To: "b@example.org", Link: "https://engram.example/a?token=t", OrgName: "o", InviterName: "i", Role: "r"})
	lines := strings.Count(base.Text, "\n")
	f.Fuzz(func(t *testing.T, org, inviter, role string) {
		m, err := mailer.Render(mailer.Invitation, mailer.Data{To: "b@example.org", Link: "https://engram.example/a?token=t",
			Expires: time.Unix(0, 0), OrgName: org, InviterName: inviter, Role: role})
		if err != nil {
			return
		}
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("multi-line subject %q", m.Subject)
		}
		if inviter != "" && strings.Count(m.Text, "\n") != lines {
			t.Fatalf("body has %d lines, want %d:\n%s", strings.Count(m.Text, "\n"), lines, m.Text)
		}
		if got := linkRE.FindAllString(m.Text, -1); len(got) != 1 || got[0] != "https://engram.example/a?token=t" {
			t.Fatalf("links %q in:\n%s", got, m.Text)
		}
	})
}
