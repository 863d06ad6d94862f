package uselite

import (
	"context"

	"github.com/engram-memory/engram/internal/embed"
)

// State is a text's pooled state: what the model holds just before its
// final layer (embed.State).
type State = embed.State

var _ embed.StateEmbedder = (*Model)(nil)

// EmbedStates returns each text's pooled state, in order, batched and
// windowed exactly as Embed. Finish of a state is the text's vector from
// Embed, bit for bit.
func (m *Model) EmbedStates(ctx context.Context, texts []string) ([]State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]State, len(texts))
	var seqs [][]int32
	var owner []int
	for i, t := range texts {
		ids := m.tok.encode(t)
		for _, span := range windowSpans(len(ids)) {
			seqs = append(seqs, ids[span[0]:span[1]])
			owner = append(owner, i)
		}
	}
	sums := make([]float32, len(seqs)*Dim)
	for lo := 0; lo < len(seqs); {
		hi, rows := lo, 0
		for hi < len(seqs) && (hi == lo || rows+len(seqs[hi]) <= batchRows) {
			rows += len(seqs[hi])
			hi++
		}
		m.w.states(seqs[lo:hi], sums[lo*Dim:hi*Dim])
		lo = hi
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for k, i := range owner {
		out[i].Sum = append(out[i].Sum, sums[k*Dim:(k+1)*Dim:(k+1)*Dim])
		out[i].N = append(out[i].N, len(seqs[k]))
	}
	return out, nil
}

// Finish returns the unit vector of s, identical to Embed's for the text
// s came from.
func (m *Model) Finish(s State) []float32 { return m.Mix(s, nil, nil) }

// Mix returns the vector of s pooled jointly with the context states ctx,
// context state j weighted by w[j]: for each window of s,
//
//	tanh(((Sum + Σ w[j]·S̄[j]) / (N + Σ w[j]·N̄[j]))·W + b), normalised,
//
// S̄[j] and N̄[j] being ctx[j].Pooled(): the mean over its windows of
// their sums and counts; the windows' vectors are averaged and re-normalised as in
// Embed. That is the model's mean pooling over the tokens of all the
// texts together (each context token counted w[j] times) and its final
// layer; only attention across the texts is missing. With no context it
// is Finish.
func (m *Model) Mix(s State, ctx []State, w []float32) []float32 {
	k := len(s.Sum)
	var extra [Dim]float64
	var extraN float64
	for j, c := range ctx {
		if len(c.Sum) == 0 || w[j] == 0 {
			continue
		}
		c = c.Pooled()
		for d, v := range c.Sum[0] {
			extra[d] += float64(w[j]) * float64(v)
		}
		extraN += float64(w[j]) * float64(c.N[0])
	}
	pooled := make([]float32, k*Dim)
	for i, sum := range s.Sum {
		n := float32(float64(s.N[i]) + extraN)
		if n == 0 { // the empty string alone pools to zeros
			continue
		}
		p := pooled[i*Dim : (i+1)*Dim]
		for d, v := range sum {
			p[d] = float32(float64(v)+extra[d]) / n
		}
	}
	out := make([]float32, k*Dim)
	m.w.finish(pooled, k, out)
	v := out[:Dim:Dim]
	if k > 1 {
		for i := 1; i < k; i++ {
			for d, x := range out[i*Dim : (i+1)*Dim] {
				v[d] += x
			}
		}
		embed.Normalize(v)
	}
	return v
}
