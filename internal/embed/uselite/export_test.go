package uselite

// Hooks for the black-box tests in package uselite_test.

// Tokenize returns the token ids of text, unclipped.
func (m *Model) Tokenize(text string) []int32 { return m.tok.encode(text) }

// EmbedIDs runs the network on one sequence of at most 128 token ids.
func (m *Model) EmbedIDs(ids []int32) []float32 {
	out := make([]float32, Dim)
	m.w.encode([][]int32{ids}, out)
	return out
}

// WindowSpans exposes the chunking of long texts.
func WindowSpans(n int) [][2]int { return windowSpans(n) }

// MaxTokens is the window length.
const MaxTokens = maxTokens

// Linear is a dense layer with kernel w (k×n) and bias; portable forces
// the pure-Go kernels.
type Linear struct{ l linear }

func NewLinear(w, bias []float32, k, n int, portable bool) *Linear {
	return &Linear{newLinear(w, bias, k, n, portable)}
}

// Epilogues for Linear.Apply.
const (
	Store      = store
	Accumulate = accumulate
	StoreReLU  = storeReLU
)

// Apply computes dst (m×n) = a (m×k)·W + bias with the given epilogue.
func (l *Linear) Apply(dst, a []float32, m, mode int) { l.l.apply(dst, a, m, mode) }

// SIMD reports whether the layer runs on the AVX2/FMA kernels.
func (l *Linear) SIMD() bool { return l.l.simd }

// Load decodes the embedded model afresh, bypassing the cache of New.
func Load() error {
	w, err := loadWeights()
	if err != nil {
		return err
	}
	pieces, scores, err := parseVocab(vocabTSV)
	if err != nil {
		return err
	}
	_, err = newTokenizer(pieces, scores)
	_ = w
	return err
}
