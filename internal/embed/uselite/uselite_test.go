package uselite_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/uselite"
)

// Embed joins every goroutine it starts before returning.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func model(tb testing.TB) *uselite.Model {
	tb.Helper()
	m, err := uselite.New()
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return m
}

func embedOne(tb testing.TB, m *uselite.Model, text string) []float32 {
	tb.Helper()
	v, err := m.Embed(context.Background(), []string{text})
	if err != nil {
		tb.Fatalf("Embed(%q): %v", text, err)
	}
	return v[0]
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

type goldenCase struct {
	Text   string    `json:"text"`
	IDs    []int32   `json:"ids"`
	Vector []float32 `json:"vector"`
}

func golden(tb testing.TB) []goldenCase {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "golden.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatal(err)
	}
	if len(g.Cases) == 0 {
		tb.Fatal("golden.json has no cases")
	}
	return g.Cases
}

func TestIdentity(t *testing.T) {
	var e embed.Embedder = model(t)
	if got := e.Model(); got != "use-lite-en-512/1" {
		t.Errorf("Model() = %q", got)
	}
	if got := e.Dim(); got != 512 {
		t.Errorf("Dim() = %d", got)
	}
	m2 := model(t)
	if m2 != e {
		t.Error("New decoded the weights twice")
	}
	if a := uselite.Attribution(); !strings.Contains(a, "Universal Sentence Encoder") || !strings.Contains(a, "Apache License") {
		t.Error("Attribution lacks the notice or the licence")
	}
}

// TestGoldenVectors compares token ids (exactly) and vectors (closely) with
// the TensorFlow.js reference; see testdata/golden/golden.js. The weights
// are stored as float16, so vectors differ slightly.
func TestGoldenVectors(t *testing.T) {
	const (
		minCosine = 0.99999
		maxDiff   = 1e-3
	)
	m := model(t)
	worstCos, worstDiff := 1.0, 0.0
	for _, c := range golden(t) {
		ids := m.Tokenize(c.Text)
		if !slices.Equal(ids, c.IDs) && !(len(ids) == 0 && len(c.IDs) == 0) {
			t.Errorf("Tokenize(%q)\n got %v\nwant %v", c.Text, ids, c.IDs)
			continue
		}
		var got []float32
		if len(ids) <= uselite.MaxTokens {
			got = embedOne(t, m, c.Text)
		} else {
			got = m.EmbedIDs(ids[:uselite.MaxTokens]) // the reference clips
		}
		cos, diff := cosine(got, c.Vector), maxAbsDiff(got, c.Vector)
		worstCos, worstDiff = min(worstCos, cos), max(worstDiff, diff)
		t.Logf("%-40.40q %3d tokens: cosine %.7f, max abs diff %.3g", c.Text, len(ids), cos, diff)
		if cos < minCosine || diff > maxDiff {
			t.Errorf("%q: cosine %.7f, max abs diff %.2g (want ≥ %g, ≤ %g)", c.Text, cos, diff, minCosine, maxDiff)
		}
	}
	t.Logf("worst cosine %.7f, worst max abs diff %.3g", worstCos, worstDiff)
}

// Batching changes nothing: every text gets the same bits alone or in a
// batch (see gemm), and every vector has unit length.
func TestBatchMatchesSingle(t *testing.T) {
	m := model(t)
	var texts []string
	for _, c := range golden(t) {
		texts = append(texts, c.Text)
	}
	texts = append(texts, texts...) // more than one pass of batchRows
	batch, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(batch), len(texts))
	}
	for i, text := range texts {
		if len(batch[i]) != m.Dim() {
			t.Fatalf("%q: vector of length %d", text, len(batch[i]))
		}
		if n := norm(batch[i]); math.Abs(n-1) > 1e-5 {
			t.Errorf("%q: norm %v", text, n)
		}
		if single := embedOne(t, m, text); !slices.Equal(single, batch[i]) {
			t.Errorf("%q: batched vector differs from the single one (max diff %g)", text, maxAbsDiff(single, batch[i]))
		}
	}
}

func TestDeterministic(t *testing.T) {
	m := model(t)
	text := "The same input always gives the same vector."
	a, b := embedOne(t, m, text), embedOne(t, m, text)
	if !slices.Equal(a, b) {
		t.Error("two calls disagree")
	}
}

func TestConcurrent(t *testing.T) {
	m := model(t)
	texts := []string{"How old are you?", "What is your age?", "The weather is sunny today.", "Café au lait à Zürich"}
	want, err := m.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			i := g % len(texts)
			got, err := m.Embed(context.Background(), texts[i:i+1])
			if err != nil {
				t.Error(err)
				return
			}
			if !slices.Equal(got[0], want[i]) {
				t.Errorf("goroutine %d: %q embedded differently", g, texts[i])
			}
		})
	}
	wg.Wait()
}

