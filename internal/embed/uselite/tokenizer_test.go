package uselite_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// Examples beyond golden.json, checked against the reference tokenizer.
func TestTokenize(t *testing.T) {
	m := model(t)
	for _, c := range []struct {
		text string
		want []int32
	}{
		// ▁A ▁kitten ▁rest ed ▁on ▁the ▁ rug (embedder.md)
		{"A kitten rested on the rug", []int32{74, 7317, 874, 26, 25, 9, 30, 4852}},
		// ':30' has score 30 in the published vocabulary and ':00' score 0;
		// the reference uses them as they are.
		{"at 10:30 or 9:00", []int32{38, 320, 4177, 39, 538, 5920}},
		// Runs of unknown characters merge into one id 0.
		{"東京で寿司を食べた", []int32{30, 0}},
		{"I love 🍕 pizza 🎉!", []int32{16, 241, 30, 0, 6077, 30, 0, 78}},
		// NFKC: full-width letters, the ﬁ ligature and ½ are decomposed.
		{"ＦＵＬＬＷＩＤＴＨ ﬁle ½ cup", []int32{189, 4664, 277, 331, 2609, 3651, 1792, 207, 7935, 288, 2838}},
	} {
		if got := m.Tokenize(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", " ", "A kitten rested on the rug", "東京で寿司を食べた", "🍕🍕 x", "a\x00b", "\xff\xfe", "::30::00", "ﬁ½", "\n\t\r"} {
		f.Add(s)
	}
	m := model(f)
	f.Fuzz(func(t *testing.T, text string) {
		ids := m.Tokenize(text)
		if len(ids) > utf8.RuneCountInString(text)*18+1 { // NFKC expands a rune to at most 18
			t.Fatalf("%d tokens for %q", len(ids), text)
		}
		for i, id := range ids {
			if id < 0 || id >= 8000 || (id > 0 && id < 6) {
				t.Fatalf("token %d of %q: id %d", i, text, id)
			}
			if i > 0 && id == 0 && ids[i-1] == 0 {
				t.Fatalf("unmerged unknowns in %q: %v", text, ids)
			}
		}
	})
}

// TestTokenizeReference checks the ids of 1,000 pseudo-random texts against
// the reference tokenizer (testdata/golden/tokens.json, see golden.js).
func TestTokenizeReference(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 1000 {
		t.Fatalf("tokens.json has %d texts", len(cases))
	}
	m := model(t)
	bad := 0
	for _, c := range cases {
		if got := m.Tokenize(c.Text); !slices.Equal(got, c.IDs) && len(got)+len(c.IDs) > 0 {
			if bad++; bad <= 5 {
				t.Errorf("Tokenize(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d texts tokenized differently", bad, len(cases))
	}
}
