package main_test

import (
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/browsertest"
)

// TestConsoleKnowledge: a conversation observed over REST (from the signed-in
// page, with its cookies; the offline extractor runs synchronously) shows on
// the Knowledge page as entities and an episode; an entity's facts show their
// validity; the episode shows the conversation and what extraction made of it;
// the owner forgets the entity and it is gone. No CSP violation.
func TestConsoleKnowledge(t *testing.T) {
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	p.Navigate(s.url + "/console/")
	signInOwner(p)

	status := browsertest.Eval[int](p, `fetch("/v1/observe", {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({user_id: "mira", messages: [{role: "user", name: "Mira",
    content: "I live in Lyon and I work at Renault.", timestamp: "2026-01-10T09:00:00Z"}]})}).then((r) => r.status)`)
	if status != 201 {
		t.Fatalf("POST /v1/observe from the page: %d, want 201 (synchronous extraction)", status)
	}

	// Later, Mira moves: lives_in is single-valued, so Lyon ends.
	status = browsertest.Eval[int](p, `fetch("/v1/observe", {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({user_id: "mira", messages: [{role: "user", name: "Mira",
    content: "I live in Paris.", timestamp: "2026-03-01T09:00:00Z"}]})}).then((r) => r.status)`)
	if status != 201 {
		t.Fatalf("the second POST /v1/observe: %d", status)
	}

	p.Click("#nav-knowledge")
	p.Type("#knowledge-user", "mira")
	p.Click("#knowledge-show")
	p.WaitText("#entity-list", "Lyon")
	p.WaitText("#episode-list", "done")
	// The graph: the current relations drawn, and said in words.
	p.WaitText("#relation-list", "Paris")
	if n := p.Count("#knowledge-graph line"); n < 1 {
		t.Errorf("the graph draws %d relations", n)
	}
	if rel := p.Text("#relation-list"); strings.Contains(rel, "Lyon") {
		t.Errorf("an ended fact is among the current relations: %q", rel)
	}
	p.Screenshot("knowledge")

	// Mira's facts: where she lives, from when, still true.
	p.ClickXPath(`//*[@id="entity-list"]/li[@data-name="Mira"]//button[contains(@class, "facts")]`)
	facts := p.WaitText("#entity-facts", "Lyon")
	p.WaitText("#entity-facts", "Paris")
	if !strings.Contains(facts, "valid from") || !strings.Contains(facts, "still true") {
		t.Errorf("the facts lack their validity: %q", facts)
	}
	if n := p.Count(`#entity-facts li[data-state="ended"]`); n != 1 {
		t.Errorf("%d ended facts, want 1 (Lyon, once Mira lives in Paris): %q", n, p.Text("#entity-facts"))
	}
	if !strings.Contains(p.Text("#entity-facts"), "valid until") {
		t.Errorf("the ended fact lacks its end: %q", p.Text("#entity-facts"))
	}
	p.Screenshot("knowledge-entity")

	p.ClickXPath(`//*[@id="episode-list"]/li[last()]//button[contains(@class, "view")]`)
	p.WaitText("#episode-messages", "I live in Lyon")
	p.WaitText("#episode-made", "entity Lyon")
	p.Screenshot("knowledge-episode")

	p.ClickXPath(`//*[@id="entity-list"]/li[@data-name="Lyon"]//button[contains(@class, "forget")]`)
	p.WaitText("#notice", "Lyon forgotten")
	p.WaitTrue("the entity is gone", `!document.querySelector('#entity-list li[data-name="Lyon"]')`)
	p.Screenshot("knowledge-forgotten")
}
