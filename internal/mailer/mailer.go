// Package mailer sends Engram's account emails — address verification,
// password reset, invitation — each a short plain-text message whose only
// secret is one single-use link. It has two modes behind one interface:
// SMTP (STARTTLS when the server offers it, optional authentication that is
// only ever sent over TLS, timeouts on every step), and LinkOnly for
// deployments without a mail server, where the link is handed back to the
// caller so an admin can pass it on (the contract's accept_url).
//
// Nothing here logs, and no error carries a message's body, link or
// recipient address.
package mailer

import (
	"context"
	"errors"
)

// Mail is one rendered message.
type Mail struct {
	To      string // a bare address, validated by Render
	Subject string
	Text    string // plain-text body, holding Link
	// Link is the one-time link the body carries. It is a secret: whoever
	// holds it can verify, reset or join.
	Link string
}

// Outcome says how a Mail left.
type Outcome struct {
	// Sent is true when a mail server accepted the message.
	Sent bool
	// Link is set only when Sent is false: the caller must hand it to the
	// person who asked (for an invitation, the admin, as accept_url) and
	// nowhere else — not to logs, not to the audit trail.
	Link string
}

// Mailer delivers a Mail. An error means nothing was delivered and no link
// was handed out; the caller may retry or fail the request.
type Mailer interface {
	Deliver(ctx context.Context, m Mail) (Outcome, error)
}

// LinkOnly is the no-mailer mode: it sends nothing and returns the link.
type LinkOnly struct{}

// Deliver implements Mailer.
func (LinkOnly) Deliver(_ context.Context, m Mail) (Outcome, error) {
	if m.Link == "" {
		return Outcome{}, errors.New("mailer: mail has no link")
	}
	return Outcome{Link: m.Link}, nil
}

var _ Mailer = LinkOnly{}
var _ Mailer = (*SMTP)(nil)
