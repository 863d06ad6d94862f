package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// MinK is the fewest results a LoCoMo search may ask for (bench.md).
const MinK = 50

// System is what the LoCoMo benchmark measures: a memory store that
// ingests a conversation and answers questions about it.
type System interface {
	// Ingest writes every turn of conv, in order, as one memory each
	// (Turn.Content, Turn.Time, Turn.Metadata), into a scope or tenant of
	// its own: nothing of one conversation may be found from another.
	Ingest(ctx context.Context, conv Conversation) error
	// Search asks question within conversation conv only and returns the
	// dia_ids of up to k results, best first.
	Search(ctx context.Context, conv, question string, k int) ([]string, error)
}

// LoCoMoOptions select what RunLoCoMo asks.
type LoCoMoOptions struct {
	// Conversations restricts the run to these sample_ids; empty means
	// all.
	Conversations []string
	// Categories restricts the dataset's questions to these categories;
	// empty means DefaultCategories (1–4). Ignored with Questions.
	Categories []int
	// Questions replace the dataset's questions (a --questions file, see
	// LoadQuestions); results are then grouped by Kind. Conversations
	// still restricts them.
	Questions []Question
	// QuestionFaults are LoadQuestions' repairs of Questions, reported as
	// the result's data_faults in place of the dataset's question faults.
	QuestionFaults Faults
	// K is the number of results asked per search; 0 means MinK, and less
	// than MinK is an error.
	K int
	// Warmup is the number of searches run, untimed and unscored, before
	// the measured ones.
	Warmup int
	// Unrelated also asks every question in the next conversation of
	// those ingested (in dataset order, the last one's in the first's),
	// where nothing is about it, and reports the share that come back
	// empty (LoCoMoResult.UnrelatedEmpty). Needs two conversations.
	Unrelated bool
}

// Metrics are macro-averages over questions (each question weighs the
// same) and search latency percentiles in milliseconds.
type Metrics struct {
	Questions   int     `json:"questions"`
	RecallAt5   float64 `json:"recall_at_5"`
	RecallAt10  float64 `json:"recall_at_10"`
	HitAt10     float64 `json:"hit_at_10"`
	MRR         float64 `json:"mrr"`
	NDCGAt10    float64 `json:"ndcg_at_10"`
	SearchP50Ms float64 `json:"search_p50_ms"`
	SearchP95Ms float64 `json:"search_p95_ms"`
	SearchP99Ms float64 `json:"search_p99_ms"`
}

// LoCoMoResult is what `engram bench locomo --json` prints: the fields of
// contract.md ("questions" … "search_p99_ms" overall, "ingest_per_s",
// "by_category") and a few more that say what was run.
type LoCoMoResult struct {
	Metrics
	// IngestPerS is turns ingested per second of wall clock spent in
	// System.Ingest.
	IngestPerS float64 `json:"ingest_per_s"`
	// ByCategory holds the same metrics per category name ("multi-hop",
	// ...) or, for a question file, per kind.
	ByCategory map[string]Metrics `json:"by_category"`

	// Mode is the ranking measured ("hybrid", "bm25", "vector"); set by
	// the caller.
	Mode string `json:"mode,omitempty"`
	// Conversations are the sample_ids ingested and asked, in dataset
	// order.
	Conversations []string `json:"conversations"`
	Turns         int      `json:"turns"`
	K             int      `json:"k"`
	// UnrelatedEmpty is the share of questions asked in another
	// conversation that got no result (LoCoMoOptions.Unrelated), and
	// UnrelatedAsked how many were asked (0: not measured).
	UnrelatedEmpty float64 `json:"unrelated_empty,omitempty"`
	UnrelatedAsked int     `json:"unrelated_asked,omitempty"`

	// Ingest is how turns were written ("add" or "observe"); set by the
	// caller. ObserveLatency is, for observe, each Observe call's time
	// divided by the turns it carried (nil otherwise).
	Ingest         string   `json:"ingest,omitempty"`
	ObserveLatency *Latency `json:"observe_latency_per_turn,omitempty"`

	// DataFaults are the loader's repairs: Dataset.Faults, or with a
	// question file the dataset's orphan date keys and the file's
	// evidence repairs (LoCoMoOptions.QuestionFaults).
	DataFaults Faults `json:"data_faults"`

	// PerQuestion holds each question's ranking and scores, in the order
	// asked (not printed).
	PerQuestion []QuestionResult `json:"-"`
}

