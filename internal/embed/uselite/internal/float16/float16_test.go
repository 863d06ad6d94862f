package float16_test

import (
	"math"
	"testing"

	"github.com/engram-memory/engram/internal/embed/uselite/internal/float16"
)

// Every half value survives a round trip through float32.
func TestRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := float16.ToFloat32(h)
		if f != f { // NaN
			if g := float16.FromFloat32(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g := float16.FromFloat32(f); g != h {
			t.Fatalf("%#04x → %g → %#04x", h, f, g)
		}
	}
}

// Rounding picks the nearest half, ties to even, checked against float64
// arithmetic on every pair of neighbouring positive halves.
func TestRounding(t *testing.T) {
	for i := 0; i < 0x7bff; i++ {
		lo := float64(float16.ToFloat32(uint16(i)))
		hi := float64(float16.ToFloat32(uint16(i + 1)))
		mid := (lo + hi) / 2
		even := uint16(i)
		if i&1 == 1 {
			even = uint16(i + 1)
		}
		for _, c := range []struct {
			x    float64
			want uint16
		}{
			{lo + (hi-lo)/4, uint16(i)},
			{mid, even},
			{hi - (hi-lo)/4, uint16(i + 1)},
		} {
			f := float32(c.x)
			if float64(f) != c.x {
				continue // not representable in float32: skip
			}
			if got := float16.FromFloat32(f); got != c.want {
				t.Fatalf("FromFloat32(%g) = %#04x, want %#04x", f, got, c.want)
			}
			if got := float16.FromFloat32(-f); got != c.want|0x8000 {
				t.Fatalf("FromFloat32(%g) = %#04x, want %#04x", -f, got, c.want|0x8000)
			}
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff},
		{65520, 0x7c00}, // halfway to 2^16 rounds to even: Inf
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{1e-10, 0},
		{0x1p-25, 0},          // exactly half the smallest subnormal: ties to even (0)
		{0x1.8p-25, 1},        // above half: rounds up
		{0x1p-24, 1},          // smallest subnormal
		{0x1p-14, 0x0400},     // smallest normal
		{0x1.ffcp-15, 0x0400}, // largest subnormal + half ulp rounds up to the smallest normal
	} {
		if got := float16.FromFloat32(c.f); got != c.want {
			t.Errorf("FromFloat32(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}
