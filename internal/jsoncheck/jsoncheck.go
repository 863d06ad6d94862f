// Package jsoncheck refuses JSON texts that encoding/json would accept
// only by changing them. A JSON text must be UTF-8 (RFC 8259 §8.1), and a
// \u escape must name a character; encoding/json (and every decoder built
// on it: huma, the MCP SDK) silently turns an invalid byte or a lone
// UTF-16 surrogate escape into U+FFFD, so a client's text would be stored
// other than it was sent. Check runs on the raw body before any decoder.
package jsoncheck

import (
	"errors"
	"unicode/utf8"
)

// Errors are safe to show to clients: they never quote the input.
var (
	ErrUTF8      = errors.New("body is not valid UTF-8")
	ErrSurrogate = errors.New(`body holds a lone UTF-16 surrogate escape (\ud800 to \udfff without its pair), which is not a character`)
)

// Check reports whether b is valid UTF-8 without lone surrogate escapes in
// its strings. It does not check the JSON syntax (the decoder does); a
// malformed escape is left for the decoder to report.
func Check(b []byte) error {
	if !utf8.Valid(b) {
		return ErrUTF8
	}
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			i++
			if i >= len(b) || b[i] != 'u' {
				continue // a one-character escape, or a truncated text
			}
			r, ok := hex4(b, i+1)
			if !ok {
				continue
			}
			i += 4 // i is on the escape's last digit
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return ErrSurrogate // a low half with no high half before it
			case r >= 0xD800 && r <= 0xDBFF:
				if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return ErrSurrogate
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return ErrSurrogate
				}
				i += 6
			}
		}
	}
	return nil
}

// hex4 parses the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
