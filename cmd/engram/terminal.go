package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// safeText makes stored text harmless to print to a terminal. Memory text
// is untrusted: an escape sequence in it (ESC [ …, the 8-bit CSI U+009B,
// OSC 8 links, a title change) would be run by the terminal, and bidi
// overrides reorder what the reader sees. Each such character is shown as
// a Go-style escape (\x1b, \u202e) instead; invalid UTF-8 as \xNN.
// Backslashes are left alone, so ordinary text reads as written. Only
// human output goes through here: --json output is the exact JSON.
func safeText(s string) string { return escapeControls(s, false) }

// safeBlock is safeText for text shown whole: newlines and tabs stay.
func safeBlock(s string) string { return escapeControls(s, true) }

func escapeControls(s string, keepLines bool) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || isBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || isBidi(r) {
			return true
		}
	}
	return false
}

// isBidi reports the invisible characters that change the direction of
// the text around them (the "Trojan Source" set).
func isBidi(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// oneLine is text for a table cell: whitespace runs (newlines and tabs
// included) become one space, terminal controls are escaped, and long text
// is cut at a character boundary.
func oneLine(s string) string {
	s = safeText(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) > 100 {
		s = string([]rune(s)[:97]) + "..."
	}
	return s
}
