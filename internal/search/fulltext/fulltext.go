// Package fulltext is keyword search over an untrusted database.
//
// The database must never see a search term (docs/SECURITY.md), yet BM25
// needs term frequencies, document frequencies and document lengths. So
// every term is blinded before it leaves the process: a Blinder turns it
// into a 16-byte HMAC-SHA256 token under a per-tenant search key, the store
// keeps postings of tokens, and BM25 ranks memories from those postings
// alone. The same term always gives the same token within a tenant, and
// nothing else can be learnt from a token without the key.
//
// What stays visible to whoever reads the database: how many distinct terms
// each memory has, how often each token occurs in it, document lengths, and
// which memories share a token, that is, term-frequency patterns. A reader
// who can guess the language can try to match frequent tokens to frequent
// words; the key is per tenant so these patterns never line up across
// tenants.
//
// Tokenisation is deliberately plain and written down here because it is a
// storage format: changing it changes every token, so old memories stop
// matching until they are re-indexed.
//
//   - Normalisation: Unicode NFKC with full case folding, computed as
//     NFKC(fold(NFKD(s))), so "ﬁle", "FILE" and "ｆｉｌｅ" are one term.
//   - Terms are maximal runs of letters and digits (unicode.IsLetter,
//     unicode.IsDigit); combining marks that follow a letter or digit stay
//     in its run, so scripts that write vowels as marks (Devanagari, Thai)
//     are not cut into fragments. Everything else separates terms, including
//     apostrophes: "don't" gives "don" and "t" (and "t" is a stop word).
//     Scripts written without spaces (Chinese, Japanese) give one term per
//     run; no segmentation is attempted.
//   - A fixed list of 64 English function words is dropped (see stopWords).
//   - Terms longer than MaxTermBytes bytes are dropped: they are hashes,
//     base64 blobs or URLs run together, not words anyone types in a query.
//   - ASCII terms are stemmed with Snowball English (Porter2): "painted"
//     and "painting" both become "paint", so a question finds the memory
//     whatever the inflection. On LoCoMo's tuning half it lifts keyword
//     R@10 from 0.586 to 0.621 (docs/BENCHMARKS.md). Other terms are left as
//     they are: the stemmer knows English only.
package fulltext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxTermBytes is the longest term kept, in bytes of its normalised UTF-8.
const MaxTermBytes = 64

// stopWords are dropped from documents and queries. They are the most
// frequent English function words plus "s" and "t", the leftovers of
// splitting "Anna's" and "don't" at the apostrophe. They match nearly every
// memory, so they add noise to BM25 far more than they add signal: on LoCoMo
// (docs/bench.md) BM25 without them loses about 0.08 of Recall@10 (0.570 to
// 0.490). The list is part of the storage format (see the package comment)
// and is kept short on purpose: words like "not", "never" or "can" carry
// meaning in a memory and stay.
var stopWords = func() map[string]struct{} {
	words := []string{
		// articles and conjunctions
		"a", "an", "the", "and", "or", "but", "if", "so", "than",
		// prepositions
		"of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "about", "into",
		// forms of be, have, do
		"is", "am", "are", "was", "were", "be", "been", "being",
		"have", "has", "had", "do", "does", "did",
		// personal and possessive pronouns
		"i", "me", "my", "you", "your", "he", "him", "his", "she", "her",
		"it", "its", "we", "our", "they", "them", "their",
		// demonstratives and question words
		"this", "that", "these", "those", "what", "which", "who", "when", "where", "how",
		// apostrophe leftovers
		"s", "t",
	}
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}()

// Terms normalises text and returns how often each kept term occurs in it,
// and length, the number of kept terms (the document length BM25 uses). The
// rules are in the package comment. counts is never nil.
func Terms(text string) (counts map[string]int, length int) {
	counts = make(map[string]int)
	eachTerm(text, func(t string) {
		counts[t]++
		length++
	})
	return counts, length
}

// QueryTerms returns the distinct terms of a query, in the order they first
// occur, by the same rules as Terms. It returns nil when no term is kept.
func QueryTerms(query string) []string {
	var terms []string
	seen := make(map[string]struct{})
	eachTerm(query, func(t string) {
		if _, ok := seen[t]; ok {
			return
		}
		seen[t] = struct{}{}
		terms = append(terms, t)
	})
	return terms
}

// eachTerm calls fn with every kept term of text, in order.
func eachTerm(text string, fn func(string)) {
	s := normalize(text)
	start := -1 // byte offset of the current run, -1 outside a run
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if start < 0 {
				start = i
			}
		case start >= 0 && unicode.Is(unicode.M, r):
			// A combining mark continues the run it follows.
		default:
			if start >= 0 {
				emit(s[start:i], fn)
				start = -1
			}
		}
	}
	if start >= 0 {
		emit(s[start:], fn)
	}
}

func emit(t string, fn func(string)) {
	if len(t) > MaxTermBytes {
		return
	}
	if _, stop := stopWords[t]; stop {
		return
	}
	if isASCII(t) {
		t = english.Stem(t, false)
	}
	fn(t)
}

// normalize returns NFKC(fold(NFKD(text))). ASCII text is its own NFKD and
// NFKC form and folds to lower case, so it takes a cheap path with the same
// result. Invalid UTF-8 passes through and separates terms.
func normalize(text string) string {
	if isASCII(text) {
		return strings.ToLower(text)
	}
	// A Caser is stateful, so each call makes its own.
	folded := cases.Fold().String(norm.NFKD.String(text))
	return norm.NFKC.String(strings.Map(foldCherokee, folded))
}

// foldCherokee maps Cherokee small letters to their capitals, which is how
// Unicode case-folds Cherokee (CaseFolding.txt: AB70; C; 13A0). cases.Fold
// of golang.org/x/text v0.44.0 instead swaps the two cases, so without this
// "Ꭰ" and "ꭰ" would be different terms and folding would not be
// idempotent. Applied after cases.Fold, it is right whether or not that bug
// is ever fixed.
func foldCherokee(r rune) rune {
	switch {
	case 0xAB70 <= r && r <= 0xABBF: // Cherokee Small Letter A .. QUV
		return r - 0xAB70 + 0x13A0
	case 0x13F8 <= r && r <= 0x13FD: // Cherokee Small Letter YE .. MV
		return r - 8
	}
	return r
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
