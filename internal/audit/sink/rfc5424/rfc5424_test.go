package rfc5424_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/rfc5424"
	"github.com/engram-memory/engram/internal/audit/sink/sinktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// message is a parsed RFC 5424 frame.
type message struct {
	pri                            int
	ts                             time.Time
	host, app, procID, msgID, sdID string
	params                         map[string]string
	msg                            []byte
}

// header per RFC 5424 §6: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME
// SP PROCID SP MSGID SP, with the field lengths and character sets of the
// ABNF (PRINTUSASCII = %d33-126).
var headerRE = regexp.MustCompile(`^<([0-9]{1,3})>1 ` +
	`([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})) ` +
	`([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) `)

// parse is a strict RFC 5424 parser for one structured-data element
// followed by a UTF-8 MSG with BOM: anything else fails the test.
func parse(t *testing.T, frame []byte) message {
	t.Helper()
	m := headerRE.FindSubmatch(frame)
	if m == nil {
		t.Fatalf("header does not match RFC 5424: %q", frame)
	}
	var out message
	out.pri, _ = strconv.Atoi(string(m[1]))
	if out.pri > 191 {
		t.Fatalf("PRI %d out of range", out.pri)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(m[2]))
	if err != nil {
		t.Fatalf("timestamp %q: %v", m[2], err)
	}
	out.ts = ts
	out.host, out.app, out.procID, out.msgID = string(m[3]), string(m[4]), string(m[5]), string(m[6])
	rest := frame[len(m[0]):]
	// STRUCTURED-DATA: "[" SD-ID *(SP PARAM-NAME="value") "]"
	if len(rest) == 0 || rest[0] != '[' {
		t.Fatalf("no SD-ELEMENT: %q", rest)
	}
	i := 1
	name := func() string {
		start := i
		for i < len(rest) && rest[i] > 32 && rest[i] < 127 && rest[i] != '=' && rest[i] != ']' && rest[i] != '"' && rest[i] != ' ' {
			i++
		}
		if i == start || i-start > 32 {
			t.Fatalf("bad SD-NAME at %d in %q", start, rest)
		}
		return string(rest[start:i])
	}
	out.sdID = name()
	out.params = map[string]string{}
	for i < len(rest) && rest[i] == ' ' {
		i++
		k := name()
		if rest[i] != '=' || rest[i+1] != '"' {
			t.Fatalf("want =\" after %s", k)
		}
		i += 2
		var v strings.Builder
		for ; rest[i] != '"'; i++ {
			switch rest[i] {
			case '\\':
				i++
				if c := rest[i]; c != '"' && c != '\\' && c != ']' {
					t.Fatalf("bad escape \\%c", c)
				}
			case ']':
				t.Fatalf("unescaped ] in param value")
			}
			v.WriteByte(rest[i])
		}
		i++
		out.params[k] = v.String()
	}
	if rest[i] != ']' || rest[i+1] != ' ' {
		t.Fatalf("SD-ELEMENT not closed by \"] \": %q", rest[i:])
	}
	msg, ok := strings.CutPrefix(string(rest[i+2:]), "\xEF\xBB\xBF")
	if !ok {
		t.Fatalf("UTF-8 MSG must start with a BOM")
	}
	out.msg = []byte(msg)
	return out
}

func event(tenant string, seq uint64) sink.Event {
	return sink.Event{TenantID: tenant, Seq: seq, Time: time.Date(2026, 11, 30, 20, 31, 7, 123456789, time.UTC),
		JSON: []byte(`{"action":"auth.failure","outcome":"denied"}`)}
}

