package uselite

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// encode runs the network on a batch of token sequences (each at most
// maxTokens ids, possibly empty) and writes one unit vector per sequence
// into out (len(seqs)×hidden).
//
// The tokens of all sequences are stacked into one matrix without padding,
// so every dense layer is a single matrix product over the whole batch;
// only attention and pooling look at sequence boundaries. That gives the
// same result as the reference graph, whose padded positions are masked
// out of attention keys (bias −1e9, an exact zero after softmax) and of
// the mean.
func (w *weights) encode(seqs [][]int32, out []float32) {
	sums := make([]float32, len(seqs)*hidden)
	w.states(seqs, sums)
	pooled := make([]float32, len(seqs)*hidden)
	for s, seq := range seqs {
		if n := len(seq); n > 0 { // an empty sequence pools to zeros
			p := pooled[s*hidden : (s+1)*hidden]
			for c, v := range sums[s*hidden : (s+1)*hidden] {
				p[c] = v / float32(n)
			}
		}
	}
	w.finish(pooled, len(seqs), out)
}

// states runs the network on a batch of token sequences and writes, per
// sequence, the sum over its tokens of the last layer's output (summed in
// float64, then rounded to float32) into sums (len(seqs)×hidden).
func (w *weights) states(seqs [][]int32, sums []float32) {
	starts := make([]int, len(seqs)+1)
	rows := 0
	for i, s := range seqs {
		starts[i] = rows
		rows += len(s)
	}
	starts[len(seqs)] = rows

	// The dense layers run on a multiple of 4 rows, the SIMD kernels' tile
	// height; the extra rows start as zeros and are never read back.
	padded := (rows + 3) &^ 3
	buf := make([]float32, padded*(embDim+hidden+hidden+ffnDim))
	x0, buf := buf[:padded*embDim], buf[padded*embDim:] // layer 0 input
	x, buf := buf[:padded*hidden], buf[padded*hidden:]  // residual stream
	hc, buf := buf[:padded*hidden], buf[padded*hidden:] // LayerNorm output, then attention context
	big := buf[:padded*ffnDim]                          // q|k|v, then feed-forward activations

	w.input(x0, seqs, starts)

	// Layer 0 (d 256): attention output and the 256→512 projection of its
	// input are summed into the 512-wide residual stream.
	l := &w.layers[0]
	layerNormRows(hc, x0, padded, embDim, l.attnNorm)
	l.qkv.apply(big, hc, padded, store)
	w.attention(hc, big, starts, l)
	l.out.apply(x, hc, padded, store)
	l.residual.apply(x, x0, padded, accumulate)
	feedForward(x, hc, big, padded, l)

	// Layer 1 (d 512).
	l = &w.layers[1]
	layerNormRows(hc, x, padded, hidden, l.attnNorm)
	l.qkv.apply(big, hc, padded, store)
	w.attention(hc, big, starts, l)
	l.out.apply(x, hc, padded, accumulate)
	feedForward(x, hc, big, padded, l)

	for s := range seqs {
		var sum [hidden]float64
		for r := starts[s]; r < starts[s+1]; r++ {
			for c, v := range x[r*hidden : (r+1)*hidden] {
				sum[c] += float64(v)
			}
		}
		p := sums[s*hidden : (s+1)*hidden]
		for c := range p {
			p[c] = float32(sum[c])
		}
	}
}

// finish turns rows pooled (mean) states into unit vectors in out:
// tanh(x·W + b), then L2 normalisation.
func (w *weights) finish(pooled []float32, rows int, out []float32) {
	w.pool.apply(out, pooled, rows, store)
	for s := range rows {
		v := out[s*hidden : (s+1)*hidden]
		var ss float64
		for c := range v {
			v[c] = float32(math.Tanh(float64(v[c])))
			ss += float64(v[c]) * float64(v[c])
		}
		inv := float32(1 / math.Sqrt(max(ss, l2Epsilon)))
		for c := range v {
			v[c] *= inv
		}
	}
}

// input writes x0 = 2·E[id] + timing(position) for every token, computed
// as E + (E + timing) like the graph, where timing is
// [sin(p·inv) ‖ cos(p·inv)] over the 128 inverse timescales.
func (w *weights) input(x0 []float32, seqs [][]int32, starts []int) {
	var sin, cos [timescale]float32
	for s, seq := range seqs {
		for p, id := range seq {
			for c, inv := range w.invScales {
				a := float64(float32(p) * inv)
				sin[c], cos[c] = float32(math.Sin(a)), float32(math.Cos(a))
			}
			row := x0[(starts[s]+p)*embDim : (starts[s]+p+1)*embDim]
			e := w.embeddings[int(id)*embDim : (int(id)+1)*embDim]
			for c := range timescale {
				row[c] = e[c] + (e[c] + sin[c])
				row[c+timescale] = e[c+timescale] + (e[c+timescale] + cos[c])
			}
		}
	}
}

// feedForward adds LN → dense 512→1536 → ReLU → dense 1536→512 to x, using
// h (rows×512) and f (rows×1536) as scratch.
func feedForward(x, h, f []float32, rows int, l *layer) {
	layerNormRows(h, x, rows, hidden, l.ffnNorm)
	l.ffn1.apply(f, h, rows, storeReLU)
	l.ffn2.apply(x, f, rows, accumulate)
}

