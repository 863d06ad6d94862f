//go:build !amd64 || purego

package uselite

// haveSIMD is false: every product goes through the portable kernels.
const haveSIMD = false

func gemmSIMD(dst, a, w, bias []float32, m, k, n, j0, j1, mode int) {
	panic("uselite: no SIMD kernels in this build")
}

func gemmPacked(dst []float32, ldc int, a []float32, lda int, b, bias []float32, m, k, j0, j1, mode int) {
	panic("uselite: no SIMD kernels in this build")
}
