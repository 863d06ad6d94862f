package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
)

// observeMix is a conversation of the kind Observe is for: personal
// statements with places, organisations, dates and negations.
var observeMix = []string{
	"I moved to Berlin last month and started at Globex as a product manager.",
	"My sister Emma lives in Lisbon; she adopted a dog called Biscuit.",
	"I no longer play the cello, but I took up climbing in March.",
	"We visited Kyoto with Tom in 2019 and loved the temples.",
	"I'm allergic to peanuts and I have been vegetarian since January.",
	"Can you remind me what we said about the budget review on Friday?",
	"My manager Sarah Connor reports to the CTO at Globex.",
	"I speak Portuguese and a little Japanese.",
}

// BenchmarkObserve measures POST /v1/observe's engine path with the
// built-in extractor, one message per call (the per-message latency the
// docs quote): turns stored as memories, extraction, resolution, facts.
func BenchmarkObserve(b *testing.B) {
	e, ctx := newEngine(b, false)
	t0 := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i) * time.Hour)
		start := time.Now()
		_, err := e.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%4)},
			Messages: []engram.ObserveMessage{{Role: "user", Name: "Alice", Content: observeMix[i%len(observeMix)], Timestamp: &at}}})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
