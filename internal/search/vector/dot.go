package vector

// dot returns the dot product of a and b, which must be of equal length. It
// is the inner loop of every search: unrolled by 16 into four accumulators,
// with the loop condition proving every index in bounds, so the compiler
// emits no bounds checks in the main loop.
func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	b = b[:len(a)]
	for len(a) >= 16 && len(b) >= 16 {
		s0 += a[0]*b[0] + a[4]*b[4] + a[8]*b[8] + a[12]*b[12]
		s1 += a[1]*b[1] + a[5]*b[5] + a[9]*b[9] + a[13]*b[13]
		s2 += a[2]*b[2] + a[6]*b[6] + a[10]*b[10] + a[14]*b[14]
		s3 += a[3]*b[3] + a[7]*b[7] + a[11]*b[11] + a[15]*b[15]
		a, b = a[16:], b[16:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
