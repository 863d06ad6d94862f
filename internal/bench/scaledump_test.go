package bench_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/engram-memory/engram/internal/bench"
)

// readDump reads one JSONL file of a corpus dump.
func readDump(t *testing.T, path string) []bench.DumpRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []bench.DumpRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r bench.DumpRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDumpCorpus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dump")
	// A stand-in model: the vector of a text is its length and a count of
	// the calls, so every record must carry the vector of its own text.
	calls := 0
	embed := func(_ context.Context, texts []string) ([][]float32, error) {
		calls++
		vs := make([][]float32, len(texts))
		for i, s := range texts {
			vs[i] = []float32{float32(len(s)), float32(calls)}
		}
		return vs, nil
	}
	opts := bench.ScaleOptions{N: 205, Searches: 3, Seed: 1,
		Texts:   []string{"Alice: I adopted a puppy", "Bob: congratulations!", "Bob: congratulations!"},
		Queries: []string{"What is the puppy called?", "Who adopted?"}}
	if err := bench.DumpCorpus(context.Background(), dir, opts, embed); err != nil {
		t.Fatal(err)
	}
	mem := readDump(t, filepath.Join(dir, bench.DumpCorpusFile))
	if len(mem) != 205 {
		t.Fatalf("%d memories", len(mem))
	}
	// The texts Scale writes: distinct, cycled, copies numbered; 100 per
	// request, each request for the next of 50 users.
	for i, m := range mem {
		text := opts.Texts[i%2]
		if i >= 2 {
			text = fmt.Sprintf("%s (%d)", text, i/2)
		}
		want := bench.DumpRecord{ID: fmt.Sprintf("m%d", i), User: fmt.Sprintf("u%d", i/100), Text: text,
			Vector: []float32{float32(len(text)), float32(1 + i/100)}}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("memory %d: %+v, want %+v", i, m, want)
		}
	}
	qs := readDump(t, filepath.Join(dir, bench.DumpQueriesFile))
	if len(qs) != 5+3 {
		t.Fatalf("%d queries", len(qs))
	}
	for i, q := range qs {
		text := opts.Queries[i%2]
		want := bench.DumpRecord{User: fmt.Sprintf("u%d", i), Text: text, Vector: []float32{float32(len(text)), 4}, Warmup: i < 5}
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("query %d: %+v, want %+v", i, q, want)
		}
	}
	// Synthetic text is the same stream Scale draws from: the dump of a
	// seed repeats itself.
	syn := bench.ScaleOptions{N: 30, Searches: 4, Seed: 7}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if err := bench.DumpCorpus(context.Background(), d, syn, embed); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{bench.DumpCorpusFile, bench.DumpQueriesFile} {
		ra, rb := readDump(t, filepath.Join(a, f)), readDump(t, filepath.Join(b, f))
		for i := range ra {
			if ra[i].Text != rb[i].Text || ra[i].Text == "" {
				t.Fatalf("%s %d: %q and %q", f, i, ra[i].Text, rb[i].Text)
			}
		}
	}
	if err := bench.DumpCorpus(context.Background(), t.TempDir(), bench.ScaleOptions{N: 1, Searches: 1, Texts: []string{"x"}}, embed); err == nil {
		t.Fatal("texts without queries were accepted")
	}
}
