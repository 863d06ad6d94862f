package fulltext

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"slices"

	"github.com/engram-memory/engram/internal/store"
)

// TokenSize is the length of a blind token: 128 bits keep collisions out of
// reach for any realistic vocabulary, at half the index size of a full MAC.
const TokenSize = 16

// MinKeySize is the shortest search key NewBlinder accepts.
const MinKeySize = 32

// ErrShortKey is returned by NewBlinder for a key shorter than MinKeySize.
var ErrShortKey = errors.New("fulltext: search key shorter than 32 bytes")

// Blinder turns terms into blind tokens under one tenant's search key. It is
// safe for concurrent use.
type Blinder struct {
	key []byte
}

// NewBlinder returns a Blinder for key, which must be at least MinKeySize
// bytes (ErrShortKey otherwise). The key is copied, so the caller may wipe
// its own copy.
func NewBlinder(key []byte) (*Blinder, error) {
	if len(key) < MinKeySize {
		return nil, ErrShortKey
	}
	return &Blinder{key: bytes.Clone(key)}, nil
}

// Token returns the blind token of an already normalised term (one returned
// by Terms or QueryTerms): HMAC-SHA256(key, term) truncated to TokenSize
// bytes.
func (b *Blinder) Token(term string) []byte {
	mac := hmac.New(sha256.New, b.key)
	mac.Write([]byte(term))
	return mac.Sum(nil)[:TokenSize:TokenSize]
}

// Postings returns the postings of text, one per distinct term, sorted by
// token so the same text always gives the same rows, and the document length
// (see Terms).
func (b *Blinder) Postings(text string) (postings []store.Posting, length int) {
	counts, length := Terms(text)
	if len(counts) == 0 {
		return nil, length
	}
	postings = make([]store.Posting, 0, len(counts))
	tokens := make([]byte, 0, len(counts)*TokenSize) // one backing array for all tokens
	mac := hmac.New(sha256.New, b.key)
	var scratch []byte
	for term, tf := range counts {
		mac.Reset()
		scratch = append(scratch[:0], term...)
		mac.Write(scratch)
		scratch = mac.Sum(scratch[:0])
		start := len(tokens)
		tokens = append(tokens, scratch[:TokenSize]...)
		postings = append(postings, store.Posting{Token: tokens[start:len(tokens):len(tokens)], TF: tf})
	}
	slices.SortFunc(postings, func(x, y store.Posting) int { return bytes.Compare(x.Token, y.Token) })
	// Two terms sharing a token (a 2^-128 event per pair) merge into one
	// posting, so the store never sees a duplicate key.
	out := postings[:1]
	for _, p := range postings[1:] {
		if last := &out[len(out)-1]; bytes.Equal(last.Token, p.Token) {
			last.TF += p.TF
			continue
		}
		out = append(out, p)
	}
	return out, length
}
