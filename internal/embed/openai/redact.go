package openai

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// window is the shortest stretch of an input text that redact finds
	// inside a longer quote; whole texts shorter than that (but at least
	// minText bytes) are found as they are.
	window  = 12
	minText = 4
	// scanLimit bounds the part of a server message that is examined;
	// anything after it is dropped.
	scanLimit = 8 << 10
	redacted  = "[redacted]"
)

// redact removes from a server's error message what must never reach an
// error string or a log: the API key (whole, or as a server echoes it,
// truncated or masked like "sk-ab****wxyz") and the input texts (whole, or
// any stretch of at least 12 bytes of one, as validation errors quote
// them). It keeps the rest, cut to maxMessage characters, on one line.
func redact(msg, key string, texts []string) string {
	if msg == "" {
		return ""
	}
	cut := false
	if len(msg) > scanLimit {
		msg, cut = msg[:scanLimit], true
	}
	mark := make([]bool, len(msg))
	markRange := func(i, j int) {
		for k := i; k < j; k++ {
			mark[k] = true
		}
	}
	markAll := func(s string) {
		if s == "" {
			return
		}
		for off := 0; ; {
			i := strings.Index(msg[off:], s)
			if i < 0 {
				return
			}
			markRange(off+i, off+i+len(s))
			off += i + 1
		}
	}

	// The key, whole, and any token that is a masked or cut copy of it.
	if key != "" {
		markAll(key)
		for i, tok := range tokens(msg) {
			t := msg[i : i+len(tok)]
			if strings.Contains(t, "**") || (len(t) >= 6 && strings.Contains(key, t)) {
				markRange(i, i+len(t))
			}
		}
	}

	// Input texts: every window-long stretch of msg found in a text, and
	// short texts whole.
	if len(msg) >= window {
		at := make(map[string][]int, len(msg))
		for i := 0; i+window <= len(msg); i++ {
			at[msg[i:i+window]] = append(at[msg[i:i+window]], i)
		}
		for _, t := range texts {
			for j := 0; j+window <= len(t); j++ {
				for _, i := range at[t[j:j+window]] {
					markRange(i, i+window)
				}
			}
		}
	}
	for _, t := range texts {
		if t = strings.TrimSpace(t); len(t) >= minText && len(t) < window {
			markAll(t)
		}
	}

	end := len(msg)
	if cut {
		// A text quoted across the cut is marked only up to the last
		// full window before it: drop what follows.
		end -= window
	}
	var b strings.Builder
	for i := 0; i < end; {
		if mark[i] {
			for i < len(mark) && (mark[i] || !utf8.RuneStart(msg[i])) {
				i++
			}
			b.WriteString(redacted)
			continue
		}
		r, n := utf8.DecodeRuneInString(msg[i:])
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			r = ' '
		}
		b.WriteRune(r)
		i += n
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	if cut || utf8.RuneCountInString(out) > maxMessage {
		runes := []rune(out)
		out = string(runes[:min(len(runes), maxMessage)]) + "…"
	}
	return out
}

// tokens maps the start of each token of msg to the token: runs of
// characters other than spaces, quotes and the punctuation that surrounds
// a quoted key.
func tokens(msg string) map[int]string {
	sep := func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`"'`+"`"+`,;:()[]{}<>`, r)
	}
	out := map[int]string{}
	start := -1
	for i, r := range msg + " " {
		if sep(r) {
			if start >= 0 {
				t := strings.TrimRight(msg[start:i], ".!?")
				if t != "" {
					out[start] = t
				}
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}
