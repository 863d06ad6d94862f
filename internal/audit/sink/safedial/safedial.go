// Package safedial is the SSRF guard for outbound audit webhooks: a dialer
// that refuses addresses inside the host's own networks unless the
// operator allows them.
//
// The check runs in net.Dialer.Control, on the IP the connection is about
// to use, after DNS resolution and before connect(2) sends a packet. A
// hostname that resolves to a public address at validation time and to
// 127.0.0.1 at connect time (DNS rebinding) is therefore still refused, and
// so is every address a redirect or a retry reaches. IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// forms are judged by the IPv4 address they carry.
package safedial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal; branch on it with errors.Is.
var ErrRefused = errors.New("address refused by the SSRF guard")

// Policy says which otherwise-refused ranges a dialer may reach. The zero
// Policy allows public unicast addresses only.
type Policy struct {
	AllowLoopback  bool // 127.0.0.0/8, ::1 (and "localhost")
	AllowPrivate   bool // RFC 1918, fc00::/7 (ULA), 100.64.0.0/10 (CGNAT)
	AllowLinkLocal bool // 169.254.0.0/16 (cloud metadata lives here), fe80::/10
}

// Class names why an address is refused; "" means a public address.
type Class string

const (
	Public      Class = ""
	Loopback    Class = "loopback"
	Private     Class = "private"
	LinkLocal   Class = "link-local"
	Unspecified Class = "unspecified"
	Multicast   Class = "multicast"
	Reserved    Class = "reserved"
)

var (
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
	reserved4  = netip.MustParsePrefix("240.0.0.0/4")
	ietf4      = netip.MustParsePrefix("192.0.0.0/24")
	compat6    = netip.MustParsePrefix("::/96")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	broadcast4 = netip.MustParseAddr("255.255.255.255")
)

// Classify says which refused range ip falls in, judging embedded IPv4
// addresses by their IPv4 value.
func Classify(ip netip.Addr) Class {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		s := ip.As16()
		switch {
		case ip.IsLoopback() || ip.IsUnspecified():
			// ::1 and :: are inside ::/96 too; judge them as themselves.
		case compat6.Contains(ip), nat64.Contains(ip):
			return Classify(netip.AddrFrom4([4]byte(s[12:16])))
		case sixToFour.Contains(ip):
			return Classify(netip.AddrFrom4([4]byte(s[2:6])))
		}
	}
	switch {
	case ip.IsUnspecified(), thisNet.Contains(ip):
		// Connecting to 0.0.0.0 or :: reaches the local host.
		return Unspecified
	case ip.IsLoopback():
		return Loopback
	case ip.IsMulticast(), ip == broadcast4:
		return Multicast
	case ip.IsLinkLocalUnicast():
		return LinkLocal
	case ip.IsPrivate(), cgnat.Contains(ip):
		return Private
	case reserved4.Contains(ip), ietf4.Contains(ip), !ip.IsGlobalUnicast():
		return Reserved
	}
	return Public
}

// Check returns nil when p allows connecting to ip, else an error wrapping
// ErrRefused that names the address and its class.
func (p Policy) Check(ip netip.Addr) error {
	c := Classify(ip)
	allowed := c == Public ||
		(c == Loopback && p.AllowLoopback) ||
		(c == Private && p.AllowPrivate) ||
		(c == LinkLocal && p.AllowLinkLocal)
	if allowed {
		return nil
	}
	hint := ""
	switch c {
	case Loopback, Private, LinkLocal:
		hint = fmt.Sprintf("; allow it explicitly with allow=%s", c)
	}
	return fmt.Errorf("%w: %s is %s%s", ErrRefused, ip, c, hint)
}

// Control is a net.Dialer.Control function enforcing p on the resolved
// address of every connection attempt.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrRefused, address)
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("%w: network %q", ErrRefused, network)
	}
	return p.Check(ap.Addr())
}

// Dialer returns a net.Dialer that enforces p.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control}
}

// DialContext dials through a guarded dialer.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return p.Dialer(0).DialContext(ctx, network, address)
}
