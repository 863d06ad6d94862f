package safedial_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink/safedial"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want safedial.Class
	}{
		{"127.0.0.1", safedial.Loopback},
		{"127.255.0.9", safedial.Loopback},
		{"::1", safedial.Loopback},
		{"::ffff:127.0.0.1", safedial.Loopback},
		{"::127.0.0.1", safedial.Loopback},
		{"64:ff9b::7f00:1", safedial.Loopback},
		{"2002:7f00:1::", safedial.Loopback},
		{"10.1.2.3", safedial.Private},
		{"172.16.0.1", safedial.Private},
		{"172.31.255.255", safedial.Private},
		{"192.168.1.1", safedial.Private},
		{"::ffff:10.0.0.1", safedial.Private},
		{"100.64.0.1", safedial.Private},
		{"100.127.255.254", safedial.Private},
		{"fc00::1", safedial.Private},
		{"fd12:3456::1", safedial.Private},
		{"169.254.169.254", safedial.LinkLocal},
		{"::ffff:169.254.169.254", safedial.LinkLocal},
		{"fe80::1", safedial.LinkLocal},
		{"fe80::1%eth0", safedial.LinkLocal},
		{"0.0.0.0", safedial.Unspecified},
		{"0.1.2.3", safedial.Unspecified},
		{"::", safedial.Unspecified},
		{"::ffff:0.0.0.0", safedial.Unspecified},
		{"224.0.0.1", safedial.Multicast},
		{"ff02::1", safedial.Multicast},
		{"255.255.255.255", safedial.Multicast},
		{"240.0.0.1", safedial.Reserved},
		{"8.8.8.8", safedial.Public},
		{"172.32.0.1", safedial.Public},
		{"100.128.0.1", safedial.Public},
		{"2606:4700::1111", safedial.Public},
		{"::ffff:1.1.1.1", safedial.Public},
	} {
		if got := safedial.Classify(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.ip, got, c.want)
		}
	}
}

func TestPolicyAllows(t *testing.T) {
	lo, priv, ll := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("169.254.169.254")
	p := safedial.Policy{AllowLoopback: true}
	if p.Check(lo) != nil || p.Check(priv) == nil || p.Check(ll) == nil {
		t.Fatal("AllowLoopback must allow loopback only")
	}
	p = safedial.Policy{AllowPrivate: true}
	if p.Check(priv) != nil || p.Check(lo) == nil || p.Check(ll) == nil {
		t.Fatal("AllowPrivate must allow private only")
	}
	all := safedial.Policy{AllowLoopback: true, AllowPrivate: true, AllowLinkLocal: true}
	for _, ip := range []string{"0.0.0.0", "::", "224.0.0.1"} {
		if all.Check(netip.MustParseAddr(ip)) == nil {
			t.Errorf("%s must be refused under any policy", ip)
		}
	}
}

// TestDialRefusedBeforeConnect dials every forbidden target through the
// guarded dialer. Control runs after the socket exists and before
// connect(2), so these refusals send no packet; the short timeout bounds
// the test if that ever stopped being true.
func TestDialRefusedBeforeConnect(t *testing.T) {
	d := safedial.Policy{}.Dialer(time.Second)
	for _, target := range []string{
		"127.0.0.1:443", "[::1]:443", "10.0.0.1:443", "172.16.0.1:443", "192.168.0.1:443",
		"169.254.169.254:80", "100.64.0.1:443", "[fc00::1]:443", "[fe80::1]:443",
		"[::ffff:127.0.0.1]:443", "0.0.0.0:443", "localhost:443",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", target)
		cancel()
		if c != nil {
			c.Close()
		}
		if errors.Is(err, safedial.ErrRefused) {
			if !strings.Contains(err.Error(), "address refused by the SSRF guard") {
				t.Errorf("%s: unclear error %v", target, err)
			}
			if time.Since(start) > 500*time.Millisecond {
				t.Errorf("%s: refusal took %v; it must not wait on the network", target, time.Since(start))
			}
			continue
		}
		// A host without IPv6 fails to create the socket before Control
		// can run: also no packet, but say so rather than pass silently.
		var se interface{ Unwrap() error }
		if strings.Contains(target, "[") && err != nil && errors.As(err, &se) && strings.Contains(err.Error(), "address family") {
			t.Logf("%s: no IPv6 on this host (%v)", target, err)
			continue
		}
		t.Errorf("%s: got %v, want ErrRefused", target, err)
	}
}

func TestLoopbackAllowedExplicitly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (safedial.Policy{}).DialContext(ctx, "tcp", ln.Addr().String()); !errors.Is(err, safedial.ErrRefused) {
		t.Fatalf("default policy dialed loopback: %v", err)
	}
	err = nil
	for _, target := range []string{ln.Addr().String(), "localhost:" + port} {
		c, derr := (safedial.Policy{AllowLoopback: true}).DialContext(ctx, "tcp4", target)
		if derr != nil {
			err = derr
			continue
		}
		c.Close()
	}
	if err != nil {
		t.Fatalf("allowed loopback dial: %v", err)
	}
}
