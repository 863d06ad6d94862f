package uselite

import (
	"runtime"
	"sync"
)

// linear is a dense layer y = x·W + b for a kernel W of in×out.
//
// With AVX2/FMA (amd64, out a multiple of 64) W is packed for the SIMD
// kernels of matmul_amd64.s: panels of 16 output columns, each holding
// its in×16 block row by row, so a kernel reads its panel sequentially.
// Otherwise W is stored transposed, one contiguous row of length in per
// output column, so that the portable kernels compute every output as a
// dot product of two contiguous slices.
type linear struct {
	in, out int
	simd    bool      // w is packed for gemmSIMD; else out×in for gemm
	w       []float32 // the kernel, in the layout above
	bias    []float32 // out
}

// newLinear takes the kernel in its in×out layout.
func newLinear(kernel, bias []float32, in, out int, portable bool) linear {
	l := linear{in: in, out: out, bias: bias, w: make([]float32, in*out)}
	if haveSIMD && out%64 == 0 && !portable {
		l.simd = true
		for p := range in {
			for j, v := range kernel[p*out : (p+1)*out] {
				l.w[(j/16)*16*in+p*16+j%16] = v
			}
		}
		return l
	}
	for p := range in {
		for j, v := range kernel[p*out : (p+1)*out] {
			l.w[j*in+p] = v
		}
	}
	return l
}

// Epilogues of a linear layer.
const (
	store      = iota // dst = x·W + b
	accumulate        // dst += x·W + b (the residual connections)
	storeReLU         // dst = max(x·W + b, 0)
)

const (
	colBlock    = 48      // portable kernels: output columns per cache block (48×1536 floats = 288 KiB of W)
	minParallel = 1 << 16 // multiply-adds below which one goroutine does the work
)

// apply runs the layer on the m rows of src (m×in) into dst (m×out), on up
// to GOMAXPROCS goroutines, each owning a range of output columns (and so
// reading only its share of W).
func (l *linear) apply(dst, src []float32, m, mode int) {
	if m == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if m*l.in*l.out < minParallel {
		workers = 1
	}
	kernel, block := gemm, colBlock
	if l.simd {
		kernel, block = gemmSIMD, 64
	}
	// Chunks of whole blocks, so the tiles stay aligned.
	blocks := (l.out + block - 1) / block
	workers = min(workers, blocks)
	if workers <= 1 {
		kernel(dst, src, l.w, l.bias, m, l.in, l.out, 0, l.out, mode)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		j0, j1 := block*(blocks*w/workers), min(l.out, block*(blocks*(w+1)/workers))
		wg.Go(func() { kernel(dst, src, l.w, l.bias, m, l.in, l.out, j0, j1, mode) })
	}
	kernel(dst, src, l.w, l.bias, m, l.in, l.out, 0, min(l.out, block*(blocks/workers)), mode)
	wg.Wait()
}

