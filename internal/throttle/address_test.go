package throttle_test

import (
	"testing"

	"github.com/engram-memory/engram/internal/throttle"
)

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":                "203.0.113.9",
		"::ffff:203.0.113.9":         "203.0.113.9",
		"2001:db8:1:2:3:4:5:6":       "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":       "2001:db8:1:2::/64",
		"2001:db8:1:3::1":            "2001:db8:1:3::/64",
		"fe80::1%eth0":               "fe80::/64",
		"::1":                        "::/64",
		"not an address":             "not an address",
		"2001:DB8:0001:0002:0:0:0:1": "2001:db8:1:2::/64",
	} {
		if got := throttle.AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
	// Two hosts of one /64 share their failures.
	g := throttle.NewGate()
	for i := range 20 {
		ip := "2001:db8:1:2::" + string(rune('a'+i%6))
		g.Record(t0, "victim", throttle.AddressKey(ip), false)
		g.Accounts.Succeed("victim")
	}
	if ok, _ := g.Allow(t0, "someone", throttle.AddressKey("2001:db8:1:2::beef")); ok {
		t.Error("20 failures spread over one /64 did not lock it")
	}
}
