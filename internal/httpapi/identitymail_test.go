package httpapi_test

import (
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/mailer"
	"github.com/engram-memory/engram/internal/testserver"
)

// inbox is a real SMTP server (go-smtp) on 127.0.0.1 keeping what it
// receives, so the production SMTP client delivers through the protocol.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	got  chan struct{}
	// reject, when set, refuses every recipient (quoting it, as real
	// servers do) and signals rejected.
	reject   bool
	rejected chan struct{}
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }

type inboxSession struct{ b *inbox }

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	reject := s.b.reject
	s.b.mu.Unlock()
	if reject {
		s.b.rejected <- struct{}{}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox <" + to + "> unavailable"}
	}
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, string(raw))
	s.b.mu.Unlock()
	s.b.got <- struct{}{}
	return nil
}
func (s *inboxSession) Reset()        {}
func (s *inboxSession) Logout() error { return nil }

func startInbox(t *testing.T) (*inbox, string) {
	t.Helper()
	b := &inbox{got: make(chan struct{}, 16), rejected: make(chan struct{}, 16)}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b, ln.Addr().String()
}

var linkToken = regexp.MustCompile(`#token=(egot_[A-Za-z0-9_-]{43})`)

// next waits for the next message and returns the token of its link.
func (b *inbox) next(t *testing.T) string {
	t.Helper()
	select {
	case <-b.got:
	case <-time.After(30 * time.Second):
		t.Fatal("no mail arrived")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	raw := b.msgs[len(b.msgs)-1]
	_, text, _ := strings.Cut(raw, "\r\n\r\n")
	decoded, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	m := linkToken.FindStringSubmatch(string(decoded))
	if m == nil {
		t.Fatal("no link in the mail")
	}
	return m[1]
}

// TestInvitationByMail: with a mail server, the invitation link goes by
// SMTP (not in the answer), following it proves the address, and a
// password reset mailed later sets a new password and ends sessions.
func TestInvitationByMail(t *testing.T) {
	box, addr := startInbox(t)
	s := testserver.StartWith(t, testserver.Options{Identity: engine.IdentityOptions{
		Mailer: &mailer.SMTP{Addr: addr, From: "engram@example.com", Timeout: 10 * time.Second}}})
	owner := ownerKey(t, s)

	resp, body := req(t, s, owner, "POST", "/v1/invitations", `{"email":"dee@example.com","role":"member"}`)
	wantStatus(t, resp, body, 201, "")
	inv := decode[engram.Invitation](t, body)
	if !inv.Sent || inv.AcceptURL != "" || strings.Contains(body, "egot_") {
		t.Fatalf("mailed invitation answered %s", body)
	}
	tok := box.next(t)
	resp, body = req(t, s, "", "POST", "/v1/invitations/accept", `{"token":"`+tok+`","password":"`+memberPassword+`"}`)
	wantStatus(t, resp, body, 201, "")
	if m := decode[engram.Member](t, body); !m.EmailVerified {
		t.Fatalf("a mailed link proves the address: %+v", m)
	}
	session := login(t, s, "dee@example.com", memberPassword)

	// Address verification: verified already by the mailed invitation;
	// made unverified behind the server's back, a mailed link proves it.
	resp, body = req(t, s, session.AccessToken, "POST", "/v1/me/verify-email", "")
	wantStatus(t, resp, body, 409, engram.CodeConflict)
	if _, err := rawDB(t, s).Exec(`UPDATE account_logins SET email_verified_at = NULL`); err != nil {
		t.Fatal(err)
	}
	resp, body = req(t, s, session.AccessToken, "POST", "/v1/me/verify-email", "")
	wantStatus(t, resp, body, 202, "")
	verify := box.next(t)
	resp, body = req(t, s, "", "POST", "/v1/auth/verify-email", `{"token":"`+verify+`"}`)
	wantStatus(t, resp, body, 204, "")
	resp, body = req(t, s, "", "POST", "/v1/auth/verify-email", `{"token":"`+verify+`"}`)
	wantStatus(t, resp, body, 404, engram.CodeNotFound)
	resp, body = req(t, s, owner, "GET", "/v1/members", "")
	if !strings.Contains(body, `"email":"dee@example.com","role":"member","status":"active","email_verified":true`) {
		t.Fatalf("members after verification: %s", body)
	}
	// A name of one's own.
	resp, body = req(t, s, session.AccessToken, "PATCH", "/v1/me", `{"name":"Dee Dee"}`)
	wantStatus(t, resp, body, 200, "")
	if decode[engram.Me](t, body).Name != "Dee Dee" {
		t.Fatalf("profile: %s", body)
	}

	// Reset: the same answer for an unknown address; the known one gets
	// a link that works once and ends the old session.
	resp, body = req(t, s, "", "POST", "/v1/auth/password-reset", `{"email":"nobody@example.com"}`)
	wantStatus(t, resp, body, 202, "")
	resp, body = req(t, s, "", "POST", "/v1/auth/password-reset", `{"email":"dee@example.com"}`)
	wantStatus(t, resp, body, 202, "")
	reset := box.next(t)
	const newPassword = "Saffron-Kettle-Orbit-62"
	resp, body = req(t, s, "", "POST", "/v1/auth/password-reset/confirm", `{"token":"`+reset+`","password":"`+newPassword+`"}`)
	wantStatus(t, resp, body, 204, "")
	resp, body = req(t, s, "", "POST", "/v1/auth/password-reset/confirm", `{"token":"`+reset+`","password":"`+newPassword+`"}`)
	wantStatus(t, resp, body, 404, engram.CodeNotFound)
	resp, body = req(t, s, session.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	login(t, s, "dee@example.com", newPassword)
	resp, body = req(t, s, "", "POST", "/v1/auth/login", `{"email":"dee@example.com","password":"`+memberPassword+`"}`)
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	box.mu.Lock()
	n := len(box.msgs)
	box.mu.Unlock()
	if n != 3 {
		t.Fatalf("%d mails, want 3 (no mail for the unknown address)", n)
	}
}

// TestResetMailFailureLogged: a reset mail the SMTP server refuses is
// logged for the operator (the caller had its 202 already), without the
// address the server's error quotes; DrainBackground waits for the send.
func TestResetMailFailureLogged(t *testing.T) {
	box, addr := startInbox(t)
	var logs testserver.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := testserver.StartWith(t, testserver.Options{Identity: engine.IdentityOptions{
		Mailer: &mailer.SMTP{Addr: addr, From: "engram@example.com", Timeout: 10 * time.Second}},
		EngineOptions: []engine.Option{engine.WithLogger(log)}})
	owner := ownerKey(t, s)
	resp, body := req(t, s, owner, "POST", "/v1/invitations", `{"email":"dee@example.com","role":"member"}`)
	wantStatus(t, resp, body, 201, "")
	resp, body = req(t, s, "", "POST", "/v1/invitations/accept", `{"token":"`+box.next(t)+`","password":"`+memberPassword+`"}`)
	wantStatus(t, resp, body, 201, "")

	box.mu.Lock()
	box.reject = true
	box.mu.Unlock()
	resp, body = req(t, s, "", "POST", "/v1/auth/password-reset", `{"email":"dee@example.com"}`)
	wantStatus(t, resp, body, 202, "")
	select {
	case <-box.rejected:
	case <-time.After(30 * time.Second):
		t.Fatal("the reset mail never reached the server")
	}
	s.Engine.DrainBackground()
	got := string(logs.Bytes())
	if !strings.Contains(got, "password reset mail failed") {
		t.Fatalf("the failure is not logged: %q", got)
	}
	if strings.Contains(got, "dee@example.com") {
		t.Fatalf("the log holds the address: %q", got)
	}
}
