package mailer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"
)

// TLSMode says how SMTP protects the connection.
type TLSMode string

const (
	// STARTTLSOpportunistic upgrades with STARTTLS when the server offers it
	// and sends in the clear otherwise (credentials never: see SMTP.Username).
	STARTTLSOpportunistic TLSMode = ""
	// STARTTLSRequired fails when the server does not offer STARTTLS: use it
	// whenever the server is known to support it, since an attacker on the
	// path can strip the offer.
	STARTTLSRequired TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS TLSMode = "tls"
)

// SMTP delivers through a mail server. Password is secret: it is never
// logged, and String redacts it.
type SMTP struct {
	Addr string // host:port
	From string // envelope and header sender, a bare address
	// Username and Password, when set, authenticate with PLAIN — only over
	// TLS: on a clear connection Deliver fails rather than send them.
	Username, Password string
	TLS                TLSMode
	// TLSConfig overrides the TLS settings (tests pass their CA here);
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Timeout bounds the whole exchange, dial to QUIT (default 30 s).
	Timeout time.Duration
	// HeloName is sent in EHLO (default "localhost").
	HeloName string
	// Now stamps the Date header; nil means time.Now.
	Now func() time.Time
}

// String describes the mailer without its password.
func (s *SMTP) String() string {
	auth := "none"
	if s.Username != "" {
		auth = "plain"
	}
	return fmt.Sprintf("smtp://%s (tls %q, auth %s)", s.Addr, s.TLS, auth)
}

// Errors Deliver returns, wrapped; none includes the message or recipient.
var (
	ErrNoTLS     = errors.New("mailer: the server does not offer STARTTLS")
	ErrAuthNoTLS = errors.New("mailer: refusing to send credentials without TLS")
	ErrRejected  = errors.New("mailer: the server refused the message")
	ErrConnect   = errors.New("mailer: cannot reach the mail server")
)

// Deliver implements Mailer.
func (s *SMTP) Deliver(ctx context.Context, m Mail) (Outcome, error) {
	to, err := cleanAddress(m.To)
	if err != nil {
		return Outcome{}, err
	}
	from, err := cleanAddress(s.From)
	if err != nil {
		return Outcome{}, errors.New("mailer: invalid sender address")
	}
	msg, err := s.compose(from, to, m)
	if err != nil {
		return Outcome{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return Outcome{}, fmt.Errorf("mailer: address %q: %w", s.Addr, err)
	}
	tcfg := s.tlsConfig(host)

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	// One deadline for every read and write; closing on ctx cancellation
	// ends a stalled exchange at once.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.TLS == ImplicitTLS {
		tc := tls.Client(conn, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return Outcome{}, fmt.Errorf("%w: tls: %w", ErrConnect, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return Outcome{}, fmt.Errorf("%w: %s", ErrConnect, smtpCode(err))
	}
	defer c.Close()
	if err := c.Hello(s.heloName()); err != nil {
		return Outcome{}, fmt.Errorf("%w: EHLO: %s", ErrRejected, smtpCode(err))
	}
	secure := s.TLS == ImplicitTLS
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tcfg); err != nil {
				return Outcome{}, fmt.Errorf("%w: STARTTLS: %s", ErrConnect, smtpCode(err))
			}
			secure = true
		} else if s.TLS == STARTTLSRequired {
			return Outcome{}, ErrNoTLS
		}
	}
	if s.Username != "" {
		if !secure {
			return Outcome{}, ErrAuthNoTLS
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return Outcome{}, fmt.Errorf("%w: AUTH: %s", ErrRejected, smtpCode(err))
		}
	}
	if err := c.Mail(from); err != nil {
		return Outcome{}, fmt.Errorf("%w: MAIL: %s", ErrRejected, smtpCode(err))
	}
	if err := c.Rcpt(to); err != nil {
		return Outcome{}, fmt.Errorf("%w: RCPT: %s", ErrRejected, smtpCode(err))
	}
	w, err := c.Data()
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: DATA: %s", ErrRejected, smtpCode(err))
	}
	if _, err := w.Write(msg); err != nil {
		return Outcome{}, fmt.Errorf("%w: DATA: %s", ErrRejected, smtpCode(err))
	}
	if err := w.Close(); err != nil {
		return Outcome{}, fmt.Errorf("%w: DATA: %s", ErrRejected, smtpCode(err))
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return Outcome{Sent: true}, nil
}

func (s *SMTP) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

func (s *SMTP) heloName() string {
	if s.HeloName == "" {
		return "localhost"
	}
	return s.HeloName
}

// smtpCode keeps only the reply code of a server error: its text may quote
// the recipient. Other errors (network) are described by kind.
func smtpCode(err error) string {
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return strconv.Itoa(pe.Code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "connection error"
}

// compose writes the RFC 5322 message: plain text, UTF-8, quoted-printable
// (so long links survive line limits), with a random Message-ID.
func (s *SMTP) compose(from, to string, m Mail) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	_, domain, _ := cutAt(from)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", flatten(m.Subject, 200)))
	fmt.Fprintf(&b, "Date: %s\r\n", now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	// Keep automatic replies and link-prefetching list software away.
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := bytes.ReplaceAll([]byte(m.Text), []byte("\r\n"), []byte("\n"))
	if _, err := qp.Write(bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))); err != nil {
		return nil, fmt.Errorf("mailer: encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("mailer: encode body: %w", err)
	}
	return b.Bytes(), nil
}

func cutAt(addr string) (string, string, bool) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[:i], addr[i+1:], true
		}
	}
	return addr, "", false
}
