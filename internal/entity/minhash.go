package entity

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The fuzzy-matching parameters. The gate and the Jaccard threshold are
// Graphiti's (graphiti_core/utils/maintenance/dedup_helpers.py). The banding
// is looser than Graphiti's (bands of 2 rows instead of 4): bands only find
// candidates and the decision is taken on the exact Jaccard, so a looser
// banding costs a few more candidates to compare and finds pairs of Jaccard
// 0.5 (reported as near) 99 times in 100 instead of about 4 in 10. Typos are
// found through deletion keys (keys.go), not bands: one slip in a 13-letter
// name leaves a Jaccard near 0.57.
const (
	MinEntropy       = 1.5 // bits per character of the name without spaces
	MinFuzzyLength   = 6   // characters (spaces included), unless MinFuzzyTokens
	MinFuzzyTokens   = 2   // words
	FuzzyJaccard     = 0.9 // 3-gram Jaccard at or above which two names match
	NearJaccard      = 0.5 // 3-gram Jaccard at or above which a name is reported as near
	Permutations     = 32  // MinHash functions
	BandRows         = 2   // signature rows per LSH band
	Bands            = Permutations / BandRows
	shingleSize      = 3
	minTypoWordRunes = 5
	// maxTypoWordRunes bounds the words the edit-distance rules look at:
	// name words are short, and both the deletion keys and the distance are
	// quadratic in a word's length, so a hostile 100 KB "word" must not
	// reach them.
	maxTypoWordRunes = 32
)

// seeds are the fixed MinHash seeds: splitmix64 of 1..Permutations. A store
// holds band keys derived from them, so they must never change; a golden test
// pins the band keys of known names so a change fails loudly.
var seeds = func() [Permutations]uint64 {
	var s [Permutations]uint64
	for i := range s {
		s[i] = mix(uint64(i + 1))
	}
	return s
}()

// mix is the splitmix64 finaliser: a bijective 64-bit mixer, so each seed
// gives an independent-looking hash function over the shingle hashes.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fuzzyForm is the name the fuzzy rules see: the normalised key with
// everything but letters, digits and apostrophes turned into spaces, like
// Graphiti's, but for every script rather than ASCII only.
func fuzzyForm(key string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '\'' {
			return r
		}
		return ' '
	}, key)), " ")
}

// entropy is the Shannon entropy, in bits per character, of form without
// its spaces.
func entropy(form string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range form {
		if r != ' ' {
			counts[r]++
			n++
		}
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

// fuzzyEligible is Graphiti's gate: short single words ("Jon", "AAA") and
// repetitive names carry too little information for a similarity score to
// mean anything, so they match exactly or not at all.
func fuzzyEligible(form string) bool {
	if utf8.RuneCountInString(form) < MinFuzzyLength && len(strings.Fields(form)) < MinFuzzyTokens {
		return false
	}
	return entropy(form) >= MinEntropy
}

// shingles returns the set of character 3-grams of form with its spaces
// removed (a name shorter than 3 characters is its own single shingle).
func shingles(form string) map[string]struct{} {
	r := []rune(strings.ReplaceAll(form, " ", ""))
	out := map[string]struct{}{}
	if len(r) == 0 {
		return out
	}
	if len(r) < shingleSize {
		out[string(r)] = struct{}{}
		return out
	}
	for i := 0; i+shingleSize <= len(r); i++ {
		out[string(r[i:i+shingleSize])] = struct{}{}
	}
	return out
}

// jaccard is |a∩b| / |a∪b|, 0 for two empty sets.
func jaccard(a, b map[string]struct{}) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := 0
	for s := range a {
		if _, ok := b[s]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// signature is the MinHash signature of a shingle set: for each seed, the
// smallest mixed hash of any shingle. FNV-1a is the base hash because it is
// fixed by its specification, so signatures agree across builds and nodes.
func signature(sh map[string]struct{}) [Permutations]uint64 {
	var sig [Permutations]uint64
	for i := range sig {
		sig[i] = math.MaxUint64
	}
	for s := range sh {
		h := fnv.New64a()
		h.Write([]byte(s))
		base := h.Sum64()
		for i, seed := range seeds {
			if v := mix(base ^ seed); v < sig[i] {
				sig[i] = v
			}
		}
	}
	return sig
}

// bandKeys returns one key per LSH band: two names share a band key when
// their signatures agree on all of that band's rows, which happens with
// probability J^BandRows for names of 3-gram Jaccard J.
func bandKeys(sig [Permutations]uint64) []string {
	keys := make([]string, 0, Bands)
	var buf [8 * BandRows]byte
	for b := range Bands {
		for r := range BandRows {
			binary.BigEndian.PutUint64(buf[8*r:], sig[b*BandRows+r])
		}
		h := fnv.New64a()
		h.Write(buf[:])
		var sum [8]byte
		binary.BigEndian.PutUint64(sum[:], h.Sum64())
		keys = append(keys, "b"+string(rune('a'+b))+":"+hex.EncodeToString(sum[:]))
	}
	return keys
}

// digitRuns returns the numbers written in form, in order: "Windows 10" and
// "Windows 11" or "Expo 2023" and "Expo 2024" differ in these, and such names
// are never merged by the fuzzy rules however similar the rest is.
func digitRuns(form string) string {
	return strings.Join(strings.FieldsFunc(form, func(r rune) bool { return !unicode.IsDigit(r) }), " ")
}

// osaDistance is the optimal string alignment distance (Levenshtein plus
// transposition of neighbours) between two words, in runes.
func osaDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
