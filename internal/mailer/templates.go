package mailer

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// Kind names a message template.
type Kind string

// The account messages.
const (
	Verification  Kind = "verification"
	PasswordReset Kind = "password_reset"
	Invitation    Kind = "invitation"
)

// Data fills a template. Only Link is secret. OrgName, InviterName and
// Role come from users, so Render flattens them to one short line of
// printable text: a crafted organisation name cannot add lines, links or
// headers to the message.
type Data struct {
	To          string
	Link        string
	Expires     time.Time
	OrgName     string
	InviterName string
	Role        string
}

var templates = map[Kind]struct{ subject, body *template.Template }{
	Verification: {
		tmpl("Confirm your email address for Engram"),
		tmpl(`Hello,

Someone (hopefully you) created an Engram account with this address.
To confirm it, open this link:

{{.Link}}

The link works once and expires {{.Expires}}.
If this was not you, ignore this message; nothing will happen.
`)},
	PasswordReset: {
		tmpl("Reset your Engram password"),
		tmpl(`Hello,

A password reset was requested for the Engram account of this address.
To choose a new password, open this link:

{{.Link}}

The link works once and expires {{.Expires}}. Your current password keeps
working until you choose a new one.
If you did not ask for this, ignore this message.
`)},
	Invitation: {
		tmpl(`You are invited to {{.OrgName}} on Engram`),
		tmpl(`Hello,

{{if .InviterName}}{{.InviterName}} invited you{{else}}You are invited{{end}} to join the organisation "{{.OrgName}}" on Engram as {{.Role}}.
To accept, open this link:

{{.Link}}

The link works once and expires {{.Expires}}.
If you do not expect this invitation, ignore this message.
`)},
}

func tmpl(s string) *template.Template { return template.Must(template.New("").Parse(s)) }

// Render builds the Mail of kind for d. It refuses an invalid recipient, a
// link that is not an absolute https URL (http only on loopback, for tests
// and local use), or an unknown kind.
func Render(kind Kind, d Data) (Mail, error) {
	t, ok := templates[kind]
	if !ok {
		return Mail{}, fmt.Errorf("mailer: unknown template %q", kind)
	}
	to, err := cleanAddress(d.To)
	if err != nil {
		return Mail{}, err
	}
	if err := checkLink(d.Link); err != nil {
		return Mail{}, err
	}
	v := struct{ Link, Expires, OrgName, InviterName, Role string }{
		Link:        d.Link,
		Expires:     d.Expires.UTC().Format("2006-01-02 15:04 MST"),
		OrgName:     userText(d.OrgName, 80),
		InviterName: userText(d.InviterName, 80),
		Role:        userText(d.Role, 20),
	}
	if kind == Invitation && (v.OrgName == "" || v.Role == "") {
		return Mail{}, errors.New("mailer: an invitation needs an organisation name and a role")
	}
	var subject, body strings.Builder
	if err := t.subject.Execute(&subject, v); err != nil {
		return Mail{}, fmt.Errorf("mailer: render subject: %w", err)
	}
	if err := t.body.Execute(&body, v); err != nil {
		return Mail{}, fmt.Errorf("mailer: render body: %w", err)
	}
	return Mail{To: to, Subject: flatten(subject.String(), 200), Text: body.String(), Link: d.Link}, nil
}

// cleanAddress accepts one bare address ("a@b.example"), no display name,
// no CR or LF (header injection).
func cleanAddress(s string) (string, error) {
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("mailer: invalid recipient address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) {
		return "", errors.New("mailer: invalid recipient address")
	}
	return a.Address, nil
}

func checkLink(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(s, " \r\n\t") {
		return errors.New("mailer: link must be an absolute URL")
	}
	h := u.Hostname()
	if u.Scheme != "https" && !(u.Scheme == "http" && (h == "127.0.0.1" || h == "::1" || h == "localhost")) {
		return errors.New("mailer: link must use https")
	}
	return nil
}

// userText flattens a user-chosen field and breaks "scheme://" so a crafted
// organisation or inviter name does not become a clickable link beside the
// real one.
func userText(s string, max int) string {
	return flatten(strings.ReplaceAll(s, "://", " "), max)
}

// flatten keeps printable characters, turns any run of spaces or control
// characters into one space, and cuts at max runes.
func flatten(s string, max int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
