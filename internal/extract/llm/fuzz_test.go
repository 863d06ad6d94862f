package llm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidate: any answer, however hostile, yields an error or items that
// each point into the conversation within the caps; it never panics.
func FuzzValidate(f *testing.F) {
	f.Add(answer(goodEntities, goodFacts))
	f.Add(`{"entities":[{"name":"Berlin","type":"place","message":0}],"facts":null}`)
	f.Add(`{"entities":[{"name":"ß","type":"place","message":2}],"facts":[]}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, content string) {
		res, err := validate(content, conversation, 4, 4)
		if err != nil {
			return
		}
		for _, m := range res.Entities {
			text := conversation[m.Message].Text
			if m.Start < 0 || m.End > len(text) || text[m.Start:m.End] != m.Name || len(m.Name) > MaxNameLen {
				t.Fatalf("mention not grounded: %+v", m)
			}
		}
		for _, fc := range res.Facts {
			text := conversation[fc.Message].Text
			if text[fc.Start:fc.End] != fc.Sentence || !utf8.ValidString(fc.Subject) {
				t.Fatalf("fact not grounded: %+v", fc)
			}
			if (fc.Object == "") == (fc.Value == "") {
				t.Fatalf("fact must have exactly one of object and value: %+v", fc)
			}
			if fc.Object != "" && !strings.Contains(strings.ToLower(text), strings.ToLower(fc.Object)) {
				t.Fatalf("object not in message: %+v", fc)
			}
		}
	})
}
