package extract

import (
	"sort"
	"strings"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/jdkato/prose/v3"
)

// discourse is what a conversation has said so far that later sentences may refer to.
type discourse struct {
	persons []personRef
}

type personRef struct {
	norm, name string
	gender     byte // 'f', 'm', or 0 when the name does not say
	msg, pos   int  // where it was last mentioned
	speaker    bool // the name of a human turn's speaker
}

func (d *discourse) see(name string, msg, pos int, speaker bool) {
	norm := entity.Normalise(name)
	for k, p := range d.persons {
		if p.norm == norm {
			d.persons[k].msg, d.persons[k].pos = msg, pos
			d.persons[k].speaker = d.persons[k].speaker || speaker
			return
		}
	}
	first := strings.ToLower(strings.Fields(norm + " x")[0])
	var g byte
	switch {
	case femaleNames[first]:
		g = 'f'
	case maleNames[first]:
		g = 'm'
	}
	d.persons = append(d.persons, personRef{norm: norm, name: name, gender: g, msg: msg, pos: pos, speaker: speaker})
}

// resolve returns the one person a pronoun in message m can mean, or false when none or several can: a wrong
// subject is worse than none, so ambiguity is never guessed away. The speaker is never "he" or "she" in their
// own turn, and a program's turn addresses the human speakers as "you", so its "she" is never one of them.
func (d *discourse) resolve(pronoun string, m Message, msg, pos int) (string, bool) {
	want := byte('f')
	if pronoun == "he" {
		want = 'm'
	}
	self, human := "", Human(m.Role)
	if m.Name != "" {
		self = entity.Normalise(m.Name)
	}
	var found []string
	for _, p := range d.persons {
		if p.norm == self || (p.speaker && !human) || (p.msg == msg && p.pos >= pos) || (p.gender != 0 && p.gender != want) {
			continue
		}
		found = append(found, p.name)
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

type ranked struct {
	Mention
	prio int
}

// Mention sources, weakest first: a later, stronger source relabels a span.
const (
	fromCaps = iota
	fromNER
	fromGazetteer
	fromFact
)

func extractMessage(d *discourse, mi int, m Message, res *Result) {
	if strings.TrimSpace(m.Text) == "" {
		return
	}
	if m.Name != "" && Human(m.Role) {
		d.see(m.Name, mi-1, 0, true) // a named speaker can be "she" to the others; a named assistant is no one's "he"
	}
	doc, err := prose.NewDocument(m.Text)
	if err != nil {
		return
	}
	tags := map[int]string{}
	for _, t := range doc.Tokens() {
		tags[t.Start] = t.Tag
	}
	var ments []ranked
	ents := doc.Entities() // in text order, like the sentences: each sentence takes its own slice
	for _, s := range doc.Sentences() {
		start := s.Start
		end := start + len(s.Text)
		if start < 0 || end > len(m.Text) || start >= end {
			continue
		}
		ts := tokenize(m.Text, start, end)
		for k := range ts {
			ts[k].tag = tags[ts[k].start]
		}
		for len(ents) > 0 && ents[0].Start < start {
			ents = ents[1:]
		}
		n := 0
		for n < len(ents) && ents[n].Start < end {
			n++
		}
		sm := sentenceMentions(m.Text, ts, ents[:n], mi, start, end)
		for _, x := range sm {
			// A name only prose typed might be a person it called a place ("Jake" → GPE): it counts
			// against resolving a pronoun, so that no pronoun is resolved by mistake.
			if x.Type == Person || (x.prio <= fromNER && x.Type != Organisation && x.Type != Product) {
				d.see(x.Name, mi, x.Start, false)
			}
		}
		ments = append(ments, sm...)
		sx := &sentenceCtx{d: d, msg: m, mi: mi, text: m.Text, ts: ts, start: start, end: end, ner: sm}
		sx.facts()
		for _, x := range sx.ments {
			if x.Type == Person {
				d.see(x.Name, mi, x.Start, false)
			}
		}
		ments = append(ments, sx.ments...)
		res.Facts = append(res.Facts, sx.out...)
	}
	res.Entities = append(res.Entities, mergeMentions(ments)...)
}

// sentenceMentions finds names from prose's recogniser, the gazetteer and capitalised runs.
func sentenceMentions(text string, ts []tok, ents []prose.Entity, mi, start, end int) []ranked {
	var out []ranked
	add := func(a, b int, t EntityType, prio int) {
		name := text[a:b]
		out = append(out, ranked{Mention{Name: name, Norm: entity.Normalise(name), Type: t, Message: mi, Start: a, End: b}, prio})
	}
	for _, e := range ents {
		a, b := e.Start, e.Start+len(e.Text)
		if a < start || b > end {
			continue
		}
		// Drop leading words that are never names ("Yesterday Anna" → "Anna").
		for _, f := range strings.Fields(e.Text) {
			if lf := strings.ToLower(strings.ReplaceAll(f, "’", "'")); !notNames[lf] && contractions[lf] == nil {
				break
			}
			a += strings.Index(text[a:b], f) + len(f)
			for a < b && text[a] == ' ' {
				a++
			}
		}
		if a >= b {
			continue
		}
		if g, ok := gazetteer[entity.Normalise(text[a:b])]; ok {
			add(a, b, g, fromGazetteer)
			continue
		}
		if languages[entity.Normalise(text[a:b])] {
			continue
		}
		add(a, b, typeOfNER(e.Label), fromNER)
	}
	for i := 0; i < len(ts); {
		if !ts[i].cap || ts[i].punct || notNames[ts[i].low] {
			i++
			continue
		}
		j := capRun(ts, i)
		a, b := ts[i].start, ts[j-1].end
		norm := entity.Normalise(text[a:b])
		switch g, ok := gazetteer[norm]; {
		case languages[norm]:
		case ok:
			add(a, b, g, fromGazetteer)
		case femaleNames[norm] || maleNames[norm]:
			add(a, b, Person, fromGazetteer) // prose often calls a lone first name GPE
		case i > 0 && strings.HasPrefix(ts[j-1].tag, "NN"):
			add(a, b, Other, fromCaps)
		}
		i = j
	}
	return out
}

// mergeMentions keeps, for overlapping spans, the one from the strongest source (then the longest).
func mergeMentions(ms []ranked) []Mention {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].prio != ms[j].prio {
			return ms[i].prio > ms[j].prio
		}
		return ms[i].End-ms[i].Start > ms[j].End-ms[j].Start
	})
	var kept []ranked
	for _, m := range ms {
		overlap := false
		for _, k := range kept {
			if k.Message == m.Message && m.Start < k.End && k.Start < m.End {
				overlap = true
				break
			}
		}
		if !overlap {
			kept = append(kept, m)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].Message != kept[j].Message {
			return kept[i].Message < kept[j].Message
		}
		return kept[i].Start < kept[j].Start
	})
	out := make([]Mention, len(kept))
	for i, k := range kept {
		out[i] = k.Mention
	}
	return out
}
