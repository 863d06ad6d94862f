package bench_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/bench"
)

// TestEngineSystemObserve: ingest through Observe writes the same memories
// as ingest through Add (one per turn, the same text), so keyword search
// maps back to the same dia_ids in the same order; each session is one
// Observe call, split at engram.MaxMessages turns.
func TestEngineSystemObserve(t *testing.T) {
	day := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)
	conv := bench.Conversation{ID: "conv-x", SpeakerA: "Caroline", SpeakerB: "Melanie"}
	add := func(session int, speaker, text string) {
		n := 0
		for _, t := range conv.Turns {
			if t.Session == session {
				n++
			}
		}
		conv.Turns = append(conv.Turns, bench.Turn{DiaID: fmt.Sprintf("D%d:%d", session, n+1), Session: session, Speaker: speaker,
			Text: text, Time: day.AddDate(0, 0, 7*session).Add(time.Duration(n) * time.Second)})
	}
	add(1, "Caroline", "I went to the LGBTQ support group yesterday.")
	add(1, "Melanie", "That sounds lovely! I painted a sunrise at the lake.")
	add(2, "Caroline", "I am researching adoption agencies in Sweden.")
	for i := range engram.MaxMessages + 1 { // a session longer than one Observe call
		add(3, []string{"Melanie", "Caroline"}[i%2], fmt.Sprintf("Chatting about pottery, message %d.", i))
	}
	ctx := context.Background()
	ranked := map[bool][]string{}
	for _, observe := range []bool{false, true} {
		sys := &bench.EngineSystem{Engine: engineFor(t, false), Mode: engram.SearchBM25, Observe: observe}
		if err := sys.Ingest(ctx, conv); err != nil {
			t.Fatal(err)
		}
		got, err := sys.Search(ctx, conv.ID, "Where did Caroline research adoption agencies?", 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0] != "D2:1" {
			t.Fatalf("observe %v: ranked %v", observe, got)
		}
		ranked[observe] = got
		if lat := sys.ObserveLatency(); observe && (lat.N != 4 || lat.P50 <= 0) || !observe && lat.N != 0 {
			t.Errorf("observe %v: latency %+v, want 4 calls when observing", observe, lat)
		}
	}
	if !slices.Equal(ranked[false], ranked[true]) {
		t.Errorf("add ranked %v, observe %v", ranked[false], ranked[true])
	}
}
