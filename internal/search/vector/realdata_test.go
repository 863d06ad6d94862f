package vector_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/search/vector"
)

// Real embeddings, for BenchmarkRecallQuestions: the built-in model's
// vectors of LoCoMo's turns (the memories) and of its questions (the
// queries), computed once and cached in a file, since embedding them takes
// minutes.
var (
	locomoPath = flag.String("ann.locomo", "", "locomo10.json: BenchmarkRecallQuestions embeds its turns and questions with the built-in model")
	annM       = flag.Int("ann.m", 0, "BenchmarkRecallQuestions: Options.M (0: default)")
	annEfc     = flag.Int("ann.efc", 0, "BenchmarkRecallQuestions: Options.EfConstruction (0: default)")
	mixN       = flag.Int("ann.n", 100_000, "size of BenchmarkRecallQuestions's grown corpus")
	vecCache   = flag.String("ann.cache", os.TempDir()+"/engram-ann-locomo.vec", "cache of the embeddings -ann.locomo yields")
)

// realVectors returns the cached turn and question embeddings, computing
// and caching them first when the cache is absent.
func realVectors(b *testing.B) (turns, questions [][]float32) {
	b.Helper()
	if turns, questions, err := readVecs(*vecCache); err == nil {
		return turns, questions
	} else if !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	if *locomoPath == "" {
		b.Fatalf("no cache at %s: give -ann.locomo=path/to/locomo10.json", *vecCache)
	}
	ds, err := bench.LoadLoCoMo(*locomoPath)
	if err != nil {
		b.Fatal(err)
	}
	m, err := uselite.New()
	if err != nil {
		b.Fatal(err)
	}
	embed := func(texts []string) [][]float32 {
		var out [][]float32
		for lo := 0; lo < len(texts); lo += 256 {
			vs, err := m.Embed(context.Background(), texts[lo:min(lo+256, len(texts))])
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, vs...)
		}
		return out
	}
	turns = embed(ds.Texts())
	questions = embed(ds.QuestionTexts(bench.DefaultCategories))
	if err := writeVecs(*vecCache, turns, questions); err != nil {
		b.Fatal(err)
	}
	return turns, questions
}

// The cache: two little-endian uint32 counts, the dimension, then the
// vectors as float32.
func writeVecs(path string, a, q [][]float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	hdr := []uint32{uint32(len(a)), uint32(len(q)), uint32(len(a[0]))}
	if err := binary.Write(f, binary.LittleEndian, hdr); err != nil {
		f.Close()
		return err
	}
	for _, v := range append(append([][]float32{}, a...), q...) {
		if err := binary.Write(f, binary.LittleEndian, v); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func readVecs(path string) (a, q [][]float32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var hdr [3]uint32
	if err := binary.Read(f, binary.LittleEndian, &hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	read := func(n int) ([][]float32, error) {
		out := make([][]float32, n)
		for i := range out {
			out[i] = make([]float32, hdr[2])
			if err := binary.Read(f, binary.LittleEndian, out[i]); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		return out, nil
	}
	if a, err = read(int(hdr[0])); err != nil {
		return nil, nil, err
	}
	if q, err = read(int(hdr[1])); err != nil {
		return nil, nil, err
	}
	return a, q, nil
}

// mixCorpus grows real vectors to n: each is a random real vector, mixed
// with a second one (weight up to 0.4) and a little Gaussian noise, so the
// corpus keeps the model's anisotropy and neighbourhoods without the exact
// duplicates that repeating the texts would make.
func mixCorpus(real [][]float32, n int, seed uint64) *dataset {
	r := newRand(seed)
	dim := len(real[0])
	d := &dataset{}
	for i := range n {
		a, c := real[r.IntN(len(real))], real[r.IntN(len(real))]
		w := float32(0.4 * r.Float64())
		v := make([]float32, dim)
		for j := range v {
			v[j] = (1-w)*a[j] + w*c[j] + float32(0.1/sqrtf(dim)*r.NormFloat64())
		}
		d.ids = append(d.ids, fmt.Sprintf("v%d", i))
		d.vecs = append(d.vecs, normalize(v))
	}
	return d
}

// BenchmarkRecallQuestions measures what the engine's semantic search gets
// from the graph: recall@10 and recall@100 (the engine asks for 100
// candidates) of Search against SearchExact, for the built-in model's
// embeddings of LoCoMo's questions as queries, over the real turns
// ("locomo", 5,882 vectors, graph forced by a low threshold) and over a
// 100k corpus grown from them ("mix100k"); "perturbed" and "stored" query
// kinds are reported beside for comparison with the calibration. Run:
//
//	go test ./internal/search/vector -run '^$' -bench RecallQuestions -benchtime 1x \
//	  -ann.locomo ../shared/bench/locomo10.json
func BenchmarkRecallQuestions(b *testing.B) {
	turns, questions := realVectors(b)
	cases := []struct {
		name string
		data func() *dataset
	}{
		{"locomo", func() *dataset {
			d := &dataset{}
			for i, v := range turns {
				d.ids = append(d.ids, fmt.Sprintf("v%d", i))
				d.vecs = append(d.vecs, v)
			}
			return d
		}},
		{fmt.Sprintf("mix%dk", *mixN/1000), func() *dataset { return mixCorpus(turns, *mixN, 7) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			d := tc.data()
			x := newIndex(b, len(turns[0]), vector.Options{ApproxThreshold: min(len(d.ids)/2, vector.DefaultApproxThreshold), Seed: 1, M: *annM, EfConstruction: *annEfc})
			start := time.Now()
			d.fill(b, x)
			vector.WaitBuild(x)
			build := time.Since(start)
			st := x.Stats()
			b.Logf("%s: built in %v: %+v", tc.name, build.Round(time.Millisecond), st)
			qs := questions
			if len(qs) > 500 {
				qs = qs[:500]
			}
			type m struct {
				v    float64
				unit string
			}
			var ms []m
			for _, k := range []int{10, 100} {
				rec, per := measureRecall(x, qs, k)
				ms = append(ms, m{rec, fmt.Sprintf("recall@%d", k)}, m{float64(per.Microseconds()), fmt.Sprintf("us/search@%d", k)})
			}
			for b.Loop() {
				x.Search(qs[0], 10, nil)
			}
			for _, m := range ms {
				b.ReportMetric(m.v, m.unit)
			}
			b.ReportMetric(float64(st.EfSearch), "ef")
			b.ReportMetric(st.Recall, "calibrated")
			b.ReportMetric(build.Seconds(), "build-s")
		})
	}
}

// measureRecall returns the mean recall@k of Search against SearchExact
// over qs, and the mean time of a Search.
func measureRecall(x *vector.Index, qs [][]float32, k int) (float64, time.Duration) {
	var sum float64
	var took time.Duration
	for _, q := range qs {
		want := x.SearchExact(q, k, nil)
		t0 := time.Now()
		got := x.Search(q, k, nil)
		took += time.Since(t0)
		ids := map[string]bool{}
		for _, h := range want {
			ids[h.ID] = true
		}
		n := 0
		for _, h := range got {
			if ids[h.ID] {
				n++
			}
		}
		sum += float64(n) / float64(max(len(want), 1))
	}
	return sum / float64(len(qs)), took / time.Duration(len(qs))
}
