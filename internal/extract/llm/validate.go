package llm

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
)

// pronouns may stand as an unresolved subject, as the built-in extractor leaves them.
var pronouns = map[string]bool{"he": true, "she": true, "they": true, "him": true, "her": true, "them": true}

// validate turns the model's answer into a Result. The envelope must be the
// schema's object (else ErrMalformed); each item is checked on its own and
// dropped when it breaks a rule, so one bad item costs only itself.
func validate(content string, msgs []extract.Message, maxEntities, maxFacts int) (extract.Result, error) {
	if len(content) > maxAnswerBytes || !utf8.ValidString(content) {
		return extract.Result{}, ErrMalformed
	}
	var env struct {
		Entities []json.RawMessage `json:"entities"`
		Facts    []json.RawMessage `json:"facts"`
	}
	if err := strictDecode([]byte(content), &env); err != nil {
		return extract.Result{}, ErrMalformed
	}
	res := extract.Result{Entities: []extract.Mention{}, Facts: []extract.Fact{}}
	perMsg := make([]int, len(msgs))
	seen := map[string]bool{}
	for _, raw := range env.Entities {
		var w wireEntity
		if strictDecode(raw, &w) != nil {
			continue
		}
		m, ok := checkEntity(w, msgs)
		if !ok || perMsg[m.Message] >= maxEntities {
			continue
		}
		key := strconv.Itoa(m.Message) + "\x00" + m.Norm
		if seen[key] {
			continue
		}
		seen[key] = true
		perMsg[m.Message]++
		res.Entities = append(res.Entities, m)
	}
	clear(perMsg)
	for _, raw := range env.Facts {
		var w wireFact
		if strictDecode(raw, &w) != nil {
			continue
		}
		f, ok := checkFact(w, msgs)
		if !ok || perMsg[f.Message] >= maxFacts {
			continue
		}
		key := strings.Join([]string{strconv.Itoa(f.Message), entity.Normalise(f.Subject), f.Predicate,
			entity.Normalise(f.Object), strings.ToLower(f.Value), boolStr(f.Negated)}, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		perMsg[f.Message]++
		res.Facts = append(res.Facts, f)
	}
	// Text order, as the built-in extractor returns.
	slices.SortStableFunc(res.Entities, func(a, b extract.Mention) int {
		return cmp.Or(cmp.Compare(a.Message, b.Message), cmp.Compare(a.Start, b.Start))
	})
	slices.SortStableFunc(res.Facts, func(a, b extract.Fact) int {
		return cmp.Or(cmp.Compare(a.Message, b.Message), cmp.Compare(a.Start, b.Start))
	})
	return res, nil
}

// strictDecode decodes one JSON value with no unknown fields and nothing after it.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return ErrMalformed
	}
	return nil
}

func checkEntity(w wireEntity, msgs []extract.Message) (extract.Mention, bool) {
	if w.Message < 0 || w.Message >= len(msgs) || !validType(w.Type) {
		return extract.Mention{}, false
	}
	name, ok := cleanField(w.Name, MaxNameLen)
	if !ok {
		return extract.Mention{}, false
	}
	text := msgs[w.Message].Text
	start := findFold(text, name)
	if start < 0 {
		return extract.Mention{}, false // not in the message: invented, or smuggled in
	}
	written := text[start : start+len(name)]
	return extract.Mention{Name: written, Norm: entity.Normalise(written), Type: extract.EntityType(w.Type),
		Message: w.Message, Start: start, End: start + len(name)}, true
}

