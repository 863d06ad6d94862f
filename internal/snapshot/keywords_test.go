package snapshot_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

func TestKeywordsRoundTrip(t *testing.T) {
	docs := []store.DocPostings{
		{MemoryID: "m1", Scope: engram.Scope{UserID: "u", AgentID: "a", RunID: "r"}, AuthorID: "acct", Private: true, DocLen: 7,
			Postings: []store.Posting{{Token: []byte("0123456789abcdef"), TF: 2}, {Token: []byte("fedcba9876543210"), TF: 1}}},
		{MemoryID: "m2", DocLen: 0, Postings: []store.Posting{}},
	}
	b, err := snapshot.EncodeKeywords(docs)
	if err != nil {
		t.Fatal(err)
	}
	var got []store.DocPostings
	if err := snapshot.DecodeKeywords(b, func(d *store.DocPostings) error {
		got = append(got, *d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, docs) {
		t.Fatalf("round trip:\n%+v\n%+v", got, docs)
	}
	// Every truncation, and a trailing byte, is refused.
	for n := range len(b) {
		if err := snapshot.DecodeKeywords(b[:n], func(*store.DocPostings) error { return nil }); !errors.Is(err, snapshot.ErrFormat) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
	if err := snapshot.DecodeKeywords(append(b, 0), func(*store.DocPostings) error { return nil }); !errors.Is(err, snapshot.ErrFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
	// A vector chunk is not a keyword chunk.
	v, _ := snapshot.Encode(1, []snapshot.Entry{{ID: "x", Vector: []float32{1}}})
	if err := snapshot.DecodeKeywords(v, func(*store.DocPostings) error { return nil }); !errors.Is(err, snapshot.ErrFormat) {
		t.Fatalf("vector chunk: %v", err)
	}
}

func FuzzDecodeKeywords(f *testing.F) {
	b, _ := snapshot.EncodeKeywords([]store.DocPostings{{MemoryID: "m", DocLen: 3, Postings: []store.Posting{{Token: []byte("t"), TF: 1}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = snapshot.DecodeKeywords(b, func(*store.DocPostings) error { return nil })
	})
}
