// Package embed turns text into vectors for semantic search. Engram ships
// a built-in offline model (uselite) so that a fresh install needs nothing
// else; users with a GPU box or an API budget plug in an OpenAI-compatible
// server (openai). Each vector is stored with the model id and dimension
// that made it, so a model change re-embeds instead of mixing spaces.
package embed

import (
	"context"
	"math"
)

// Embedder turns texts into unit-length vectors (cosine similarity is a dot
// product).
type Embedder interface {
	// Model names the model and its version, e.g. "use-lite-en-512/1".
	// Vectors of different models are never compared.
	Model() string
	// Dim is the length of every vector.
	Dim() int
	// Embed returns one vector per text, in order. It fails as a whole.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Normalize scales v to unit length in place (a zero vector stays zero):
// what every Embedder returns, and what a vector combined from others
// must be again.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

// State is a text's pooled state in a model that ends by mean pooling over
// tokens (StateEmbedder): per window of the text, Sum is the sum over its
// tokens of the last layer's output and N its token count.
type State struct {
	Sum [][]float32
	N   []int
}

// Pooled returns s as one window: the mean of its windows' sums (summed
// in float64, rounded to float32) and of their counts, which is how a
// text enters another's pooling as context. A state of one window is
// returned as it is.
func (s State) Pooled() State {
	if len(s.Sum) <= 1 {
		return s
	}
	k := float64(len(s.Sum))
	sum := make([]float64, len(s.Sum[0]))
	n := 0
	for i, row := range s.Sum {
		for d, v := range row {
			sum[d] += float64(v)
		}
		n += s.N[i]
	}
	mean := make([]float32, len(sum))
	for d, v := range sum {
		mean[d] = float32(v / k)
	}
	return State{Sum: [][]float32{mean}, N: []int{int(math.Round(float64(n) / k))}}
}

// StateEmbedder is an Embedder whose vectors can be built from pooled
// states: texts embedded once (EmbedStates) are pooled together before
// the model's final layer (Mix), which gives a text's vector in the
// context of others at the cost of one small product, not of reading the
// others again. The built-in model implements it.
type StateEmbedder interface {
	Embedder
	// EmbedStates returns one State per text, in order; Mix(s, nil, nil)
	// is the text's Embed vector, bit for bit.
	EmbedStates(ctx context.Context, texts []string) ([]State, error)
	// Mix returns the unit vector of s pooled together with the tokens of
	// ctx (each one's Pooled state), those of ctx[j] weighted w[j].
	Mix(s State, ctx []State, w []float32) []float32
}
