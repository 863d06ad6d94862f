package engine

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// scored is one signal's opinion of a memory.
type scored struct {
	ID    string
	Score float64
}

// Fusion: a convex combination of the keyword and the semantic scores,
// each scaled to [0, 1] within its own candidate list — BM25 divided by the
// best BM25 score, cosine mapped so the list's best is 1 and its last is 0
// (USE-lite's cosines crowd into a narrow band, so their raw values say
// little; their spread within the candidates says how much better the top
// is). Unlike rank-only fusion, a memory that one signal rates far above
// the rest keeps that margin. Then one round of pseudo-relevance feedback
// on the semantic side: the query's embedding moves towards the embeddings
// of the best fused memories and the vector index is searched again, which
// finds paraphrases of what the first round found by keyword.
//
// The constants were chosen on LoCoMo's tuning half only (conv-26, -30,
// -41, -42, -43; docs/BENCHMARKS.md), never on the report half, and from
// the middle of a plateau rather than at its best point.
const (
	weightBM25   = 0.55
	weightVector = 1 - weightBM25
	// weightTime scales the time signal (in [0, 1]) against fused scores,
	// which are at most 1.
	weightTime = 0.2
	// candidates is how many hits each signal contributes before fusion.
	candidates = 100
	// feedbackDocs is how many of the best fused memories the query's
	// embedding moves towards, and feedbackWeight how far: the new query
	// is q + feedbackWeight · mean(their vectors), re-normalised.
	feedbackDocs   = 2
	feedbackWeight = 0.5
)

// candidate is a memory with every signal's part.
type candidate struct {
	id      string
	explain engram.Explain
}

// fuse merges keyword and semantic hits (each best first) into candidates
// whose Fused score is weightBM25 · bm25/max(bm25) + weightVector ·
// (cos − cos_last)/(cos_first − cos_last); a semantic list whose scores are
// all equal gives each of its memories the full weight.
func fuse(bm25, vec []scored) []*candidate {
	byID := map[string]*candidate{}
	get := func(id string) *candidate {
		c, ok := byID[id]
		if !ok {
			c = &candidate{id: id}
			byID[id] = c
		}
		return c
	}
	if len(bm25) > 0 && bm25[0].Score > 0 {
		top := bm25[0].Score
		for i, h := range bm25 {
			c := get(h.ID)
			c.explain.BM25, c.explain.BM25Rank = h.Score, i+1
			c.explain.Fused += weightBM25 * h.Score / top
		}
	}
	if len(vec) > 0 {
		top, last := vec[0].Score, vec[len(vec)-1].Score
		for i, h := range vec {
			c := get(h.ID)
			c.explain.Vector, c.explain.VectorRank = h.Score, i+1
			part := 1.0
			if top > last {
				part = (h.Score - last) / (top - last)
			}
			c.explain.Fused += weightVector * part
		}
	}
	out := make([]*candidate, 0, len(byID))
	for _, c := range byID {
		out = append(out, c)
	}
	return out
}

// timeCue is what a query says about time: a period it names, or that it
// wants the most recent.
type timeCue struct {
	from, to time.Time // a named period [from, to)
	recent   bool
}

func (t timeCue) none() bool { return t.from.IsZero() && !t.recent }

var (
	monthNames   = `(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`
	dayMonthYear = regexp.MustCompile(`\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?` + monthNames + `,?\s+(\d{4})\b`)
	monthDayYear = regexp.MustCompile(`\b` + monthNames + `\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
	monthYear    = regexp.MustCompile(`\b` + monthNames + `,?\s+(\d{4})\b`)
	isoDate      = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})\b`)
	yearOnly     = regexp.MustCompile(`\b(?:in|during|of|since)\s+((?:19|20)\d{2})\b`)
	recentWords  = regexp.MustCompile(`\b(latest|most recent(?:ly)?|recently|currently|nowadays|these days|last time)\b`)
)

// withoutDates removes the dates and recency words parseTimeCue reads from
// a query: they are matched against the memories' times, never their text,
// so they must not count as words that no memory holds (relevance.go).
func withoutDates(q string) string {
	q = strings.ToLower(q)
	for _, re := range []*regexp.Regexp{isoDate, dayMonthYear, monthDayYear, monthYear, recentWords} {
		q = re.ReplaceAllString(q, " ")
	}
	return yearOnly.ReplaceAllStringFunc(q, func(m string) string { return strings.Fields(m)[0] })
}

func month(s string) time.Month {
	s = strings.ToLower(s)
	for m := time.January; m <= time.December; m++ {
		if strings.HasPrefix(strings.ToLower(m.String()), s[:3]) {
			return m
		}
	}
	return 0
}

// parseTimeCue finds the first date a query names (day, month or year) and
// whether it asks for the latest state of things.
func parseTimeCue(q string) timeCue {
	q = strings.ToLower(q)
	cue := timeCue{recent: recentWords.MatchString(q)}
	day := func(y, m, d int) {
		if m < 1 || m > 12 || d < 1 || d > 31 {
			return
		}
		cue.from = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		cue.to = cue.from.AddDate(0, 0, 1)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch {
	case isoDate.MatchString(q):
		m := isoDate.FindStringSubmatch(q)
		day(atoi(m[1]), atoi(m[2]), atoi(m[3]))
	case dayMonthYear.MatchString(q):
		m := dayMonthYear.FindStringSubmatch(q)
		day(atoi(m[3]), int(month(m[2])), atoi(m[1]))
	case monthDayYear.MatchString(q):
		m := monthDayYear.FindStringSubmatch(q)
		day(atoi(m[3]), int(month(m[1])), atoi(m[2]))
	case monthYear.MatchString(q):
		m := monthYear.FindStringSubmatch(q)
		cue.from = time.Date(atoi(m[2]), month(m[1]), 1, 0, 0, 0, 0, time.UTC)
		cue.to = cue.from.AddDate(0, 1, 0)
	case yearOnly.MatchString(q):
		m := yearOnly.FindStringSubmatch(q)
		cue.from = time.Date(atoi(m[1]), 1, 1, 0, 0, 0, 0, time.UTC)
		cue.to = cue.from.AddDate(1, 0, 0)
	}
	return cue
}

// timeScore is how well a memory's time fits the cue, in [0, 1]: 1 inside
// the named period, decaying with the distance outside it (half a period's
// length per e-fold, at least a week); for "latest" questions, the
// memory's position between the oldest and newest candidate.
func (t timeCue) score(created, oldest, newest time.Time) float64 {
	var s float64
	if !t.from.IsZero() {
		span := math.Max(t.to.Sub(t.from).Hours()/2, 7*24)
		switch {
		case created.Before(t.from):
			s = math.Exp(-t.from.Sub(created).Hours() / span)
		case !created.Before(t.to):
			s = math.Exp(-created.Sub(t.to).Hours() / span)
		default:
			s = 1
		}
	}
	if t.recent && newest.After(oldest) {
		s = math.Max(s, created.Sub(oldest).Hours()/newest.Sub(oldest).Hours())
	}
	return s
}

// rank sorts candidates by fused score, best first; ties go to the newer
// memory (ids are time-ordered).
func rank(cs []*candidate) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].explain.Fused != cs[j].explain.Fused {
			return cs[i].explain.Fused > cs[j].explain.Fused
		}
		return cs[i].id > cs[j].id
	})
}
