package facts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

// BenchmarkResolve resolves a new value against a subject that already has
// 200 facts (50 of the same single-valued predicate), the engine's hot path
// for one extracted fact.
func BenchmarkResolve(b *testing.B) {
	base := day("2020-01-01")
	var fs []facts.Fact
	preds := []string{"lives_in", "likes", "plays", "visited"}
	for i := range 200 {
		v := base.Add(time.Duration(i) * 24 * time.Hour)
		f := facts.Fact{ID: fmt.Sprintf("f%d", i), Subject: "alice", Predicate: preds[i%4],
			Value: fmt.Sprintf("v%d", i), ValidAt: v, CreatedAt: v, Episodes: []string{"e"}}
		if i%4 == 0 && i < 196 {
			f.InvalidAt = ptr(v.Add(4 * 24 * time.Hour))
			f.ExpiredAt = ptr(v.Add(4 * 24 * time.Hour))
		}
		fs = append(fs, f)
	}
	o := facts.Observation{Fact: facts.Fact{ID: "new", Subject: "alice", Predicate: "lives_in", Value: "berlin",
		ValidAt: base.Add(300 * 24 * time.Hour), Episodes: []string{"e2"}}}
	now := base.Add(400 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := facts.Resolve(fs, o, now, true); err != nil {
			b.Fatal(err)
		}
	}
}