// QuestionResult is one question's outcome.
type QuestionResult struct {
	Question Question
	// Ranked are the dia_ids returned, repeats removed, at most K.
	Ranked  []string
	Scores  Scores
	Latency time.Duration
}

// RunLoCoMo runs the benchmark of bench.md: it ingests each selected
// conversation that has a question to ask through sys (timed for
// ingest_per_s), runs opts.Warmup untimed searches, then asks every
// selected question in its own conversation, timing each Search call, and
// scores the rankings. It fails on an unknown conversation, a K below
// MinK, an empty selection, or the first error of sys (wrapped), and
// stops when ctx ends.
func RunLoCoMo(ctx context.Context, ds *Dataset, sys System, opts LoCoMoOptions) (*LoCoMoResult, error) {
	k := opts.K
	if k == 0 {
		k = MinK
	}
	if k < MinK {
		return nil, fmt.Errorf("locomo: k must be at least %d, got %d", MinK, k)
	}
	convs := map[string]bool{}
	for _, id := range opts.Conversations {
		if _, ok := ds.byID[id]; !ok {
			return nil, fmt.Errorf("locomo: unknown conversation %q", id)
		}
		convs[id] = true
	}
	inConvs := func(id string) bool { return len(convs) == 0 || convs[id] }

	var questions []Question
	if opts.Questions != nil {
		for _, q := range opts.Questions {
			if _, ok := ds.byID[q.Conversation]; !ok {
				return nil, fmt.Errorf("locomo: question about unknown conversation %q", q.Conversation)
			}
			if inConvs(q.Conversation) && len(q.Evidence) > 0 {
				questions = append(questions, q)
			}
		}
	} else {
		cats := opts.Categories
		if len(cats) == 0 {
			cats = DefaultCategories
		}
		for _, q := range ds.Questions {
			if inConvs(q.Conversation) && slices.Contains(cats, q.Category) {
				questions = append(questions, q)
			}
		}
	}
	if len(questions) == 0 {
		return nil, errors.New("locomo: no question selected")
	}

	res := &LoCoMoResult{ByCategory: map[string]Metrics{}, K: k, DataFaults: ds.Faults}
	if opts.Questions != nil {
		res.DataFaults = opts.QuestionFaults
		res.DataFaults.OrphanDateKeys = ds.Faults.OrphanDateKeys
	}
	asked := map[string]bool{}
	for _, q := range questions {
		asked[q.Conversation] = true
	}
	var ingest time.Duration
	for i := range ds.Conversations {
		c := &ds.Conversations[i]
		if !asked[c.ID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("locomo: %w", err)
		}
		t0 := time.Now()
		if err := sys.Ingest(ctx, *c); err != nil {
			return nil, fmt.Errorf("locomo: ingest %s: %w", c.ID, err)
		}
		ingest += time.Since(t0)
		res.Conversations = append(res.Conversations, c.ID)
		res.Turns += len(c.Turns)
	}
	if ingest > 0 {
		res.IngestPerS = float64(res.Turns) / ingest.Seconds()
	}

	for i := range max(opts.Warmup, 0) {
		q := questions[i%len(questions)]
		if _, err := sys.Search(ctx, q.Conversation, q.Question, k); err != nil {
			return nil, fmt.Errorf("locomo: warm-up search in %s: %w", q.Conversation, err)
		}
	}

	res.PerQuestion = make([]QuestionResult, 0, len(questions))
	for i, q := range questions {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("locomo: %w", err)
		}
		t0 := time.Now()
		ranked, err := sys.Search(ctx, q.Conversation, q.Question, k)
		lat := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("locomo: search %d in %s: %w", i, q.Conversation, err)
		}
		ranked = dedupe(ranked, k)
		res.PerQuestion = append(res.PerQuestion, QuestionResult{
			Question: q, Ranked: ranked, Scores: Score(q.Evidence, ranked), Latency: lat,
		})
	}

	if opts.Unrelated && len(res.Conversations) > 1 {
		next := map[string]string{}
		for i, c := range res.Conversations {
			next[c] = res.Conversations[(i+1)%len(res.Conversations)]
		}
		empty := 0
		for _, q := range questions {
			got, err := sys.Search(ctx, next[q.Conversation], q.Question, k)
			if err != nil {
				return nil, fmt.Errorf("locomo: unrelated search in %s: %w", next[q.Conversation], err)
			}
			if len(got) == 0 {
				empty++
			}
		}
		res.UnrelatedAsked = len(questions)
		res.UnrelatedEmpty = float64(empty) / float64(len(questions))
	}

	res.Metrics = aggregate(res.PerQuestion)
	groups := map[string][]QuestionResult{}
	for _, r := range res.PerQuestion {
		groups[r.Question.Kind] = append(groups[r.Question.Kind], r)
	}
	for kind, rs := range groups {
		res.ByCategory[kind] = aggregate(rs)
	}
	return res, nil
}

