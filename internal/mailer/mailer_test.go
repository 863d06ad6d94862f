package mailer_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/mailer"
)

// acceptServer stands for Engram's accept endpoint: it records the tokens of
// the links followed.
type acceptServer struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func startAccept(t *testing.T) *acceptServer {
	a := &acceptServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.tokens = append(a.tokens, r.URL.Path+"?"+r.URL.Query().Get("token"))
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(a.Close)
	return a
}

var linkRE = regexp.MustCompile(`https?://[^\s]+`)

// readBack parses a received message like a mail client and returns its
// subject and decoded body.
func readBack(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("received message does not parse: %v", err)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q, want plain text", ct)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return subject, string(body)
}

func smtpMailer(srv *mailServer, auth bool) *mailer.SMTP {
	m := &mailer.SMTP{Addr: srv.addr, From: "engram@example.com", Timeout: 10 * time.Second}
	if srv.ca != nil {
		m.TLSConfig = &tls.Config{RootCAs: srv.ca}
	}
	if auth {
		m.Username, m.Password = smtpUser, smtpPass
	}
	return m
}

func TestDeliverAndFollowLink(t *testing.T) {
	srv := startServer(t, true, true)
	accept := startAccept(t)
	m := smtpMailer(srv, true)
	m.TLS = mailer.STARTTLSRequired
	// A long token, so quoted-printable has to wrap the link.
	token := strings.Repeat("tok3n-", 20)
	cases := []struct {
		kind mailer.Kind
		path string
		data mailer.Data
	}{
		{mailer.Verification, "/verify", mailer.Data{}},
		{mailer.PasswordReset, "/reset", mailer.Data{}},
		{mailer.Invitation, "/invite", mailer.Data{OrgName: "Acme\r\nBcc: evil@x.example", InviterName: "Ada", Role: "member"}},
	}
	for i, c := range cases {
		d := c.data
		d.To, d.Link, d.Expires = "bob@example.org", accept.URL+c.path+"?token="+token, time.Now().Add(24*time.Hour)
		msg, err := mailer.Render(c.kind, d)
		if err != nil {
			t.Fatalf("%s: Render: %v", c.kind, err)
		}
		out, err := m.Deliver(context.Background(), msg)
		if err != nil || !out.Sent || out.Link != "" {
			t.Fatalf("%s: Deliver = %+v, %v; want sent without a link", c.kind, out, err)
		}
		got := srv.messages()
		if len(got) != i+1 {
			t.Fatalf("%s: server holds %d messages, want %d", c.kind, len(got), i+1)
		}
		rcv := got[i]
		if !rcv.tls || rcv.from != "engram@example.com" || rcv.to != "bob@example.org" {
			t.Fatalf("%s: envelope %q → %q, tls %v", c.kind, rcv.from, rcv.to, rcv.tls)
		}
		subject, body := readBack(t, rcv.data)
		if strings.ContainsAny(subject, "\r\n") || subject == "" {
			t.Fatalf("%s: subject %q", c.kind, subject)
		}
		links := linkRE.FindAllString(body, -1)
		if len(links) != 1 {
			t.Fatalf("%s: body has links %q, want exactly one", c.kind, links)
		}
		resp, err := http.Get(links[0])
		if err != nil {
			t.Fatalf("%s: following the link: %v", c.kind, err)
		}
		resp.Body.Close()
		accept.mu.Lock()
		last := accept.tokens[len(accept.tokens)-1]
		accept.mu.Unlock()
		if last != c.path+"?"+token {
			t.Fatalf("%s: the link led to %q", c.kind, last)
		}
		if c.kind == mailer.Invitation {
			if !strings.Contains(body, `"Acme Bcc: evil@x.example"`) || !strings.Contains(body, "Ada invited you") || !strings.Contains(body, " as member") {
				t.Fatalf("invitation body:\n%s", body)
			}
			if parsed, _ := mail.ReadMessage(bytes.NewReader(rcv.data)); parsed.Header.Get("Bcc") != "" {
				t.Fatal("an organisation name added a header")
			}
		}
	}
}

