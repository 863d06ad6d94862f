package rfc5424

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink"
)

// Config configures a syslog sink.
type Config struct {
	Network  string      // "udp", "tcp" or "tls"
	Addr     string      // host:port of the collector
	Facility int         // 0-23; use FacilityLogAudit (13) for the default
	Hostname string      // HOSTNAME field; os.Hostname() when empty
	SDID     string      // structured-data id; DefaultSDID when empty
	TLS      *tls.Config // for "tls": roots, client certificate; ServerName defaults to Addr's host
	Timeout  time.Duration
}

// DefaultTimeout bounds a dial and a write when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Sink writes each event as one RFC 5424 message. It holds one
// connection, dialled by the first Send. On TCP and TLS a watcher notices
// when the collector hangs up, so the next Send redials instead of writing
// into a dead connection; a write that fails on an old connection redials
// once and retries. TCP syslog has no acknowledgements: a message written
// just before the collector dies can still be lost (use the webhook sink
// where every entry must be confirmed). Safe for concurrent Send; Sends are
// serialised, and a dial (bounded by Timeout) holds the others back.
//
// The collector address is the operator's, typically a local relay, so
// this sink does not apply the webhook's SSRF guard.
//
// Over UDP a message is one datagram, never split: a collector with a
// small receive limit truncates large entries (RFC 5426 asks collectors to
// take at least 2048 octets; audit entries are well under that). Over UDP
// an accepted Send means "sent", not "received".
type Sink struct {
	cfg  Config
	hdr  header
	mu   sync.Mutex
	conn net.Conn
	// gone is closed by the watcher when a stream connection's peer hangs
	// up; readerDone when the watcher has returned.
	gone, readerDone chan struct{}
}

var _ sink.Sink = (*Sink)(nil)

// New validates cfg and returns a sink. It does not dial: the first Send
// does, so a collector that starts after Engram is not an error.
func New(cfg Config) (*Sink, error) {
	switch cfg.Network {
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("syslog sink: network %q is not udp, tcp or tls", cfg.Network)
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("syslog sink: address %q is not host:port", cfg.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("syslog sink: bad port in %q", cfg.Addr)
	}
	if cfg.Facility < 0 || cfg.Facility > 23 {
		return nil, fmt.Errorf("syslog sink: facility %d is not 0-23", cfg.Facility)
	}
	if cfg.SDID == "" {
		cfg.SDID = DefaultSDID
	}
	if err := validSDID(cfg.SDID); err != nil {
		return nil, err
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Network == "tls" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		cfg.TLS = tc
	}
	return &Sink{cfg: cfg, hdr: header{
		facility: cfg.Facility,
		hostname: headerField(cfg.Hostname, 255),
		appName:  "engram",
		procID:   strconv.Itoa(os.Getpid()),
		sdID:     cfg.SDID,
	}}, nil
}

// Name is "syslog+<network>://<addr>".
func (s *Sink) Name() string { return "syslog+" + s.cfg.Network + "://" + s.cfg.Addr }

// Send formats ev and writes it. On TCP and TLS the message is framed as
// "<length> <message>".
func (s *Sink) Send(ctx context.Context, ev sink.Event) error {
	msg, err := s.hdr.format(ev)
	if err != nil {
		return err
	}
	if s.cfg.Network != "udp" {
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A connection that already existed may have been closed by the
	// collector; only a write on a fresh one is a real failure.
	for attempt := 0; ; attempt++ {
		if s.conn != nil && s.hungUp() {
			s.closeConn()
		}
		fresh := s.conn == nil
		if fresh {
			if err = s.connect(ctx); err != nil {
				return fmt.Errorf("syslog sink: dial %s: %w", s.cfg.Addr, err)
			}
		}
		err = s.write(ctx, msg)
		if err == nil {
			return nil
		}
		s.closeConn()
		if fresh || attempt > 0 {
			return fmt.Errorf("syslog sink: write to %s: %w", s.cfg.Addr, err)
		}
	}
}

func (s *Sink) write(ctx context.Context, msg []byte) error {
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := s.conn.Write(msg)
	return err
}

func (s *Sink) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	d := &net.Dialer{}
	if s.cfg.Network == "tls" {
		td := &tls.Dialer{NetDialer: d, Config: s.cfg.TLS}
		return td.DialContext(ctx, "tcp", s.cfg.Addr)
	}
	return d.DialContext(ctx, s.cfg.Network, s.cfg.Addr)
}

// connect dials and, for stream connections, starts a watcher: a
// collector never sends, so a read that returns means the peer hung up
// (or broke the stream). Without it, the first write after a collector
// restart would vanish into a connection the kernel still thinks open.
func (s *Sink) connect(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.conn = c
	s.gone, s.readerDone = make(chan struct{}), make(chan struct{})
	if s.cfg.Network == "udp" {
		close(s.readerDone)
		return nil
	}
	go func(gone, done chan struct{}) {
		defer close(done)
		defer close(gone)
		var buf [512]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}(s.gone, s.readerDone)
	return nil
}

func (s *Sink) hungUp() bool {
	select {
	case <-s.gone:
		return true
	default:
		return false
	}
}

// closeConn closes the connection and waits for its watcher. mu is held.
func (s *Sink) closeConn() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	<-s.readerDone
	s.conn = nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Close closes the connection. A later Send redials.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.closeConn(); err != nil {
		return fmt.Errorf("syslog sink: close: %w", err)
	}
	return nil
}
