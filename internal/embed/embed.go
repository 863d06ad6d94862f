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