func TestNoTLSOffered(t *testing.T) {
	srv := startServer(t, false, false)
	msg, _ := mailer.Render(mailer.Verification, mailer.Data{To: "bob@example.org", Link: "https://engram.example/v?token=x", Expires: time.Now()})

	// Opportunistic, no credentials: sent in the clear, as configured.
	if out, err := smtpMailer(srv, false).Deliver(context.Background(), msg); err != nil || !out.Sent {
		t.Fatalf("opportunistic without auth: %+v, %v", out, err)
	}
	// Credentials are never sent without TLS.
	if _, err := smtpMailer(srv, true).Deliver(context.Background(), msg); !errors.Is(err, mailer.ErrAuthNoTLS) {
		t.Fatalf("auth without TLS: %v, want ErrAuthNoTLS", err)
	}
	// STARTTLS required and not offered: nothing sent.
	m := smtpMailer(srv, false)
	m.TLS = mailer.STARTTLSRequired
	if _, err := m.Deliver(context.Background(), msg); !errors.Is(err, mailer.ErrNoTLS) {
		t.Fatalf("required STARTTLS not offered: %v, want ErrNoTLS", err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("server holds %d messages, want 1", n)
	}
}

func TestWrongCredentialsRefused(t *testing.T) {
	srv := startServer(t, true, true)
	m := smtpMailer(srv, true)
	m.Password = "not-the-password-123"
	msg, _ := mailer.Render(mailer.PasswordReset, mailer.Data{To: "bob@example.org", Link: "https://engram.example/r?token=secret-link-token", Expires: time.Now()})
	_, err := m.Deliver(context.Background(), msg)
	if !errors.Is(err, mailer.ErrRejected) {
		t.Fatalf("wrong password: %v, want ErrRejected", err)
	}
	for _, secret := range []string{"not-the-password-123", "secret-link-token", "bob@example.org", smtpUser} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q reveals %q", err, secret)
		}
	}
	// Without credentials the server refuses MAIL: the refusal names only the code.
	_, err = smtpMailer(srv, false).Deliver(context.Background(), msg)
	if !errors.Is(err, mailer.ErrRejected) || !strings.Contains(err.Error(), "530") {
		t.Fatalf("no credentials: %v, want ErrRejected with 530", err)
	}
}

func TestUntrustedCertificateRefused(t *testing.T) {
	srv := startServer(t, true, false)
	m := smtpMailer(srv, false)
	m.TLSConfig = nil // the system roots do not know the test CA
	msg, _ := mailer.Render(mailer.Verification, mailer.Data{To: "bob@example.org", Link: "https://engram.example/v?token=x", Expires: time.Now()})
	if _, err := m.Deliver(context.Background(), msg); !errors.Is(err, mailer.ErrConnect) {
		t.Fatalf("untrusted certificate: %v, want ErrConnect", err)
	}
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("server received %d messages over an unverified connection", n)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accept and never greet
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	m := &mailer.SMTP{Addr: l.Addr().String(), From: "engram@example.com", Timeout: 300 * time.Millisecond}
	msg, _ := mailer.Render(mailer.Verification, mailer.Data{To: "bob@example.org", Link: "https://engram.example/v?token=x", Expires: time.Now()})
	if _, err := m.Deliver(context.Background(), msg); !errors.Is(err, mailer.ErrConnect) {
		t.Fatalf("silent server: %v, want ErrConnect", err)
	}
}

func TestLinkOnly(t *testing.T) {
	msg, err := mailer.Render(mailer.Invitation, mailer.Data{To: "bob@example.org", Link: "https://engram.example/accept?token=abc",
		Expires: time.Now(), OrgName: "Acme", Role: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := mailer.LinkOnly{}.Deliver(context.Background(), msg)
	if err != nil || out.Sent || out.Link != "https://engram.example/accept?token=abc" {
		t.Fatalf("LinkOnly = %+v, %v", out, err)
	}
}

func TestRenderRefuses(t *testing.T) {
	ok := mailer.Data{To: "bob@example.org", Link: "https://engram.example/x?token=t", OrgName: "Acme", Role: "member"}
	bad := map[string]func(d *mailer.Data){
		"header injection in To": func(d *mailer.Data) { d.To = "bob@example.org\r\nBcc: x@y.example" },
		"display name":           func(d *mailer.Data) { d.To = "Bob <bob@example.org>" },
		"two recipients":         func(d *mailer.Data) { d.To = "a@example.org, b@example.org" },
		"plain http link":        func(d *mailer.Data) { d.Link = "http://engram.example/x?token=t" },
		"relative link":          func(d *mailer.Data) { d.Link = "/x?token=t" },
		"javascript link":        func(d *mailer.Data) { d.Link = "javascript:alert(1)" },
		"userinfo in link":       func(d *mailer.Data) { d.Link = "https://user:pw@engram.example/x" },
		"invitation without org": func(d *mailer.Data) { d.OrgName = "\n\t" },
	}
	for name, edit := range bad {
		d := ok
		edit(&d)
		if _, err := mailer.Render(mailer.Invitation, d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := mailer.Render("welcome", ok); err == nil {
		t.Error("unknown template accepted")
	}
	m, err := mailer.Render(mailer.Invitation, mailer.Data{To: "bob@example.org", Link: "https://engram.example/x?token=t",
		OrgName: "Acme — sign in at https://evil.example/login", Role: "member"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(linkRE.FindAllString(m.Text, -1)); n != 1 {
		t.Fatalf("an organisation name made a second link:\n%s", m.Text)
	}
}
