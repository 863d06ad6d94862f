package mcp

import (
	"fmt"
	"strconv"
	"strings"
)

// Entities and facts are as untrusted as memory text: their names and
// sentences come from conversations anyone could have written into. They
// are framed like memories (render.go): every name, alias, sentence and
// value in an escaped block, only ids, types, predicates, events and times
// in attributes written by this code.

func renderEpisode(o observeOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nEpisode %s: %s; %d memory(ies), %d entity(ies), %d fact(s).\n",
		notice, escape(o.EpisodeID), escape(o.Status), len(o.Memories), len(o.Entities), len(o.Facts))
	if o.Error != "" {
		b.WriteString("Extraction failed: " + escape(o.Error) + "\n")
	}
	if o.Status == "pending" {
		b.WriteString("Entities and facts will be extracted later; call search_facts or list_entities then.\n")
	}
	for _, m := range o.Memories {
		block(&b, "memory", []attr{{"id", m.ID}, {"event", m.Event}}, m.Memory)
	}
	for _, e := range o.Entities {
		block(&b, "entity", []attr{{"id", e.ID}, {"type", e.Type}, {"event", e.Event}}, e.Name)
	}
	for _, f := range o.Facts {
		block(&b, "fact", []attr{{"id", f.ID}, {"event", f.Event}}, f.Fact)
	}
	return b.String()
}

// writeFact writes one fact: the sentence, then its parts, each a block.
func writeFact(b *strings.Builder, f factOut) {
	a := []attr{{"id", f.ID}, {"predicate", f.Predicate}, {"subject_id", f.Subject.ID}}
	if f.Object != nil {
		a = append(a, attr{"object_id", f.Object.ID})
	}
	a = append(a, attr{"valid_at", f.ValidAt}, attr{"invalid_at", f.InvalidAt}, attr{"user_id", f.UserID})
	if f.Score != nil {
		a = append(a, attr{"score", strconv.FormatFloat(*f.Score, 'f', 4, 64)})
	}
	block(b, "fact", a, f.Fact)
	block(b, "subject", []attr{{"fact_id", f.ID}}, f.Subject.Name)
	if f.Object != nil {
		block(b, "object", []attr{{"fact_id", f.ID}}, f.Object.Name)
	}
	if f.Value != "" {
		block(b, "value", []attr{{"fact_id", f.ID}}, f.Value)
	}
}

// writeEntity writes an entity's name, aliases, notes and facts.
func writeEntity(b *strings.Builder, e entityOut) {
	block(b, "entity", []attr{{"id", e.ID}, {"type", e.Type}, {"mentions", strconv.FormatInt(e.Mentions, 10)},
		{"user_id", e.UserID}, {"created_at", e.CreatedAt}, {"updated_at", e.UpdatedAt}}, e.Name)
	for _, a := range e.Aliases {
		block(b, "alias", []attr{{"entity_id", e.ID}}, a)
	}
	for _, o := range e.Observations {
		block(b, "observation", []attr{{"entity_id", e.ID}}, o)
	}
	for _, f := range e.Facts {
		writeFact(b, f)
	}
}
