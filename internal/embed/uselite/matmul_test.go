package uselite_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/embed/uselite"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// The kernels (SIMD where the CPU has it, and the portable ones) agree
// with float64 arithmetic for every epilogue and awkward shape, and give a
// row the same bits whatever the other rows are.
func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, portable := range []bool{false, true} {
		for _, shape := range [][3]int{{1, 1, 1}, {3, 5, 7}, {5, 64, 64}, {7, 256, 512}, {9, 33, 192}, {13, 512, 128}, {4, 1536, 64}, {6, 48, 50}} {
			m, k, n := shape[0], shape[1], shape[2]
			w, bias, a := randSlice(r, k*n), randSlice(r, n), randSlice(r, m*k)
			l := uselite.NewLinear(slices.Clone(w), bias, k, n, portable)
			for _, mode := range []int{uselite.Store, uselite.Accumulate, uselite.StoreReLU} {
				name := fmt.Sprintf("portable=%v simd=%v %dx%dx%d mode %d", portable, l.SIMD(), m, k, n, mode)
				init := randSlice(r, m*n)
				got := slices.Clone(init)
				l.Apply(got, a, m, mode)
				for i := range m {
					for j := range n {
						want := float64(bias[j])
						for p := range k {
							want += float64(a[i*k+p]) * float64(w[p*n+j])
						}
						switch mode {
						case uselite.Accumulate:
							want += float64(init[i*n+j])
						case uselite.StoreReLU:
							want = max(want, 0)
						}
						if d := math.Abs(float64(got[i*n+j]) - want); d > 1e-5*math.Sqrt(float64(k))*(1+math.Abs(want)) {
							t.Fatalf("%s: [%d,%d] = %v, want %v", name, i, j, got[i*n+j], want)
						}
					}
				}
				// Row by row gives the same bits.
				for i := range m {
					row := slices.Clone(init[i*n : (i+1)*n])
					l.Apply(row, a[i*k:(i+1)*k], 1, mode)
					if !slices.Equal(row, got[i*n:(i+1)*n]) {
						t.Fatalf("%s: row %d differs when computed alone", name, i)
					}
				}
			}
		}
	}
}

// BenchmarkMatMul multiplies m rows by a 512×1536 kernel (the feed-forward
// expansion, the commonest shape).
func BenchmarkMatMul(b *testing.B) {
	const k, n = 512, 1536
	r := rand.New(rand.NewPCG(1, 2))
	w, bias := randSlice(r, k*n), randSlice(r, n)
	for _, portable := range []bool{false, true} {
		l := uselite.NewLinear(slices.Clone(w), bias, k, n, portable)
		kind := "simd"
		if !l.SIMD() {
			kind = "portable"
		}
		if portable && kind == "simd" {
			continue
		}
		for _, m := range benchRows {
			a := randSlice(r, m*k)
			dst := make([]float32, m*n)
			b.Run(fmt.Sprintf("%s/m=%d", kind, m), func(b *testing.B) {
				for b.Loop() {
					l.Apply(dst, a, m, uselite.Store)
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

var benchRows = []int{1, 3, 4, 8, 11, 16, 128, 512}
