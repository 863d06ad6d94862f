package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/password"
)

func TestCheckAccepts(t *testing.T) {
	for _, pw := range []string{
		"tangerine elephant umbrella",
		"correct horse battery stapler", // not the famous one exactly
		"xkq3-vv9p-2mzt",
		"日本語のパスワードです", // 11 characters? see below: 11 runes is too short
		"Überraschungsei!",
		strings.Repeat("n", 1) + "ot repeated at all",
		strings.Repeat("é", 12) + "x",
	} {
		err := password.Check(pw)
		if pw == "日本語のパスワードです" {
			// 11 code points: refused for length, whatever its bytes.
			if !errors.Is(err, password.ErrTooShort) {
				t.Errorf("Check(%q) = %v, want ErrTooShort (11 characters, 33 bytes)", pw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Check(%q) = %v, want nil", pw, err)
		}
	}
	if err := password.Check("日本語のパスワードですよ"); err != nil {
		t.Errorf("12 CJK characters refused: %v", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		pw      string
		ctx     []string
		want    error
		because string
	}{
		{"short", nil, password.ErrTooShort, "5 characters"},
		{"elevenchars", nil, password.ErrTooShort, "11 characters"},
		{"\uff41\uff42\uff43\uff44\uff45\uff46\uff47\uff48\uff49\uff4a\uff4b", nil, password.ErrTooShort, "full-width letters normalise; still 11"},
		{strings.Repeat("ab9", 342) + "x", nil, password.ErrTooLong, "1027 bytes"},
		{strings.Repeat("é", 513), nil, password.ErrTooLong, "513 runes, 1026 bytes"},
		{"valid start \xff\xfe invalid", nil, password.ErrInvalid, "invalid UTF-8"},
		{"tab\tinside the password", nil, password.ErrInvalid, "control character"},
		{"password1234", nil, password.ErrPredictable, "listed word with digits"},
		{"Password2024!", nil, password.ErrPredictable, "case and filler do not help"},
		{"!!!P@ssw0rd!!!", nil, password.ErrPredictable, "leet spelling is listed"},
		{"123456789012", nil, password.ErrPredictable, "listed"},
		{"000000000000", nil, password.ErrPredictable, "repeated"},
		{"abcabcabcabc", nil, password.ErrPredictable, "short unit repeated"},
		{"passwordpassword", nil, password.ErrPredictable, "listed unit repeated"},
		{"abcdefghijklmn", nil, password.ErrPredictable, "a straight run"},
		{"987654321098", nil, password.ErrPredictable, "a falling run with wrap"},
		{"34567890123456", nil, password.ErrPredictable, "a rising run with wrap"},
		{"qwertyuiop12", nil, password.ErrPredictable, "keyboard walk"},
		{"iloveyou!!!!", nil, password.ErrPredictable, "listed word with filler"},
		{"a b c d e f g h", nil, password.ErrPredictable, "a run with spaces"},
		{"pass word 2024", nil, password.ErrPredictable, "separator inside a listed word"},
		{"EngramEngram", nil, password.ErrPredictable, "the product's name repeated"},
		{"correct horse battery staple", nil, password.ErrPredictable, "the famous example"},
		{"alice.liddell1865", []string{"alice.liddell@example.org"}, password.ErrPredictable, "email local part with digits"},
		{"wonderland2024!", []string{"alice@example.org", "Wonderland"}, password.ErrPredictable, "context word (name)"},
		{"liddellliddell", []string{"alice.liddell@example.org"}, password.ErrPredictable, "context piece repeated"},
	}
	for _, c := range cases {
		if err := password.Check(c.pw, c.ctx...); !errors.Is(err, c.want) {
			t.Errorf("Check(%q) = %v, want %v (%s)", c.pw, err, c.want, c.because)
		}
	}
}

func TestCheckErrorsNeverQuoteThePassword(t *testing.T) {
	for _, pw := range []string{"shortpw", "password123456", "tab\tsecretsecret"} {
		if err := password.Check(pw); err == nil || strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Check(%q) = %v", pw, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	// NFKC: decomposed and precomposed, ligatures, full-width forms.
	pairs := [][2]string{
		{"e\u0301", "é"},
		{"\ufb01", "fi"},
		{"\uff11\uff12", "12"},
		{"Å", "Å"}, // angstrom sign to letter
	}
	for _, p := range pairs {
		if got := password.Normalize(p[0]); got != p[1] {
			t.Errorf("Normalize(%q) = %q, want %q", p[0], got, p[1])
		}
	}
}