// layerNormRows normalises each row of src (rows×width) into dst:
// (x − mean) · rsqrt(var + 1e-6) · scale + bias.
func layerNormRows(dst, src []float32, rows, width int, ln layerNorm) {
	scale, bias := ln.scale[:width], ln.bias[:width]
	for r := range rows {
		x := src[r*width : (r+1)*width]
		y := dst[r*width : (r+1)*width]
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		mean := float32(sum / float64(width))
		var sq float64
		for c, v := range x {
			d := v - mean
			y[c] = d
			sq += float64(d) * float64(d)
		}
		variance := float32(sq / float64(width))
		rs := float32(1 / math.Sqrt(float64(variance+lnEpsilon)))
		for c := range y {
			y[c] = scale[c]*rs*y[c] + bias[c]
		}
	}
}

// attention computes multi-head scaled dot-product self-attention within
// each sequence. qkv holds rows of [q ‖ k ‖ v] (3·width); the context,
// heads side by side, goes to ctx (rows×width). Sequences × heads are
// shared among GOMAXPROCS goroutines when there is enough work.
func (w *weights) attention(ctx, qkv []float32, starts []int, l *layer) {
	d, dh := l.width, l.headDim
	rows := starts[len(starts)-1]
	for r := range rows { // q is scaled before the product, as in the graph
		q := qkv[r*3*d : r*3*d+d]
		for c := range q {
			q[c] *= l.qScale
		}
	}
	nseq := len(starts) - 1
	jobs := nseq * heads
	work := 0
	for s := range nseq {
		n := starts[s+1] - starts[s]
		work += n * n * dh
	}
	workers := min(runtime.GOMAXPROCS(0), jobs)
	if work < minParallel {
		workers = 1
	}
	var next atomic.Int64
	run := func() {
		var scratch *attnScratch
		var scores []float32
		if haveSIMD {
			scratch = w.scratch.Get().(*attnScratch)
			defer w.scratch.Put(scratch)
		} else {
			scores = make([]float32, maxTokens)
		}
		for {
			j := int(next.Add(1) - 1)
			if j >= jobs {
				return
			}
			s, h := j/heads, j%heads
			if n := starts[s+1] - starts[s]; n == 0 {
				continue
			} else if haveSIMD {
				attendHeadPacked(ctx, qkv, starts[s], n, h, d, dh, scratch)
			} else {
				attendHead(ctx, qkv, starts[s], n, h, d, dh, scores)
			}
		}
	}
	if workers <= 1 {
		run()
		return
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(run)
	}
	run()
	wg.Wait()
}

// attendHead computes head h of one sequence of n tokens starting at row r0.
func attendHead(ctx, qkv []float32, r0, n, h, d, dh int, scores []float32) {
	stride := 3 * d
	scores = scores[:n]
	for i := range n {
		q := qkv[(r0+i)*stride+h*dh : (r0+i)*stride+(h+1)*dh]
		m := float32(math.Inf(-1))
		for j := range n {
			k := qkv[(r0+j)*stride+d+h*dh : (r0+j)*stride+d+(h+1)*dh]
			scores[j] = dot(q, k)
			m = max(m, scores[j])
		}
		var sum float32
		for j, v := range scores {
			e := float32(math.Exp(float64(v - m)))
			scores[j] = e
			sum += e
		}
		out := ctx[(r0+i)*d+h*dh : (r0+i)*d+(h+1)*dh]
		clear(out)
		for j, p := range scores {
			p /= sum
			v := qkv[(r0+j)*stride+2*d+h*dh : (r0+j)*stride+2*d+(h+1)*dh]
			v = v[:len(out)]
			for c, vc := range v {
				out[c] += p * vc
			}
		}
	}
}

// attnScratch is one goroutine's working memory for attendHeadPacked.
type attnScratch struct {
	keys   [hidden / heads * maxTokens]float32   // Kᵀ packed: head dim × keys
	values [maxTokens * hidden / heads]float32   // V packed: tokens × head dim
	scores [maxTokens * maxTokens]float32        // n × keys (padded to 64)
	zeros  [max(maxTokens, hidden/heads)]float32 // the bias of both products
}

// attendHeadPacked is attendHead on the SIMD kernels: scores = Q·Kᵀ and
// context = softmax(scores)·V as two packed matrix products.
func attendHeadPacked(ctx, qkv []float32, r0, n, h, d, dh int, s *attnScratch) {
	stride := 3 * d
	keys := (n + 63) &^ 63 // columns of the score matrix, padded for the kernels
	kt := s.keys[:dh*keys]
	for p := range keys / 16 {
		panel := kt[p*16*dh : (p+1)*16*dh]
		for c := range 16 {
			t := p*16 + c
			if t >= n {
				for i := range dh {
					panel[i*16+c] = 0
				}
				continue
			}
			k := qkv[(r0+t)*stride+d+h*dh : (r0+t)*stride+d+(h+1)*dh]
			for i, v := range k {
				panel[i*16+c] = v
			}
		}
	}
	scores := s.scores[:n*keys]
	gemmPacked(scores, keys, qkv[r0*stride+h*dh:], stride, kt, s.zeros[:], n, dh, 0, keys, store)
	for i := range n {
		row := scores[i*keys : i*keys+n]
		m := float32(math.Inf(-1))
		for _, v := range row {
			m = max(m, v)
		}
		var sum float32
		for j, v := range row {
			e := float32(math.Exp(float64(v - m)))
			row[j] = e
			sum += e
		}
		for j := range row {
			row[j] /= sum
		}
	}
	vp := s.values[:n*dh]
	for p := range dh / 16 {
		panel := vp[p*16*n : (p+1)*16*n]
		for t := range n {
			off := (r0+t)*stride + 2*d + h*dh + p*16
			copy(panel[t*16:t*16+16], qkv[off:off+16])
		}
	}
	gemmPacked(ctx[r0*d+h*dh:], d, scores, keys, vp, s.zeros[:], n, n, 0, dh, store)
}