func checkFact(w wireFact, msgs []extract.Message) (extract.Fact, bool) {
	if w.Message < 0 || w.Message >= len(msgs) || !validType(w.SubjectType) {
		return extract.Fact{}, false
	}
	if !extract.IsPredicate(w.Predicate) {
		return extract.Fact{}, false
	}
	msg := msgs[w.Message]
	sentence, ok := cleanField(w.Sentence, MaxSentenceLen)
	if !ok {
		return extract.Fact{}, false
	}
	start := strings.Index(msg.Text, sentence)
	if start < 0 {
		return extract.Fact{}, false // the fact must cite its message verbatim
	}
	f := extract.Fact{Predicate: w.Predicate, SubjectType: extract.EntityType(w.SubjectType), Negated: w.Negated,
		Sentence: sentence, Message: w.Message, Start: start, End: start + len(sentence)}

	subject, ok := cleanField(w.Subject, MaxNameLen)
	switch {
	case !ok:
		return extract.Fact{}, false
	case subject == extract.SpeakerSubject:
		if !extract.Human(msg.Role) {
			return extract.Fact{}, false // the assistant's "I" is not the user
		}
		f.Subject, f.Resolved = subject, true
		if msg.Name != "" {
			f.Subject = msg.Name
		}
	case pronouns[strings.ToLower(subject)] && findFold(sentence, subject) >= 0:
		f.Subject, f.Resolved = strings.ToLower(subject), false
	default:
		written, ok := grounded(subject, msgs[:w.Message+1])
		if !ok || !extract.Human(msg.Role) && humanSpeaker(written, msgs) {
			return extract.Fact{}, false // nor is it the user under the user's name
		}
		f.Subject, f.Resolved = written, true
	}

	object, okObj := cleanField(w.Object, MaxNameLen)
	value, okVal := cleanField(w.Value, MaxValueLen)
	switch {
	case okObj && w.Value == "":
		if !validType(w.ObjectType) {
			return extract.Fact{}, false
		}
		i := findFold(msg.Text, object)
		if i < 0 {
			return extract.Fact{}, false
		}
		f.Object, f.ObjectType = msg.Text[i:i+len(object)], extract.EntityType(w.ObjectType)
	case okVal && w.Object == "":
		i := findFold(msg.Text, value)
		if i < 0 {
			return extract.Fact{}, false
		}
		f.Value = msg.Text[i : i+len(value)]
	default:
		return extract.Fact{}, false // neither, both, or too long
	}

	if w.ValidAt != "" && len(w.ValidAt) <= 40 {
		if t, err := time.Parse(time.RFC3339, w.ValidAt); err == nil {
			f.ValidAt = &t
		}
	}
	return f, true
}

// cleanField trims s and accepts it when non-empty, within max bytes and free
// of control characters (a newline in a name is a sign of smuggled text).
func cleanField(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > max {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", false
		}
	}
	return s, true
}

// grounded finds name in the messages' texts or speaker names and returns it as written there.
func grounded(name string, msgs []extract.Message) (string, bool) {
	for _, m := range msgs {
		if strings.EqualFold(m.Name, name) {
			return m.Name, true
		}
		if i := findFold(m.Text, name); i >= 0 {
			return m.Text[i : i+len(name)], true
		}
	}
	return "", false
}

// humanSpeaker reports whether name is the name of a human turn's speaker: a program's turn speaks to them as
// "you", so a fact it states with them as subject is its own "I" relabelled, or a guess.
func humanSpeaker(name string, msgs []extract.Message) bool {
	key := entity.Normalise(name)
	for _, m := range msgs {
		if m.Name != "" && extract.Human(m.Role) && entity.Normalise(m.Name) == key {
			return true
		}
	}
	return false
}

// findFold is the byte offset of the first case-insensitive occurrence of sub
// in s that starts and ends at word boundaries ("Ber" is not in "Berlin"), or
// -1. Only same-length matches count, so the offsets index s.
func findFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if (s[i:i+len(sub)] == sub || strings.EqualFold(s[i:i+len(sub)], sub)) && boundary(s, i, i+len(sub)) {
			return i
		}
	}
	return -1
}

// boundary says whether s[i:j] is not glued to a letter or digit on either side.
func boundary(s string, i, j int) bool {
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	first, _ := utf8.DecodeRuneInString(s[i:])
	last, _ := utf8.DecodeLastRuneInString(s[:j])
	if before, _ := utf8.DecodeLastRuneInString(s[:i]); i > 0 && word(before) && word(first) {
		return false
	}
	if after, _ := utf8.DecodeRuneInString(s[j:]); j < len(s) && word(after) && word(last) {
		return false
	}
	return true
}

func validType(t string) bool { return slices.Contains(entityTypes, t) }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
