package extract_test

import (
	"testing"

	"github.com/engram-memory/engram/internal/extract"
)

// TestFirstPersonIsTheSpeaker: "I" and "my" in a human turn are the speaker, by name when the message has one.
func TestFirstPersonIsTheSpeaker(t *testing.T) {
	for _, c := range []struct {
		role, name, subject string
	}{
		{"user", "Alice", "Alice"},
		{"user", "", extract.SpeakerSubject},
		{"User", "Alice", "Alice"},
		{"human", "Alice", "Alice"},
		{"", "", extract.SpeakerSubject}, // a bare message is the user's
	} {
		res, err := extract.Extract(extract.Message{Role: c.role, Name: c.name, Text: "I moved to Berlin. My sister Anna lives in Vienna.", Time: ref})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range res.Facts {
			got[f.Predicate] = f.Subject + ">" + f.Object
			if !f.Resolved {
				t.Errorf("role %q name %q: %s unresolved", c.role, c.name, f.Predicate)
			}
		}
		want := map[string]string{"lives_in": "", "has_sibling": c.subject + ">Anna"}
		if got["has_sibling"] != want["has_sibling"] || len(res.Facts) != 3 {
			t.Errorf("role %q name %q: got %+v", c.role, c.name, res.Facts)
		}
		if f := res.Facts[0]; f.Subject != c.subject || f.Predicate != "lives_in" || f.Object != "Berlin" {
			t.Errorf("role %q name %q: first fact %+v, want %s lives_in Berlin", c.role, c.name, f, c.subject)
		}
	}
}

// TestAssistantStatementsAreNotTheUsers: what an assistant, a system prompt or a tool says in the first person
// describes itself; none of it may become a fact about the user, by name or as SpeakerSubject, and a pronoun in
// such a turn does not resolve to the human speaker.
func TestAssistantStatementsAreNotTheUsers(t *testing.T) {
	for _, role := range []string{"assistant", "Assistant", "system", "tool", "model", "ai", "developer"} {
		msgs := []extract.Message{
			{Role: "user", Name: "Alice", Text: "Hi there!", Time: ref},
			{Role: role, Name: "Max", Text: "I moved to Berlin last year. My wife Sarah works at Google. I'm allergic to cats. I no longer live in Rome.", Time: ref},
			{Role: role, Text: "I love jazz and I'm a vegan.", Time: ref},
		}
		res, err := extract.ExtractConversation(msgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Facts {
			if f.Subject == "Alice" || f.Subject == extract.SpeakerSubject || f.Subject == "Max" {
				t.Errorf("role %q: fact attributed to a speaker: %+v", role, f)
			}
		}
		// Sarah is named, so what the sentence says of her stands on its own.
		if len(res.Facts) != 1 || res.Facts[0].Subject != "Sarah" || res.Facts[0].Predicate != "works_at" {
			t.Errorf("role %q: want only Sarah works_at Google, got %+v", role, res.Facts)
		}
	}
}

// TestPronounInAssistantTurn: an assistant speaks to the user as "you", so "she" in its turn is someone else;
// with no one else in view the fact keeps the pronoun, unresolved, rather than land on the user.
func TestPronounInAssistantTurn(t *testing.T) {
	res, err := extract.ExtractConversation([]extract.Message{
		{Role: "user", Name: "Alice", Text: "I had a long day.", Time: ref},
		{Role: "assistant", Text: "She lives in Oslo.", Time: ref},
		{Role: "user", Name: "Alice", Text: "I met Laura today.", Time: ref},
		{Role: "assistant", Text: "She works at Google.", Time: ref},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Facts) != 2 {
		t.Fatalf("want two facts, got %+v", res.Facts)
	}
	if f := res.Facts[0]; f.Subject != "She" || f.Resolved {
		t.Errorf("first: want unresolved She, got %+v", f)
	}
	if f := res.Facts[1]; f.Subject != "Laura" || !f.Resolved {
		t.Errorf("second: want Laura, got %+v", f)
	}
}

// TestAssistantNameIsNotAPerson: a named assistant is not someone "he" can mean in the user's turn.
func TestAssistantNameIsNotAPerson(t *testing.T) {
	res, err := extract.ExtractConversation([]extract.Message{
		{Role: "assistant", Name: "Max", Text: "Hello, how can I help?", Time: ref},
		{Role: "user", Name: "Alice", Text: "He lives in Oslo.", Time: ref},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Facts) != 1 || res.Facts[0].Subject != "He" || res.Facts[0].Resolved {
		t.Fatalf("want unresolved He, got %+v", res.Facts)
	}
}
