package snapshot_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/snapshot"
)

func entries() []snapshot.Entry {
	return []snapshot.Entry{
		{ID: "0190a0b0-0000-7000-8000-000000000001", UserID: "u1", AgentID: "a", RunID: "r", AuthorID: "acc1",
			Private: true, Created: time.UnixMicro(1_700_000_000_123_456).UTC(), Vector: []float32{0.5, -0.25, 1}},
		{ID: "0190a0b0-0000-7000-8000-000000000002", Created: time.UnixMicro(0).UTC(), Vector: []float32{0, 0, -1}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := entries()
	b, err := snapshot.Encode(3, in)
	if err != nil {
		t.Fatal(err)
	}
	var out []snapshot.Entry
	if err := snapshot.Decode(b, 3, func(e *snapshot.Entry) error { out = append(out, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := snapshot.Encode(3, entries())
	if err != nil {
		t.Fatal(err)
	}
	version := append([]byte{}, good...)
	version[4] = 2
	magic := append([]byte{}, good...)
	magic[0] = 'X'
	for name, b := range map[string][]byte{
		"empty": nil, "magic": magic, "version": version,
		"short": good[:len(good)-1], "long": append(append([]byte{}, good...), 0),
		"header only": good[:13],
	} {
		err := snapshot.Decode(b, 3, func(*snapshot.Entry) error { return nil })
		if !errors.Is(err, snapshot.ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	if err := snapshot.Decode(good, 4, func(*snapshot.Entry) error { return nil }); !errors.Is(err, snapshot.ErrFormat) {
		t.Errorf("other dimension: err = %v, want ErrFormat", err)
	}
	if _, err := snapshot.Encode(4, entries()); err == nil {
		t.Error("Encode took vectors of another dimension")
	}
}

// TestContextBinds: every field of a chunk's name changes its context.
func TestContextBinds(t *testing.T) {
	base := snapshot.Chunk{Tenant: "t", Kind: snapshot.KindVectors, SnapshotID: "s", Subject: "u:x", Gen: 7, Model: "m", Seq: 1, Chunks: 3}
	variants := []snapshot.Chunk{base, base, base, base, base, base, base}
	variants[0].Tenant = "t2"
	variants[1].SnapshotID = "s2"
	variants[2].Subject = "u:y"
	variants[3].Gen = 8
	variants[4].Model = "m2"
	variants[5].Seq = 2
	variants[6].Chunks = 2
	for i, v := range variants {
		if v.Context() == base.Context() {
			t.Errorf("variant %d has the same context", i)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := snapshot.Encode(3, entries())
	f.Add(good, 3)
	f.Add([]byte("EGVS\x01\x03\x00\x00\x00\xff\xff\xff\xff"), 3)
	f.Fuzz(func(t *testing.T, b []byte, dim int) {
		if dim < 1 || dim > 4096 {
			return
		}
		var got []snapshot.Entry
		if err := snapshot.Decode(b, dim, func(e *snapshot.Entry) error { got = append(got, *e); return nil }); err != nil {
			return
		}
		again, err := snapshot.Encode(dim, got)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(b) {
			t.Fatal("a decoded chunk does not encode back to itself")
		}
	})
}

// TestRoundTripMany: many entries, with users that repeat and more
// distinct runs than are shared, long ids; the decoded strings survive
// the chunk being wiped.
func TestRoundTripMany(t *testing.T) {
	var in []snapshot.Entry
	for i := range 3000 {
		in = append(in, snapshot.Entry{ID: fmt.Sprintf("%0*d", 20+i%300, i), UserID: fmt.Sprint("u", i%7), AgentID: "agent",
			RunID: fmt.Sprint("run", i), AuthorID: fmt.Sprint("acc", i%3), Private: i%2 == 0,
			Created: time.UnixMicro(int64(i) * 1_000_003).UTC(), Vector: []float32{float32(i), 1, -1}})
	}
	b, err := snapshot.Encode(3, in)
	if err != nil {
		t.Fatal(err)
	}
	var out []snapshot.Entry
	if err := snapshot.Decode(b, 3, func(e *snapshot.Entry) error {
		c := *e
		c.Vector = slices.Clone(e.Vector)
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !reflect.DeepEqual(in, out) {
		t.Fatal("round trip of many entries differs")
	}
}
