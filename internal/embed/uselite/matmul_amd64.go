//go:build amd64 && !purego

package uselite

// The AVX2/FMA kernels of matmul_amd64.s. Each computes a tile of
// C = A·B + bias, summing over k in order with one fused multiply-add per
// step, then applies the epilogue (mode). B is packed (see packPanels).

//go:noescape
func gemm4x16(a *float32, lda int, b *float32, k int, c *float32, ldc int, bias *float32, mode int)

//go:noescape
func gemm1x64(a *float32, b *float32, panel int, k int, c *float32, bias *float32, mode int)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// haveSIMD reports whether the CPU and OS support AVX2 and FMA.
var haveSIMD = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // the OS saves XMM and YMM state
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}()

// gemmSIMD computes output columns [j0, j1) (multiples of 64) of
// dst = a·W + bias for a (m×k) and W (k×n) packed in 16-column panels.
func gemmSIMD(dst, a, w, bias []float32, m, k, n, j0, j1, mode int) {
	gemmPacked(dst, n, a, k, w, bias, m, k, j0, j1, mode)
}

// gemmPacked computes columns [j0, j1) (multiples of 64) of
// dst = a·B + bias, where row i of dst starts at dst[i*ldc], row i of a
// at a[i*lda], and B (k rows) is packed in 16-column panels of 16·k
// floats. Each panel is read sequentially by every 4-row tile while it is
// in cache; the last m mod 4 rows go through the one-row kernel, 64
// columns at a time. Both kernels do the same operations per output, so
// a row's result does not depend on its position in the batch.
func gemmPacked(dst []float32, ldc int, a []float32, lda int, b, bias []float32, m, k, j0, j1, mode int) {
	if m == 0 || j0 == j1 {
		return
	}
	// The kernels do no bounds checking: check everything they will touch.
	if j0%64 != 0 || j1%64 != 0 || j0 > j1 || k < 1 || lda < k || ldc < j1 ||
		len(a) < (m-1)*lda+k || len(dst) < (m-1)*ldc+j1 || len(b) < j1*k || len(bias) < j1 {
		panic("uselite: gemmPacked: bad shape")
	}
	m4 := m &^ 3
	panel := 16 * k
	for jb := j0; jb < j1; jb += 64 {
		for j := jb; j < jb+64; j += 16 {
			p := &b[j/16*panel]
			for i := 0; i < m4; i += 4 {
				gemm4x16(&a[i*lda], lda, p, k, &dst[i*ldc+j], ldc, &bias[j], mode)
			}
		}
		for i := m4; i < m; i++ {
			gemm1x64(&a[i*lda], &b[jb/16*panel], panel, k, &dst[i*ldc+jb], &bias[jb], mode)
		}
	}
}
