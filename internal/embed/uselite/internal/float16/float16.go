// Package float16 converts between IEEE 754 binary16 ("half") and float32.
// The converter uses FromFloat32 to shrink the model weights; the model
// uses ToFloat32 to widen them again when it loads.
package float16

import "math"

// FromFloat32 rounds f to the nearest binary16 value, ties to even.
// Values beyond the half range become ±Inf; NaN stays NaN.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp > 127+15: // too large: the largest half exponent is 15
		return sign | 0x7c00
	case exp >= 127-14: // a normal half (rounding may carry into Inf)
		h := uint32(exp-127+15)<<10 | mant>>13
		rem := mant & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
			h++ // a carry out of the mantissa bumps the exponent, as it should
		}
		return sign | uint16(h)
	default: // a subnormal half, or zero
		shift := uint(126 - exp) // value = m · 2^-shift in units of 2^-24
		if shift > 24 {
			return sign
		}
		m := mant | 0x800000
		if exp == 0 {
			m = mant // float32 subnormals are far below the half range anyway
		}
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++
		}
		return sign | uint16(q)
	}
}

// ToFloat32 widens a binary16 value exactly.
func ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	default: // subnormal: mant · 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}