// dedupe keeps the first occurrence of each id, and at most k ids.
func dedupe(ids []string, k int) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, min(len(ids), k))
	for _, id := range ids {
		if len(out) == k {
			break
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func aggregate(rs []QuestionResult) Metrics {
	m := Metrics{Questions: len(rs)}
	if len(rs) == 0 {
		return m
	}
	lats := make([]time.Duration, len(rs))
	for i, r := range rs {
		m.RecallAt5 += r.Scores.RecallAt5
		m.RecallAt10 += r.Scores.RecallAt10
		m.HitAt10 += r.Scores.HitAt10
		m.MRR += r.Scores.MRR
		m.NDCGAt10 += r.Scores.NDCGAt10
		lats[i] = r.Latency
	}
	n := float64(len(rs))
	m.RecallAt5 /= n
	m.RecallAt10 /= n
	m.HitAt10 /= n
	m.MRR /= n
	m.NDCGAt10 /= n
	l := Summarise(lats)
	m.SearchP50Ms, m.SearchP95Ms, m.SearchP99Ms = l.P50, l.P95, l.P99
	return m
}

// CategoryOrder lists the keys of r.ByCategory for display: LoCoMo's
// categories in their numeric order, then other kinds alphabetically.
func (r *LoCoMoResult) CategoryOrder() []string {
	var known, other []string
	for c := 1; c <= Adversarial; c++ {
		if _, ok := r.ByCategory[CategoryName(c)]; ok {
			known = append(known, CategoryName(c))
		}
	}
	for k := range r.ByCategory {
		if !slices.Contains(known, k) {
			other = append(other, k)
		}
	}
	slices.Sort(other)
	return append(known, other...)
}

// WriteTable prints r for people: one row per category and an overall
// row, then the ingest rate and the data repairs.
func (r *LoCoMoResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "category\tquestions\tR@5\tR@10\tHit@10\tMRR\tNDCG@10\tp50 ms\tp95 ms\tp99 ms\t")
	row := func(name string, m Metrics) {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t\n", name, m.Questions,
			m.RecallAt5, m.RecallAt10, m.HitAt10, m.MRR, m.NDCGAt10, m.SearchP50Ms, m.SearchP95Ms, m.SearchP99Ms)
	}
	for _, name := range r.CategoryOrder() {
		row(name, r.ByCategory[name])
	}
	row("overall", r.Metrics)
	if err := tw.Flush(); err != nil {
		return err
	}
	mode := ""
	if r.Mode != "" {
		mode = ", mode " + r.Mode
	}
	if _, err := fmt.Fprintf(w, "\n%d turns in %d conversations (%s) ingested at %.1f turns/s; k %d%s\ndata repairs: %s\n",
		r.Turns, len(r.Conversations), strings.Join(r.Conversations, ", "), r.IngestPerS, r.K, mode, r.DataFaults); err != nil {
		return err
	}
	if r.ObserveLatency != nil {
		l := r.ObserveLatency
		if _, err := fmt.Fprintf(w, "ingest through observe: %d calls, per turn p50 %.2f ms  p95 %.2f ms\n", l.N, l.P50, l.P95); err != nil {
			return err
		}
	}
	if r.UnrelatedAsked > 0 {
		_, err := fmt.Fprintf(w, "unrelated: %d questions asked in another conversation, %.3f came back empty\n", r.UnrelatedAsked, r.UnrelatedEmpty)
		return err
	}
	return nil
}
