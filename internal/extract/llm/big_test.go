package llm

import (
	"strings"
	"testing"
)

// TestLargeAnswerBounded: a long answer of valid items is validated in
// one pass and capped per message.
func TestLargeAnswerBounded(t *testing.T) {
	items := make([]J, 0, 5000)
	for range 5000 {
		items = append(items, ent("Berlin", "place", 0))
	}
	content := answer(items, nil)
	res, err := validate(content, conversation, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entities) != 1 {
		t.Fatalf("entities %d", len(res.Entities))
	}
	if _, err := validate(strings.Repeat(" ", maxAnswerBytes+1), conversation, 32, 32); err != ErrMalformed {
		t.Fatalf("oversized answer: %v", err)
	}
}

// BenchmarkValidate measures checking a typical answer (3 entities, 5 facts).
func BenchmarkValidate(b *testing.B) {
	content := answer(goodEntities, goodFacts)
	for b.Loop() {
		if _, err := validate(content, conversation, 32, 32); err != nil {
			b.Fatal(err)
		}
	}
}
