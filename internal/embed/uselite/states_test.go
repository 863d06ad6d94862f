package uselite_test

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// Finish of a text's state is its Embed vector, bit for bit: short texts,
// the empty string, a text over 128 tokens (several windows), batched.
func TestFinishMatchesEmbed(t *testing.T) {
	m := model(t)
	var texts []string
	for _, c := range golden(t) {
		texts = append(texts, c.Text)
	}
	texts = append(texts, strings.Repeat("a long text about the weather in May. ", 60))
	ctx := context.Background()
	vecs, err := m.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	states, err := m.EmbedStates(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		if got := m.Finish(states[i]); !slices.Equal(got, vecs[i]) {
			t.Errorf("%.30q: Finish differs from Embed (max diff %g)", text, maxAbsDiff(got, vecs[i]))
		}
		if got := m.Mix(states[i], states[:1], []float32{0}); !slices.Equal(got, vecs[i]) {
			t.Errorf("%.30q: Mix with a zero weight differs from Embed", text)
		}
	}
}

// Mixing with weight 1 is mean pooling over the tokens of both texts:
// exactly what the model computes for a text whose last layer outputs
// are those of the two texts side by side. Checked against the joined
// text: close (only attention across the two is missing), and closer than
// the text alone.
func TestMixApproachesJoinedText(t *testing.T) {
	m := model(t)
	a, b := "I adopted a puppy last weekend.", "What breed is it?"
	ctx := context.Background()
	states, err := m.EmbedStates(ctx, []string{b, a})
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := m.Embed(ctx, []string{a + "\n" + b, b})
	if err != nil {
		t.Fatal(err)
	}
	mixed := m.Mix(states[0], states[1:], []float32{1})
	if n := norm(mixed); n < 0.99999 || n > 1.00001 {
		t.Errorf("norm %v", n)
	}
	joint, alone := cosine(mixed, vecs[0]), cosine(vecs[1], vecs[0])
	if joint < 0.8 || joint <= alone {
		t.Errorf("cosine with the joined text: mixed %v, text alone %v", joint, alone)
	}
}
