package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/bench"
)

// scripted is a System that answers from a table: question → dia_ids.
type scripted struct {
	answers  map[string][]string
	ingested []string
	turns    map[string]int
	searches []string // "conv|question|k"
	slow     int      // the first slow searches sleep 20 ms
	failOn   string
}

func (s *scripted) Ingest(_ context.Context, conv bench.Conversation) error {
	s.ingested = append(s.ingested, conv.ID)
	if s.turns == nil {
		s.turns = map[string]int{}
	}
	s.turns[conv.ID] = len(conv.Turns)
	return nil
}

func (s *scripted) Search(_ context.Context, conv, question string, k int) ([]string, error) {
	s.searches = append(s.searches, conv+"|"+question+"|"+strconv.Itoa(k))
	if len(s.searches) <= s.slow {
		time.Sleep(20 * time.Millisecond)
	}
	if question == s.failOn {
		return nil, errors.New("index unavailable")
	}
	return s.answers[question], nil
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRunLoCoMoScoring(t *testing.T) {
	ds := loadFaults(t)
	sys := &scripted{answers: map[string][]string{
		"q split semicolon":        {"D1:1", "D2:1"},                     // multi-hop: all 1
		"q duplicate":              {"D2:2", "D1:1"},                     // multi-hop: R 1, MRR .5
		"q split comma":            {"D1:2"},                             // temporal: R .5, MRR 1
		"q leading zero":           {"x", "x", "D10:5"},                  // temporal: repeat removed → rank 2
		"q split spaces":           {},                                   // open-domain: 0
		"q extra colon":            {"D10:5"},                            // single-hop: 1
		"q dropped ids":            {"D2:1"},                             // single-hop: 0
		"What is Cy's cat called?": {"D1:2", "D1:1"},                     // single-hop: MRR .5
		"q numeric answer":         {"D10:1", "D10:3", "D10:4", "D10:2"}, // temporal: rank 4
		"q adversarial":            {"D2:2"},                             // category 5: not asked
	}}
	res, err := bench.RunLoCoMo(context.Background(), ds, sys, bench.LoCoMoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Questions != 9 || res.K != 50 {
		t.Fatalf("questions %d, k %d", res.Questions, res.K)
	}
	if !slices.Equal(sys.ingested, []string{"conv-a", "conv-b"}) || !slices.Equal(res.Conversations, sys.ingested) || res.Turns != 11 {
		t.Fatalf("ingested %v, result %v, %d turns", sys.ingested, res.Conversations, res.Turns)
	}
	if res.IngestPerS <= 0 {
		t.Fatalf("ingest_per_s %v", res.IngestPerS)
	}
	for _, s := range sys.searches {
		if !strings.HasSuffix(s, "|50") || strings.Contains(s, "q adversarial") {
			t.Fatalf("search %q", s)
		}
	}
	if !slices.Contains(sys.searches, "conv-b|What is Cy's cat called?|50") {
		t.Fatalf("conv-b question not asked in conv-b: %v", sys.searches)
	}

	// Per question R@10 / MRR, by category:
	//   multi-hop:   1, 1           / 1, .5
	//   temporal:    .5, 1, 1       / 1, .5, .25
	//   open-domain: 0              / 0
	//   single-hop:  1, 0, 1        / 1, 0, .5
	want := map[string][2]float64{
		"multi-hop":   {1, 0.75},
		"temporal":    {2.5 / 3, 1.75 / 3},
		"open-domain": {0, 0},
		"single-hop":  {2.0 / 3, 0.5},
	}
	if got := slices.Sorted(maps.Keys(res.ByCategory)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("categories %v", got)
	}
	for name, w := range want {
		m := res.ByCategory[name]
		if !near(m.RecallAt10, w[0]) || !near(m.MRR, w[1]) {
			t.Errorf("%s: R@10 %v MRR %v, want %v", name, m.RecallAt10, m.MRR, w)
		}
	}
	// Overall is the macro-average over questions, not over categories.
	if !near(res.RecallAt10, (2+2.5+0+2)/9) || !near(res.MRR, (1.5+1.75+0+1.5)/9) {
		t.Fatalf("overall R@10 %v MRR %v", res.RecallAt10, res.MRR)
	}
	if !near(res.HitAt10, 7.0/9) || res.ByCategory["temporal"].Questions != 3 {
		t.Fatalf("Hit@10 %v", res.HitAt10)
	}
	// The per-question record keeps the cleaned ranking.
	for _, r := range res.PerQuestion {
		if r.Question.Question == "q leading zero" && !slices.Equal(r.Ranked, []string{"x", "D10:5"}) {
			t.Fatalf("ranked %v", r.Ranked)
		}
	}
}

func TestRunLoCoMoSelection(t *testing.T) {
	ds := loadFaults(t)
	ctx := context.Background()

	sys := &scripted{}
	res, err := bench.RunLoCoMo(ctx, ds, sys, bench.LoCoMoOptions{Conversations: []string{"conv-b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sys.ingested, []string{"conv-b"}) || res.Questions != 1 || res.Turns != 2 {
		t.Fatalf("conv-b only: ingested %v, %d questions", sys.ingested, res.Questions)
	}

	sys = &scripted{}
	res, err = bench.RunLoCoMo(ctx, ds, sys, bench.LoCoMoOptions{Categories: []int{2, 5}, K: 80})
	if err != nil {
		t.Fatal(err)
	}
	if res.Questions != 4 || len(res.ByCategory) != 2 || res.ByCategory["adversarial"].Questions != 1 || !strings.HasSuffix(sys.searches[0], "|80") {
		t.Fatalf("categories 2,5: %+v", res)
	}
	if !slices.Equal(sys.ingested, []string{"conv-a"}) {
		t.Fatalf("ingested %v: conv-b has no question of these categories", sys.ingested)
	}

	// A question file replaces the dataset's questions; groups by kind.
	qs, qf, err := bench.LoadQuestions("testdata/locomo/questions.json", ds)
	if err != nil {
		t.Fatal(err)
	}
	sys = &scripted{answers: map[string][]string{"Who greeted the world?": {"D1:1"}}}
	res, err = bench.RunLoCoMo(ctx, ds, sys, bench.LoCoMoOptions{Questions: qs, QuestionFaults: qf, Categories: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Questions != 4 || res.ByCategory["paraphrase"].Questions != 2 || !near(res.ByCategory["paraphrase"].RecallAt10, 0.5) ||
		res.ByCategory["unspecified"].Questions != 1 || res.ByCategory["temporal"].Questions != 1 {
		t.Fatalf("question file: %+v", res.ByCategory)
	}
	if res.DataFaults.SkippedQuestions != 1 || res.DataFaults.OrphanDateKeys != 2 {
		t.Fatalf("data faults %+v", res.DataFaults)
	}
	if got := res.CategoryOrder(); !slices.Equal(got, []string{"temporal", "paraphrase", "unspecified"}) {
		t.Fatalf("order %v", got)
	}

	for name, opts := range map[string]bench.LoCoMoOptions{
		"k below 50":                               {K: 10},
		"unknown conversation":                     {Conversations: []string{"conv-z"}},
		"nothing selected":                         {Categories: []int{9}},
		"file question about unknown conversation": {Questions: []bench.Question{{Conversation: "conv-z", Question: "q", Evidence: []string{"D1:1"}}}},
	} {
		if _, err := bench.RunLoCoMo(ctx, ds, &scripted{}, opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRunLoCoMoWarmupAndLatency(t *testing.T) {
	ds := loadFaults(t)
	sys := &scripted{slow: 3}
	res, err := bench.RunLoCoMo(context.Background(), ds, sys, bench.LoCoMoOptions{Warmup: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.searches) != res.Questions+3 {
		t.Fatalf("%d searches for %d questions and 3 warm-ups", len(sys.searches), res.Questions)
	}
	// The three slow (20 ms) searches were the warm-up: none is measured.
	if res.SearchP99Ms >= 20 || res.SearchP50Ms > res.SearchP95Ms || res.SearchP95Ms > res.SearchP99Ms {
		t.Fatalf("latency p50 %v p95 %v p99 %v", res.SearchP50Ms, res.SearchP95Ms, res.SearchP99Ms)
	}
	var lat []time.Duration
	for _, r := range res.PerQuestion {
		lat = append(lat, r.Latency)
	}
	if l := bench.Summarise(lat); l.P50 != res.SearchP50Ms || l.P99 != res.SearchP99Ms {
		t.Fatalf("summary %+v vs %+v", l, res.Metrics)
	}

	// Without warm-up the slow searches are measured.
	sys = &scripted{slow: 1}
	res, err = bench.RunLoCoMo(context.Background(), ds, sys, bench.LoCoMoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SearchP99Ms < 20 {
		t.Fatalf("p99 %v ms missed the slow first search", res.SearchP99Ms)
	}
}

func TestRunLoCoMoErrors(t *testing.T) {
	ds := loadFaults(t)
	_, err := bench.RunLoCoMo(context.Background(), ds, &scripted{failOn: "q extra colon"}, bench.LoCoMoOptions{})
	if err == nil || !strings.Contains(err.Error(), "index unavailable") || !strings.Contains(err.Error(), "conv-a") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bench.RunLoCoMo(ctx, ds, &scripted{}, bench.LoCoMoOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestLoCoMoResultJSON(t *testing.T) {
	ds := loadFaults(t)
	res, err := bench.RunLoCoMo(context.Background(), ds, &scripted{}, bench.LoCoMoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res.Mode = "bm25"
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	metrics := []string{"questions", "recall_at_5", "recall_at_10", "hit_at_10", "mrr", "ndcg_at_10",
		"search_p50_ms", "search_p95_ms", "search_p99_ms"}
	for _, k := range append(slices.Clone(metrics), "ingest_per_s", "by_category") {
		if _, ok := got[k]; !ok {
			t.Errorf("contract field %q missing from %s", k, b)
		}
	}
	var byCat map[string]map[string]json.Number
	if err := json.Unmarshal(got["by_category"], &byCat); err != nil {
		t.Fatal(err)
	}
	if len(byCat) != 4 {
		t.Fatalf("by_category %v", byCat)
	}
	for name, m := range byCat {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(metrics))) {
			t.Errorf("by_category[%s] fields %v", name, got)
		}
	}
	var n int
	if err := json.Unmarshal(got["questions"], &n); err != nil || n != 9 {
		t.Fatalf("questions %s", got["questions"])
	}
	if string(got["mode"]) != `"bm25"` {
		t.Fatalf("mode %s", got["mode"])
	}
	if _, ok := got["PerQuestion"]; ok {
		t.Fatal("per-question detail printed")
	}
}

func TestWriteTable(t *testing.T) {
	ds := loadFaults(t)
	res, err := bench.RunLoCoMo(context.Background(), ds, &scripted{answers: map[string][]string{"q extra colon": {"D10:5"}}}, bench.LoCoMoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[0], "R@10") || !strings.Contains(lines[1], "multi-hop") || !strings.Contains(lines[4], "single-hop") ||
		!strings.Contains(lines[5], "overall") || !strings.Contains(out, "orphan date keys ignored 2") || !strings.Contains(out, "conv-a, conv-b") {
		t.Fatalf("table:\n%s", out)
	}
}

// locomoPath is the published dataset, kept outside the repository
// (licence CC BY-NC 4.0). CI always has it.
const locomoPath = "../../../shared/bench/locomo10.json"

// TestRunLoCoMoUnrelated: with Unrelated, every question is asked again in
// the other conversation and the share of empty answers is reported.
func TestRunLoCoMoUnrelated(t *testing.T) {
	ds := loadFaults(t)
	sys := &scripted{answers: map[string][]string{"q duplicate": {"D2:2"}, "q split comma": {"D1:2"}}}
	res, err := bench.RunLoCoMo(context.Background(), ds, sys, bench.LoCoMoOptions{Unrelated: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.UnrelatedAsked != res.Questions || len(sys.searches) != 2*res.Questions {
		t.Fatalf("asked %d unrelated of %d questions, %d searches", res.UnrelatedAsked, res.Questions, len(sys.searches))
	}
	own := map[string]string{}
	for _, s := range sys.searches[:res.Questions] {
		f := strings.Split(s, "|")
		own[f[1]] = f[0]
	}
	for _, s := range sys.searches[res.Questions:] {
		if f := strings.Split(s, "|"); own[f[1]] == f[0] {
			t.Fatalf("unrelated search %q in the question's own conversation", s)
		}
	}
	if want := float64(res.Questions-2) / float64(res.Questions); !near(res.UnrelatedEmpty, want) {
		t.Fatalf("unrelated empty %v, want %v", res.UnrelatedEmpty, want)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil || !strings.Contains(b.String(), "came back empty") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}
