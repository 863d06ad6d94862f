package fulltext_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, fulltext.MinKeySize) }

func newBlinder(t testing.TB, k []byte) *fulltext.Blinder {
	t.Helper()
	b, err := fulltext.NewBlinder(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBlinderKeySize(t *testing.T) {
	for _, n := range []int{0, 16, fulltext.MinKeySize - 1} {
		if _, err := fulltext.NewBlinder(make([]byte, n)); !errors.Is(err, fulltext.ErrShortKey) {
			t.Errorf("%d-byte key: err = %v, want ErrShortKey", n, err)
		}
	}
	for _, n := range []int{fulltext.MinKeySize, 64} {
		if _, err := fulltext.NewBlinder(make([]byte, n)); err != nil {
			t.Errorf("%d-byte key: %v", n, err)
		}
	}
}

func TestTokenDeterministic(t *testing.T) {
	b1, b2 := newBlinder(t, key(1)), newBlinder(t, key(1))
	for _, term := range []string{"", "pottery", "東京", strings.Repeat("z", 64)} {
		tok := b1.Token(term)
		if len(tok) != fulltext.TokenSize {
			t.Fatalf("Token(%q) has %d bytes, want %d", term, len(tok), fulltext.TokenSize)
		}
		if !bytes.Equal(tok, b1.Token(term)) || !bytes.Equal(tok, b2.Token(term)) {
			t.Errorf("Token(%q) differs between calls or blinders with one key", term)
		}
	}
	if bytes.Equal(b1.Token("pottery"), b1.Token("camping")) {
		t.Error("two terms share a token")
	}
}

func TestTokenKeySeparation(t *testing.T) {
	b1, b2 := newBlinder(t, key(1)), newBlinder(t, key(2))
	for _, term := range []string{"pottery", "caroline", "2023"} {
		if bytes.Equal(b1.Token(term), b2.Token(term)) {
			t.Errorf("Token(%q) equal under two keys", term)
		}
	}
}

func TestBlinderCopiesKey(t *testing.T) {
	k := key(7)
	b := newBlinder(t, k)
	before := b.Token("pottery")
	clear(k)
	if !bytes.Equal(before, b.Token("pottery")) {
		t.Error("wiping the caller's key changed the tokens")
	}
}

func TestTokenHidesTerm(t *testing.T) {
	b := newBlinder(t, key(3))
	for _, term := range []string{"pottery", "abc", "caroline"} {
		tok := b.Token(term)
		for n := 3; n <= len(term); n++ {
			if bytes.Contains(tok, []byte(term[:n])) {
				t.Errorf("token of %q contains %q", term, term[:n])
			}
		}
	}
	postings, _ := b.Postings("Caroline loves pottery")
	for _, p := range postings {
		for _, term := range []string{"caroline", "loves", "pottery"} {
			if bytes.Contains(p.Token, []byte(term)) {
				t.Errorf("posting token contains %q", term)
			}
		}
	}
}

func TestPostings(t *testing.T) {
	b := newBlinder(t, key(4))
	text := "Pottery class: pottery, painting and more POTTERY."
	postings, length := b.Postings(text)
	counts, wantLen := fulltext.Terms(text)
	if length != wantLen {
		t.Errorf("length = %d, want %d", length, wantLen)
	}
	if len(postings) != len(counts) {
		t.Fatalf("%d postings for %d terms", len(postings), len(counts))
	}
	want := make([]store.Posting, 0, len(counts))
	for term, n := range counts {
		want = append(want, store.Posting{Token: b.Token(term), TF: n})
	}
	slices.SortFunc(want, func(x, y store.Posting) int { return bytes.Compare(x.Token, y.Token) })
	for i := range want {
		if !bytes.Equal(postings[i].Token, want[i].Token) || postings[i].TF != want[i].TF {
			t.Errorf("posting %d = %x/%d, want %x/%d", i, postings[i].Token, postings[i].TF, want[i].Token, want[i].TF)
		}
	}
	// Same text, same rows, in the same order.
	again, _ := b.Postings(text)
	if !slices.EqualFunc(postings, again, func(x, y store.Posting) bool { return bytes.Equal(x.Token, y.Token) && x.TF == y.TF }) {
		t.Error("Postings is not deterministic")
	}
	if p, n := b.Postings("the of and"); p != nil || n != 0 {
		t.Errorf("Postings of stop words = %v, %d; want nil, 0", p, n)
	}
}

func BenchmarkPostings(b *testing.B) {
	text := "Caroline told Melanie about the LGBTQ support group she went to on 7 May 2023; " +
		"it was powerful, and she met a transgender woman who shared her story about coming out, " +
		"which inspired her to keep painting sunsets by the lake and to look into counseling careers " +
		"for young people like her, with support!!"
	if len(text) != 300 {
		b.Fatalf("sentence has %d bytes, want 300", len(text))
	}
	bl := newBlinder(b, key(5))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		bl.Postings(text)
	}
}