func checkMessage(t *testing.T, got message, ev sink.Event, facility int) {
	t.Helper()
	if got.pri != facility*8+5 || got.app != "engram" || got.msgID != "audit" || got.host != "test-host" ||
		got.procID != strconv.Itoa(os.Getpid()) || got.sdID != "engram@32473" {
		t.Fatalf("header fields %+v", got)
	}
	if !got.ts.Equal(ev.Time.Truncate(time.Microsecond)) {
		t.Fatalf("timestamp %v, want %v", got.ts, ev.Time)
	}
	if got.params["tenant"] != ev.TenantID || got.params["seq"] != strconv.FormatUint(ev.Seq, 10) {
		t.Fatalf("SD params %v", got.params)
	}
	var env sink.Envelope
	if err := json.Unmarshal(got.msg, &env); err != nil || env.Seq != ev.Seq || env.Tenant != ev.TenantID || string(env.Entry) != string(ev.JSON) {
		t.Fatalf("MSG %q (%v)", got.msg, err)
	}
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := rfc5424.New(rfc5424.Config{Network: "udp", Addr: pc.LocalAddr().String(), Facility: 16, Hostname: "test-host"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A tenant id with every character SD-PARAM escaping covers.
	ev := event(`ac"me\]x`, 42)
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(buf[:n]), `tenant="ac\"me\\\]x"`) {
		t.Fatalf("escaping: %q", buf[:n])
	}
	checkMessage(t, parse(t, buf[:n]), ev, 16)
}

// readFrames reads RFC 6587 octet-counted frames: MSG-LEN SP SYSLOG-MSG.
func readFrames(t *testing.T, c net.Conn, n int) [][]byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var out [][]byte
	for range n {
		l, err := r.ReadString(' ')
		if err != nil {
			t.Fatalf("frame length: %v", err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(l, " "))
		if err != nil || size <= 0 || l[0] == '0' {
			t.Fatalf("bad MSG-LEN %q", l)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			t.Fatal(err)
		}
		out = append(out, frame)
	}
	return out
}

// streamTest sends on a stream sink, then the collector hangs up, and the
// next Sends must reach the collector over a new connection.
func streamTest(t *testing.T, network string, ln net.Listener, tc *tls.Config) {
	s, err := rfc5424.New(rfc5424.Config{Network: network, Addr: ln.Addr().String(), Facility: rfc5424.FacilityLogAudit, Hostname: "test-host", TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Accept (and, for TLS, complete the handshake) concurrently: the
	// sink's dial waits for the server side of the handshake.
	conns := make(chan net.Conn, 2)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				_ = tc.HandshakeContext(ctx)
			}
			conns <- c
		}
	}()
	defer func() { ln.Close(); <-acceptDone }()
	accept := func() net.Conn {
		select {
		case c := <-conns:
			return c
		case <-ctx.Done():
			t.Fatal("no connection")
			return nil
		}
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if err := s.Send(ctx, event("acme", seq)); err != nil {
			t.Fatal(err)
		}
	}
	c := accept()
	for i, f := range readFrames(t, c, 3) {
		checkMessage(t, parse(t, f), event("acme", uint64(i+1)), rfc5424.FacilityLogAudit)
	}
	c.Close() // the collector restarts
	time.Sleep(50 * time.Millisecond)
	for seq := uint64(4); seq <= 5; seq++ {
		if err := s.Send(ctx, event("acme", seq)); err != nil {
			t.Fatalf("send after collector hang-up: %v", err)
		}
	}
	c2 := accept()
	defer c2.Close()
	for i, f := range readFrames(t, c2, 2) {
		checkMessage(t, parse(t, f), event("acme", uint64(i+4)), rfc5424.FacilityLogAudit)
	}
}

func TestTCPOctetCounting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	streamTest(t, "tcp", ln, nil)
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	streamTest(t, "tls", ln, &tls.Config{RootCAs: pool, ServerName: "collector.test", MinVersion: tls.VersionTLS12})
}

func TestDownCollectorIsAnError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s, err := rfc5424.New(rfc5424.Config{Network: "tcp", Addr: addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), event("acme", 1)); err == nil {
		t.Fatal("send to a closed port must fail")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []rfc5424.Config{
		{Network: "unix", Addr: "x:1"},
		{Network: "udp", Addr: "nohost"},
		{Network: "udp", Addr: "h:99999"},
		{Network: "udp", Addr: "h:514", Facility: 24},
		{Network: "udp", Addr: "h:514", SDID: "no-at-sign"},
		{Network: "udp", Addr: "h:514", SDID: "bad=id@1"},
	} {
		if _, err := rfc5424.New(c); err == nil {
			t.Errorf("%+v: want error", c)
		}
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector.test"},
		DNSNames: []string{"collector.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestConformance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		frames [][]byte
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, _ := strconv.Atoi(strings.TrimSuffix(l, " "))
			frame := make([]byte, size)
			if _, err := io.ReadFull(r, frame); err != nil {
				return
			}
			mu.Lock()
			frames = append(frames, frame)
			mu.Unlock()
		}
	}()
	defer func() { ln.Close(); <-done }()
	s, err := rfc5424.New(rfc5424.Config{Network: "tcp", Addr: ln.Addr().String(), Hostname: "test-host"})
	if err != nil {
		t.Fatal(err)
	}
	// Frames are parsed here, on the test goroutine, where the strict
	// parser may stop the test.
	sinktest.Run(t, s, func(t *testing.T) []sink.Envelope {
		mu.Lock()
		defer mu.Unlock()
		var got []sink.Envelope
		for _, f := range frames {
			m := parse(t, f)
			var env sink.Envelope
			if err := json.Unmarshal(m.msg, &env); err != nil {
				t.Fatalf("MSG: %v", err)
			}
			if m.params["tenant"] != env.Tenant || m.params["seq"] != strconv.FormatUint(env.Seq, 10) {
				t.Fatalf("SD params %v disagree with MSG %s", m.params, env.ID)
			}
			got = append(got, env)
		}
		return got
	}, true)
}