// The empty string has no tokens and embeds as the empty sequence, like
// the reference (golden.json has its vector); whitespace-only text is four
// ▁ tokens, not empty.
func TestEmptyAndWhitespace(t *testing.T) {
	m := model(t)
	if ids := m.Tokenize(""); len(ids) != 0 {
		t.Errorf(`Tokenize("") = %v`, ids)
	}
	empty := embedOne(t, m, "")
	if n := norm(empty); math.Abs(n-1) > 1e-5 {
		t.Errorf("empty: norm %v", n)
	}
	if ids := m.Tokenize("   "); !slices.Equal(ids, []int32{30, 30, 30, 30}) {
		t.Errorf(`Tokenize("   ") = %v`, ids)
	}
	if blank := embedOne(t, m, "   "); cosine(blank, empty) > 0.999 {
		t.Error("whitespace-only text embeds like the empty string")
	}
	v, err := m.Embed(context.Background(), nil)
	if err != nil || len(v) != 0 {
		t.Errorf("Embed(nil) = %v, %v", v, err)
	}
}

// Tabs and line breaks count as spaces (a deliberate difference from the
// reference tokenizer, which turns them into unknown tokens).
func TestControlWhitespace(t *testing.T) {
	m := model(t)
	// \r\n is two separators, so compare without lone ▁ tokens (id 30).
	noBlank := func(ids []int32) []int32 { return slices.DeleteFunc(ids, func(id int32) bool { return id == 30 }) }
	want := noBlank(m.Tokenize("one line two lines"))
	for _, text := range []string{"one\nline\ttwo\r\nlines", "one line\ftwo\vlines"} {
		if got := noBlank(m.Tokenize(text)); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestWindowSpans(t *testing.T) {
	for _, c := range []struct {
		n    int
		want [][2]int
	}{
		{0, [][2]int{{0, 0}}},
		{5, [][2]int{{0, 5}}},
		{128, [][2]int{{0, 128}}},
		{129, [][2]int{{0, 128}, {1, 129}}},
		{224, [][2]int{{0, 128}, {96, 224}}},
		{225, [][2]int{{0, 128}, {96, 224}, {97, 225}}},
		{300, [][2]int{{0, 128}, {96, 224}, {172, 300}}},
	} {
		if got := uselite.WindowSpans(c.n); !slices.Equal(got, c.want) {
			t.Errorf("WindowSpans(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	// Very long: 16 evenly spaced full windows from the start to the end.
	spans := uselite.WindowSpans(100000)
	if len(spans) != 16 || spans[0] != [2]int{0, 128} || spans[15] != [2]int{100000 - 128, 100000} {
		t.Errorf("WindowSpans(100000) = %v", spans)
	}
	for n := 129; n < 3000; n += 7 {
		spans := uselite.WindowSpans(n)
		for i, s := range spans {
			if s[1]-s[0] != 128 || s[0] < 0 || s[1] > n || (i > 0 && s[0] <= spans[i-1][0]) {
				t.Fatalf("WindowSpans(%d) = %v", n, spans)
			}
			if i > 0 && s[0] > spans[i-1][1] && len(spans) < 16 {
				t.Fatalf("WindowSpans(%d) leaves a gap: %v", n, spans)
			}
		}
		if spans[len(spans)-1][1] != n {
			t.Fatalf("WindowSpans(%d) misses the end: %v", n, spans)
		}
	}
}

// A text over 128 tokens embeds as the normalised mean of its windows.
func TestLongTextChunking(t *testing.T) {
	m := model(t)
	cases := golden(t)
	long := cases[len(cases)-1]
	ids := m.Tokenize(long.Text)
	if len(ids) <= uselite.MaxTokens {
		t.Fatalf("the long golden text has only %d tokens", len(ids))
	}
	spans := uselite.WindowSpans(len(ids))
	want := make([]float32, 512)
	for _, s := range spans {
		for i, x := range m.EmbedIDs(ids[s[0]:s[1]]) {
			want[i] += x
		}
	}
	n := float32(norm(want))
	for i := range want {
		want[i] /= n
	}
	got := embedOne(t, m, long.Text)
	if cos := cosine(got, want); cos < 0.999999 {
		t.Errorf("long text: cosine %v with the mean of its %d windows", cos, len(spans))
	}
	if cos := cosine(got, long.Vector); cos < 0.8 {
		t.Errorf("long text: cosine %v with the reference's first window only", cos)
	}
	if n := norm(got); math.Abs(n-1) > 1e-5 {
		t.Errorf("long text: norm %v", n)
	}
	// The same text twice over is still one unit vector, close to the text.
	doubled := embedOne(t, m, long.Text+" "+long.Text)
	if cos := cosine(doubled, got); cos < 0.9 {
		t.Errorf("doubled long text: cosine %v with the text", cos)
	}
}

func TestParaphrase(t *testing.T) {
	m := model(t)
	v, err := m.Embed(context.Background(), []string{
		"How old are you?", "What is your age?", "The weather is sunny today.",
		"My cat sleeps on the sofa.", "The kitten naps on the couch.", "Stock prices fell sharply on Monday.",
	})
	if err != nil {
		t.Fatal(err)
	}
	if same, other := cosine(v[0], v[1]), cosine(v[0], v[2]); same <= other {
		t.Errorf("age paraphrase %.3f ≤ unrelated %.3f", same, other)
	}
	if same, other := cosine(v[3], v[4]), cosine(v[3], v[5]); same <= other {
		t.Errorf("cat paraphrase %.3f ≤ unrelated %.3f", same, other)
	}
}

func TestCanceled(t *testing.T) {
	m := model(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Embed(ctx, []string{"hello"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a canceled context: %v", err)
	}
}
