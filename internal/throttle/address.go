package throttle

import "net/netip"

// AddressKey is the address key of a client: an IPv4 address as is, an
// IPv6 address as its /64, because one IPv6 host usually holds a whole
// /64 and could otherwise take a fresh key (and fresh free attempts) for
// every guess. An IPv4-mapped IPv6 address counts as its IPv4 address. A
// string that is not an address is its own key (it cannot come from a
// socket; transports pass the address they saw).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
