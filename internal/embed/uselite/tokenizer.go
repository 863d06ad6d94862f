package uselite

import (
	"fmt"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

const (
	reservedIDs = 6 // <unk>, <s>, </s> and three extra ids: never produced by matching
	unknownID   = 0
	wordStart   = '▁' // U+2581, SentencePiece's word-boundary marker
)

// tokenizer is the SentencePiece unigram tokenizer of USE-lite, a faithful
// port of the reference JavaScript one (tfjs-models' universal-sentence-
// encoder tokenizer, as shipped in @energetic-ai/embeddings 0.2.0),
// including its quirks, so that token ids match it exactly:
//
//   - the text is NFKC-normalised, every U+0020 becomes ▁ and one ▁ is
//     prepended (an empty text has no tokens);
//   - Viterbi over the pieces' log-probabilities; a position no piece
//     starts at becomes one unknown (id 0, score 0); a later candidate with
//     an equal score wins, and a running best of exactly 0 counts as "none
//     yet", as in the reference;
//   - the best path is read backwards by the UTF-16 length of each piece;
//   - runs of unknowns merge into one id 0; no BOS/EOS.
//
// One deliberate difference: tab, newline, vertical tab, form feed and
// carriage return count as spaces. The reference leaves them as unknown
// characters, which glues the next word to a meaningless id 0 and drops
// its ▁; treating them as spaces is closer to SentencePiece's own
// normaliser, which the model was trained with.
type tokenizer struct {
	len16    []int32 // UTF-16 length of each piece, by id
	children map[uint64]int32
	score    []float64 // by trie node
	id       []int32   // by trie node; -1 if no piece ends there
}

func newTokenizer(pieces []string, scores []float64) (*tokenizer, error) {
	if len(pieces) <= reservedIDs || len(pieces) > vocabRows {
		return nil, fmt.Errorf("uselite: vocabulary of %d pieces", len(pieces))
	}
	t := &tokenizer{
		len16:    make([]int32, len(pieces)),
		children: make(map[uint64]int32, 4*len(pieces)),
		score:    []float64{0},
		id:       []int32{-1},
	}
	for i, p := range pieces {
		t.len16[i] = int32(len(utf16.Encode([]rune(p))))
		if p == "" {
			return nil, fmt.Errorf("uselite: empty vocabulary piece %d", i)
		}
		if i < reservedIDs {
			continue
		}
		node := int32(0)
		for _, r := range p {
			k := edge(node, r)
			next, ok := t.children[k]
			if !ok {
				next = int32(len(t.id))
				t.children[k] = next
				t.score = append(t.score, 0)
				t.id = append(t.id, -1)
			}
			node = next
		}
		// A duplicate piece overwrites the earlier one, as in the reference.
		t.score[node] = scores[i]
		t.id[node] = int32(i)
	}
	return t, nil
}

func edge(node int32, r rune) uint64 { return uint64(node)<<32 | uint64(uint32(r)) }

// normalizeText is the text the Viterbi search runs over, as runes.
func normalizeText(text string) []rune {
	s := norm.NFKC.String(text)
	if s == "" {
		return nil
	}
	out := make([]rune, 1, len(s)+1)
	out[0] = wordStart
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			r = wordStart
		}
		out = append(out, r)
	}
	return out
}

// encode returns the token ids of text, unclipped.
func (t *tokenizer) encode(text string) []int32 {
	syms := normalizeText(text)
	n := len(syms)
	if n == 0 {
		return nil
	}
	best := make([]float64, n+1)
	words := make([]int32, n+1)
	relax := func(start, end int, score float64, id int32) {
		s := score + best[start]
		if best[end] == 0 || s >= best[end] {
			best[end] = s
			words[end] = id
		}
	}
	// Going forward, the pieces ending at a position are relaxed in
	// increasing order of their start, as in the reference's loop over end
	// positions; best[i] is final once i is reached.
	for i := range n {
		node, matched := int32(0), false
		for e := i; e < n; e++ {
			next, ok := t.children[edge(node, syms[e])]
			if !ok {
				break
			}
			node = next
			if id := t.id[node]; id >= 0 {
				matched = true
				relax(i, e+1, t.score[node], id)
			}
		}
		if !matched {
			relax(i, i+1, 0, unknownID)
		}
	}
	var rev []int32
	for i := n; i > 0; i -= int(t.len16[words[i]]) {
		id := words[i]
		if id == unknownID && len(rev) > 0 && rev[len(rev)-1] == unknownID {
			continue
		}
		rev = append(rev, id)
	}
	ids := make([]int32, len(rev))
	for i, id := range rev {
		ids[len(rev)-1-i] = id
	}
	return ids
}
