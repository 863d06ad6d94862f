package engine

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
)

func TestCleanScopeID(t *testing.T) {
	nfc, nfd := "jos\u00e9", "jose\u0301"
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty", "", "", true},
		{"ascii", "alice", "alice", true},
		{"nfc kept", nfc, nfc, true},
		{"nfd normalised", nfd, nfc, true},
		{"hangul jamo composed", "\u1100\u1161", "\uac00", true},
		{"emoji", "user-\U0001F600", "user-\U0001F600", true},
		{"inner space", "ann lee", "ann lee", true},
		{"max length", strings.Repeat("a", engram.MaxScopeIDBytes), strings.Repeat("a", engram.MaxScopeIDBytes), true},
		{"too long", strings.Repeat("a", engram.MaxScopeIDBytes+1), "", false},
		{"invalid utf-8", "al\xffice", "", false},
		{"nul", "al\x00ice", "", false},
		{"newline", "alice\n", "", false},
		{"escape", "\x1b[31malice", "", false},
		{"c1 control", "al\u0085ice", "", false},
		{"leading space", " alice", "", false},
		{"trailing space", "alice ", "", false},
		{"lre", "\u202aalice", "", false},
		{"rlo", "al\u202eice", "", false},
		{"lri", "\u2066alice\u2069", "", false},
		{"lrm", "alice\u200e", "", false},
		{"rlm", "alice\u200f", "", false},
		{"arabic letter mark", "alice\u061c", "", false},
		{"zero width space", "ali\u200bce", "", false},
		{"zwnj", "ali\u200cce", "", false},
		{"zwj", "ali\u200dce", "", false},
		{"word joiner", "ali\u2060ce", "", false},
		{"bom", "\ufeffalice", "", false},
		{"soft hyphen (Cf)", "ali\u00adce", "", false},
		{"line separator", "ali\u2028ce", "", false},
		{"paragraph separator", "ali\u2029ce", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := cleanScopeID("user_id", c.in)
			if c.ok {
				if err != nil || got != c.want {
					t.Fatalf("cleanScopeID(%q) = %q, %v; want %q", c.in, got, err, c.want)
				}
				return
			}
			if engram.ErrorCode(err) != engram.CodeInvalid {
				t.Fatalf("cleanScopeID(%q) = %q, %v; want invalid", c.in, got, err)
			}
			msg := engram.ErrorMessage(err)
			if !strings.HasPrefix(msg, "user_id ") || (strings.TrimSpace(c.in) != "" && strings.Contains(msg, strings.TrimSpace(c.in))) {
				t.Fatalf("message %q must name the field and not echo the value", msg)
			}
		})
	}
}

func TestStoredForms(t *testing.T) {
	nfc, nfd := "jos\u00e9", "jose\u0301"
	for _, c := range []struct {
		raw  string
		want []string
	}{
		{"alice", []string{"alice"}},
		{nfc, []string{nfc, nfd}},
		{nfd, []string{nfc, nfd}},
	} {
		got := storedForms(c.raw, norm.NFC.String(c.raw))
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("storedForms(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// FuzzCleanScopeID: whatever comes in, an accepted id is valid UTF-8, in
// NFC, bounded, free of controls and invisible format characters, and a
// fixed point (cleaning it again changes nothing); and every canonically
// equivalent spelling cleans to the same id.
func FuzzCleanScopeID(f *testing.F) {
	for _, s := range []string{"", "alice", "jos\u00e9", "jose\u0301", "\u1100\u1161", " a", "a\u200b", "\xff", "\u212b", "e\u0301\u0327"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := cleanScopeID("user_id", s)
		if err != nil {
			if engram.ErrorCode(err) != engram.CodeInvalid {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if !utf8.ValidString(got) || !norm.NFC.IsNormalString(got) || len(got) > engram.MaxScopeIDBytes || strings.TrimSpace(got) != got {
			t.Fatalf("accepted %q as %q", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("accepted %q holding %U", s, r)
			}
		}
		if again, err := cleanScopeID("user_id", got); err != nil || again != got {
			t.Fatalf("not a fixed point: %q -> %q -> %q, %v", s, got, again, err)
		}
		if d, err := cleanScopeID("user_id", norm.NFD.String(s)); err == nil && d != got {
			t.Fatalf("NFD of %q cleans to %q, not %q", s, d, got)
		}
	})
}
