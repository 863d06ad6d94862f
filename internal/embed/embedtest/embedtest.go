// Package embedtest is a small deterministic embedder for tests of the
// semantic paths: each word is hashed to a direction, and words listed as
// synonyms share one, so "car" and "automobile" are close while sharing no
// keyword. It is not a language model and is never used outside tests.
package embedtest

import (
	"context"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// Embedder is the test embedder.
type Embedder struct {
	dim      int
	synonyms map[string]string
}

// New returns an embedder of dimension dim; each group of synonyms maps to
// the direction of its first word.
func New(dim int, synonyms ...[]string) *Embedder {
	e := &Embedder{dim: dim, synonyms: map[string]string{}}
	for _, g := range synonyms {
		for _, w := range g {
			e.synonyms[w] = g[0]
		}
	}
	return e
}

// Model names the embedder.
func (e *Embedder) Model() string { return "embedtest/1" }

// Dim is the vector length.
func (e *Embedder) Dim() int { return e.dim }

// Embed hashes each text's words into a unit vector.
func (e *Embedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, e.dim)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if s, ok := e.synonyms[w]; ok {
				w = s
			}
			h := fnv.New64a()
			h.Write([]byte(w))
			x := h.Sum64()
			v[x%uint64(e.dim)] += 1
			v[(x>>20)%uint64(e.dim)] += 0.5
		}
		var n float64
		for _, f := range v {
			n += float64(f) * float64(f)
		}
		if n > 0 {
			inv := float32(1 / math.Sqrt(n))
			for j := range v {
				v[j] *= inv
			}
		}
		out[i] = v
	}
	return out, nil
}
