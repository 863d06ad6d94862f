package password

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length bounds of a password, after NFKC normalisation. The floor counts
// characters (Unicode code points), as NIST SP 800-63B does, so a password
// in any script needs the same number of keystrokes; the ceiling counts
// bytes, because it bounds the work of hashing and the size of a request,
// and is far above any password a person types.
const (
	MinChars = 12
	MaxBytes = 1024
)

// Errors of Check. None of them quotes the password.
var (
	ErrTooShort    = errors.New("password: too short (at least 12 characters)")
	ErrTooLong     = errors.New("password: too long (at most 1024 bytes)")
	ErrInvalid     = errors.New("password: not valid UTF-8 text")
	ErrPredictable = errors.New("password: too common or predictable; choose another")
)

//go:embed common.txt
var commonText string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonText, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[Normalize(line)] = true
		}
	}
	return m
}()

// Check applies the policy to a new password: valid UTF-8 without control
// characters, MinChars..MaxBytes once normalised, and not predictable — not
// one of a small list of the most common passwords and base words, alone,
// repeated or wrapped in digits and punctuation ("Password2024!"); not a
// single repeated short unit ("abcabcabcabc") or a straight run
// ("abcdefghijkl", "987654321098"); not one of the context words (the
// account's email and name, the product's name) in the same ways. There are
// no composition rules (NIST SP 800-63B §3.1.1.2): length and the list do
// the work, and spaces and every script are welcome.
func Check(pw string, context ...string) error {
	if !utf8.ValidString(pw) {
		return ErrInvalid
	}
	n := Normalize(pw)
	if len(n) > MaxBytes {
		return ErrTooLong
	}
	for _, r := range n {
		// Tabs, newlines and other controls are typing accidents or
		// injection attempts, never part of a password a person re-types.
		if unicode.IsControl(r) {
			return ErrInvalid
		}
	}
	if utf8.RuneCountInString(n) < MinChars {
		return ErrTooShort
	}
	words := map[string]bool{}
	for _, c := range context {
		c = strings.ToLower(Normalize(c))
		words[c] = true
		// An email's local part and its dot- or dash-separated pieces.
		if at := strings.IndexByte(c, '@'); at > 0 {
			words[c[:at]] = true
		}
		for _, f := range strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if utf8.RuneCountInString(f) >= 4 {
				words[f] = true
			}
		}
	}
	if predictable(strings.ToLower(n), words) {
		return ErrPredictable
	}
	return nil
}

func known(s string, words map[string]bool) bool { return common[s] || words[s] }

// predictable: s (lower case) is a listed word, or one with filler around
// it, or a repeated unit, or a straight run.
func predictable(s string, words map[string]bool) bool {
	if known(s, words) {
		return true
	}
	core := strings.TrimFunc(s, filler)
	if core == "" {
		// Only digits and punctuation: predictable when patterned.
		return repeated(s, words) || run(s)
	}
	if known(core, words) || repeated(core, words) || run(core) {
		return true
	}
	// A listed word with a separator inside ("pass word", "pass-word").
	squeezed := strings.Map(func(r rune) rune {
		if filler(r) {
			return -1
		}
		return r
	}, core)
	return known(squeezed, words)
}

// filler is what people wrap around a weak word to pass composition
// rules: digits, punctuation, symbols, spaces.
func filler(r rune) bool {
	return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
}

// repeated: s is one unit written at least twice, where the unit is short
// (at most 3 characters) or itself known.
func repeated(s string, words map[string]bool) bool {
	rs := []rune(s)
	for size := 1; size <= len(rs)/2; size++ {
		if len(rs)%size != 0 {
			continue
		}
		unit := string(rs[:size])
		if strings.Repeat(unit, len(rs)/size) == s && (size <= 3 || known(unit, words) || run(unit)) {
			return true
		}
	}
	return false
}

// run: every character is the previous one plus (or minus) one, digits
// wrapping around (…8901…).
func run(s string) bool {
	rs := []rune(s)
	if len(rs) < 4 {
		return false
	}
	for _, step := range []int{1, -1} {
		ok := true
		for i := 1; i < len(rs) && ok; i++ {
			a, b := rs[i-1], rs[i]
			next := a + rune(step)
			if unicode.IsDigit(a) && a >= '0' && a <= '9' {
				next = '0' + (a-'0'+rune(step)+10)%10
			}
			ok = b == next
		}
		if ok {
			return true
		}
	}
	return false
}
