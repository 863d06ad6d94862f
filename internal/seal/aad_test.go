package seal_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/engram-memory/engram/internal/seal"
)

// TestAADEncoding pins the wire format: changing it breaks every stored
// ciphertext.
func TestAADEncoding(t *testing.T) {
	got := seal.AAD(seal.Context{Domain: "m", Tenant: "t1", Field: "f"}, seal.AES256GCMSIV, 0x01020304)
	want, _ := hex.DecodeString("00000001" + "6d" + // domain "m"
		"00000002" + "7431" + // tenant "t1"
		"00000000" + // subject ""
		"00000000" + // record ""
		"00000001" + "66" + // field "f"
		"01" + // algorithm
		"01020304") // key version
	if !bytes.Equal(got, want) {
		t.Fatalf("AAD = %x\nwant  %x", got, want)
	}
}

type aadInput struct {
	c   seal.Context
	alg seal.Algorithm
	ver uint32
}

// TestAADInjective checks pairs whose naive concatenation collides, and then
// that a table of inputs gives pairwise distinct encodings.
func TestAADInjective(t *testing.T) {
	ctx := func(d, te, s, r, f string) seal.Context {
		return seal.Context{Domain: d, Tenant: te, Subject: s, Record: r, Field: f}
	}
	pairs := []struct{ a, b aadInput }{
		{aadInput{ctx("ab", "c", "", "", "f"), 1, 1}, aadInput{ctx("a", "bc", "", "", "f"), 1, 1}},
		{aadInput{ctx("d", "ab", "c", "", "f"), 1, 1}, aadInput{ctx("d", "a", "bc", "", "f"), 1, 1}},
		{aadInput{ctx("d", "", "ab", "c", "f"), 1, 1}, aadInput{ctx("d", "", "a", "bc", "f"), 1, 1}},
		{aadInput{ctx("d", "", "", "ab", "c"), 1, 1}, aadInput{ctx("d", "", "", "a", "bc"), 1, 1}},
		{aadInput{ctx("d", "x", "", "", "f"), 1, 1}, aadInput{ctx("d", "", "x", "", "f"), 1, 1}},
		{aadInput{ctx("d", "", "x", "", "f"), 1, 1}, aadInput{ctx("d", "", "", "x", "f"), 1, 1}},
		{aadInput{ctx("d", "t", "s", "r", "f"), 1, 1}, aadInput{ctx("d", "t", "s", "r", "f"), 2, 1}},
		{aadInput{ctx("d", "t", "s", "r", "f"), 1, 1}, aadInput{ctx("d", "t", "s", "r", "f"), 1, 2}},
		{aadInput{ctx("d", "t", "s", "r", "f"), 1, 1 << 24}, aadInput{ctx("d", "t", "s", "r", "f"), 1, 1}},
		// A field that ends in what looks like a trailer.
		{aadInput{ctx("d", "", "", "", "f\x01\x00\x00\x00\x01"), 1, 1}, aadInput{ctx("d", "", "", "", "f"), 1, 1}},
		// A length prefix smuggled into a value.
		{aadInput{ctx("d\x00\x00\x00\x01t", "", "", "", "f"), 1, 1}, aadInput{ctx("d", "t", "", "", "f"), 1, 1}},
	}
	all := map[string]aadInput{}
	for i, p := range pairs {
		a, b := seal.AAD(p.a.c, p.a.alg, p.a.ver), seal.AAD(p.b.c, p.b.alg, p.b.ver)
		if bytes.Equal(a, b) {
			t.Errorf("pair %d: %+v and %+v both encode to %x", i, p.a, p.b, a)
		}
		for _, in := range []aadInput{p.a, p.b} {
			enc := string(seal.AAD(in.c, in.alg, in.ver))
			if prev, ok := all[enc]; ok && prev != in {
				t.Errorf("%+v and %+v both encode to %x", prev, in, enc)
			}
			all[enc] = in
		}
	}
	// Every way of splitting "abc" over the five fields is distinct.
	s := "abc"
	for i := 0; i <= len(s); i++ {
		for j := i; j <= len(s); j++ {
			for k := j; k <= len(s); k++ {
				for l := k; l <= len(s); l++ {
					in := aadInput{ctx("d"+s[:i], s[i:j], s[j:k], s[k:l], s[l:]+"f"), 1, 1}
					enc := string(seal.AAD(in.c, in.alg, in.ver))
					if prev, ok := all[enc]; ok && prev != in {
						t.Errorf("%+v and %+v both encode to %x", prev, in, enc)
					}
					all[enc] = in
				}
			}
		}
	}
}
