package uselite

import (
	"context"
	"math"
	"sync"

	"github.com/engram-memory/engram/internal/embed"
)

const (
	// ModelID names this model and version in stored vectors.
	ModelID = "use-lite-en-512/1"
	// Dim is the length of every vector.
	Dim = hidden

	// maxTokens is the model's input length; longer texts are embedded
	// as overlapping windows of this many tokens.
	maxTokens = 128
	// windowStride is the distance between window starts, so consecutive
	// windows share maxTokens − windowStride = 32 tokens.
	windowStride = 96
	// maxWindows bounds the work for one text (~1,500 tokens, several KB of
	// prose, are covered densely); longer texts get this many evenly spaced
	// windows.
	maxWindows = 16
	// batchRows bounds the tokens run through the network at once, and so
	// the scratch memory of one pass (about 11 KiB per token).
	batchRows = 512
)

// Model is the built-in USE-lite embedder. It is immutable and safe for
// concurrent use; each Embed call uses all cores.
type Model struct {
	w   *weights
	tok *tokenizer
}

var _ embed.Embedder = (*Model)(nil)

// shared holds the decoded model: the weights (about 28 MB of float32) are
// decoded once per process, on the first New, and shared by every Model.
var shared = sync.OnceValues(func() (*Model, error) {
	w, err := loadWeights()
	if err != nil {
		return nil, err
	}
	pieces, scores, err := parseVocab(vocabTSV)
	if err != nil {
		return nil, err
	}
	tok, err := newTokenizer(pieces, scores)
	if err != nil {
		return nil, err
	}
	return &Model{w: w, tok: tok}, nil
})

// New returns the built-in model. The first call decodes the embedded
// weights (tens of milliseconds); later calls return the same model. An
// error means the embedded model files are damaged, which a build from a
// proper checkout never produces.
func New() (*Model, error) { return shared() }

// Model returns ModelID, "use-lite-en-512/1".
func (m *Model) Model() string { return ModelID }

// Dim returns 512.
func (m *Model) Dim() int { return Dim }

// Embed returns one unit-length vector per text, in order.
//
// A text of up to 128 tokens (roughly 80–100 English words) is embedded as
// is. A longer one is cut into 128-token windows that overlap by 32 tokens
// (the last one ending at the last token; at most 16, evenly spaced, for
// very long texts); the windows' vectors are averaged and re-normalised.
// The empty string has no tokens and gets the model's vector for an empty
// sequence (tanh of the pooling bias, normalised), as in the reference
// implementation; whitespace-only text is not empty (each space is a ▁
// token).
//
// Texts are batched together (up to 512 tokens per pass). Embed fails only
// when ctx is done, returning ctx.Err(); the check happens between passes.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type window struct {
		text int
		ids  []int32
	}
	var windows []window
	count := make([]int, len(texts))
	for i, t := range texts {
		ids := m.tok.encode(t)
		spans := windowSpans(len(ids))
		for _, span := range spans {
			windows = append(windows, window{text: i, ids: ids[span[0]:span[1]]})
		}
		count[i] = len(spans)
	}

	out := make([]float32, len(texts)*Dim)
	vecs := make([]float32, len(windows)*Dim)
	for lo := 0; lo < len(windows); {
		hi, rows := lo, 0
		for hi < len(windows) && (hi == lo || rows+len(windows[hi].ids) <= batchRows) {
			rows += len(windows[hi].ids)
			hi++
		}
		seqs := make([][]int32, hi-lo)
		for i := range seqs {
			seqs[i] = windows[lo+i].ids
		}
		m.w.encode(seqs, vecs[lo*Dim:hi*Dim])
		lo = hi
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for i, w := range windows {
		dst := out[w.text*Dim : (w.text+1)*Dim]
		for c, v := range vecs[i*Dim : (i+1)*Dim] {
			dst[c] += v
		}
	}
	res := make([][]float32, len(texts))
	for i := range texts {
		v := out[i*Dim : (i+1)*Dim : (i+1)*Dim]
		if count[i] > 1 {
			embed.Normalize(v)
		}
		res[i] = v
	}
	return res, nil
}

// windowSpans returns the [start, end) token ranges a text of n tokens is
// embedded as: one range when n ≤ maxTokens (also when n = 0), otherwise
// full-length windows every windowStride tokens with the last aligned to
// the end, or maxWindows evenly spaced ones when that would be more.
func windowSpans(n int) [][2]int {
	if n <= maxTokens {
		return [][2]int{{0, n}}
	}
	last := n - maxTokens
	k := (last+windowStride-1)/windowStride + 1
	spans := make([][2]int, 0, min(k, maxWindows))
	if k <= maxWindows {
		for i := range k {
			s := min(i*windowStride, last)
			spans = append(spans, [2]int{s, s + maxTokens})
		}
		return spans
	}
	for i := range maxWindows {
		s := int(math.Round(float64(i) * float64(last) / float64(maxWindows-1)))
		spans = append(spans, [2]int{s, s + maxTokens})
	}
	return spans
}

// Attribution returns the NOTICE and the Apache-2.0 licence of the
// embedded model weights, for a binary's licence listing.
func Attribution() string { return noticeText + "\n" + licenseText }