// gemm computes output columns [j0, j1) of dst = a·W + bias (with the
// given epilogue) for a (m×k) and wt = Wᵀ (n×k). Columns go in blocks of
// colBlock, so that a block of W stays in cache while every row of a
// passes over it; inside a block, 2×3 register tiles (six accumulators,
// five loads per step) keep the scalar pipeline busy without spilling.
//
// Every kernel sums each output in the same order (p = 0, 1, …, k−1, one
// accumulator), so a row's result does not depend on which tile it fell
// in: a text gets bit-identical vectors alone, in any batch, on any
// number of cores.
func gemm(dst, a, wt, bias []float32, m, k, n, j0, j1, mode int) {
	for jb := j0; jb < j1; jb += colBlock {
		je := min(jb+colBlock, j1)
		i := 0
		for ; i+2 <= m; i += 2 {
			a0 := a[i*k : i*k+k]
			a1 := a[(i+1)*k : (i+1)*k+k]
			j := jb
			for ; j+3 <= je; j += 3 {
				s00, s01, s02, s10, s11, s12 := dot2x3(a0, a1, wt[j*k:j*k+k], wt[(j+1)*k:(j+1)*k+k], wt[(j+2)*k:(j+2)*k+k])
				put3(dst[i*n+j:i*n+j+3], bias[j:j+3], s00, s01, s02, mode)
				put3(dst[(i+1)*n+j:(i+1)*n+j+3], bias[j:j+3], s10, s11, s12, mode)
			}
			for ; j < je; j++ {
				s0, s1 := dot2x1(a0, a1, wt[j*k:j*k+k])
				put1(&dst[i*n+j], bias[j], s0, mode)
				put1(&dst[(i+1)*n+j], bias[j], s1, mode)
			}
		}
		if i < m { // odd row count: one last row
			a0 := a[i*k : i*k+k]
			j := jb
			for ; j+3 <= je; j += 3 {
				s0, s1, s2 := dot1x3(a0, wt[j*k:j*k+k], wt[(j+1)*k:(j+1)*k+k], wt[(j+2)*k:(j+2)*k+k])
				put3(dst[i*n+j:i*n+j+3], bias[j:j+3], s0, s1, s2, mode)
			}
			for ; j < je; j++ {
				put1(&dst[i*n+j], bias[j], dot1x1(a0, wt[j*k:j*k+k]), mode)
			}
		}
	}
}

func put3(d, b []float32, s0, s1, s2 float32, mode int) {
	d = d[:3]
	b = b[:3]
	s0, s1, s2 = s0+b[0], s1+b[1], s2+b[2]
	switch mode {
	case accumulate:
		d[0] += s0
		d[1] += s1
		d[2] += s2
	case storeReLU:
		d[0], d[1], d[2] = max(s0, 0), max(s1, 0), max(s2, 0)
	default:
		d[0], d[1], d[2] = s0, s1, s2
	}
}

func put1(d *float32, b, s float32, mode int) {
	s += b
	switch mode {
	case accumulate:
		*d += s
	case storeReLU:
		*d = max(s, 0)
	default:
		*d = s
	}
}

// dot2x3 returns the six dot products of rows a0, a1 with rows b0, b1, b2
// (all of the same length).
func dot2x3(a0, a1, b0, b1, b2 []float32) (s00, s01, s02, s10, s11, s12 float32) {
	a1 = a1[:len(a0)]
	b0 = b0[:len(a0)]
	b1 = b1[:len(a0)]
	b2 = b2[:len(a0)]
	for p, x0 := range a0 {
		x1 := a1[p]
		y0, y1, y2 := b0[p], b1[p], b2[p]
		s00 += x0 * y0
		s01 += x0 * y1
		s02 += x0 * y2
		s10 += x1 * y0
		s11 += x1 * y1
		s12 += x1 * y2
	}
	return
}

func dot2x1(a0, a1, b []float32) (s0, s1 float32) {
	a1 = a1[:len(a0)]
	b = b[:len(a0)]
	for p, x0 := range a0 {
		y := b[p]
		s0 += x0 * y
		s1 += a1[p] * y
	}
	return
}

func dot1x3(a, b0, b1, b2 []float32) (s0, s1, s2 float32) {
	b0 = b0[:len(a)]
	b1 = b1[:len(a)]
	b2 = b2[:len(a)]
	for p, x := range a {
		s0 += x * b0[p]
		s1 += x * b1[p]
		s2 += x * b2[p]
	}
	return
}

func dot1x1(a, b []float32) (s float32) {
	b = b[:len(a)]
	for p, x := range a {
		s += x * b[p]
	}
	return
}

// dot is the dot product of two slices of the same length, with four
// partial sums to hide the latency of the additions.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	p := 0
	for ; p+4 <= len(a); p += 4 {
		s0 += a[p] * b[p]
		s1 += a[p+1] * b[p+1]
		s2 += a[p+2] * b[p+2]
		s3 += a[p+3] * b[p+3]
	}
	for ; p < len(a); p++ {
		s0 += a[p] * b[p]
	}
	return (s0 + s1) + (s2 + s3)
}
