package apikey_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"hash/crc32"
	"log/slog"
	mrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/engram-memory/engram/internal/auth/apikey"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shape is the pattern a secret scanner would use.
var shape = regexp.MustCompile(`^egm_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$`)

// withChecksum appends the checksum to body, computed independently of the
// package: CRC-32 (IEEE), 6 base62 digits, most significant first.
func withChecksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = alphabet[v%62]
		v /= 62
	}
	return body + string(d[:])
}

// counting is the reader 0, 1, 2, ... (mod 256).
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func TestGenerateDeterministic(t *testing.T) {
	// Golden: the key format is a wire format; changing it breaks every
	// issued key and every scanner rule.
	const want = "egm_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh" + "42Lxmi"
	tok, s, err := apikey.Generate(&counting{})
	if err != nil {
		t.Fatal(err)
	}
	if s != want || tok.String() != want {
		t.Errorf("Generate = %q, %q; want %q", s, tok.String(), want)
	}
	if s != withChecksum(want[:len(want)-6]) {
		t.Errorf("checksum of %q disagrees with the independent computation %q", s, withChecksum(want[:len(want)-6]))
	}
	if tok.ID != "0123456789AB" || tok.Secret != "CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh" {
		t.Errorf("Generate token = %+v", tok)
	}
	if tok.Prefix() != "egm_0123456789AB" {
		t.Errorf("Prefix = %q", tok.Prefix())
	}

	// Two generators fed the same stream agree.
	a, _, _ := apikey.Generate(mrand.NewChaCha8([32]byte{1}))
	b, _, _ := apikey.Generate(mrand.NewChaCha8([32]byte{1}))
	c, _, _ := apikey.Generate(mrand.NewChaCha8([32]byte{2}))
	if a != b || a == c {
		t.Errorf("same seed: %v, %v; other seed: %v", a, b, c)
	}
}

func TestGenerateRejectsBiasedBytes(t *testing.T) {
	// Bytes 248..255 would favour the first 8 characters if reduced mod
	// 62: they are skipped, even a whole block of them.
	stream := bytes.Repeat([]byte{248, 249, 250, 251, 252, 253, 254, 255}, 8)
	block := []byte{248, 0, 255, 1, 61, 62, 247, 100}
	stream = append(stream, block...)
	stream = append(stream, make([]byte, 64-len(block))...)
	tok, _, err := apikey.Generate(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	// 0 1 61 62 247 100 -> "01z0zc", then zeros.
	if want := "01z0zc000000"; tok.ID != want {
		t.Errorf("ID = %q, want %q", tok.ID, want)
	}
}

func TestGenerateReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, _, err := apikey.Generate(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("failing reader: err = %v, want wrapping %v", err, boom)
	}
	if _, _, err := apikey.Generate(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("short reader: no error")
	}
	// All bytes rejected until the stream ends.
	if _, _, err := apikey.Generate(bytes.NewReader(bytes.Repeat([]byte{255}, 1000))); err == nil {
		t.Error("reader of rejected bytes: no error")
	}
}

func TestGenerateUniform(t *testing.T) {
	const draws = 10_000
	r := mrand.NewChaCha8([32]byte{42})
	var counts [256]int
	seen := map[string]bool{}
	for range draws {
		tok, s, err := apikey.Generate(r)
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(s) {
			t.Fatalf("%q does not have the key shape", s)
		}
		if seen[tok.ID] {
			t.Fatalf("id %q drawn twice", tok.ID)
		}
		seen[tok.ID] = true
		for _, c := range []byte(tok.ID + tok.Secret) {
			counts[c]++
		}
	}
	// 440,000 characters: about 7,097 each, sd about 84. A bias from
	// reducing bytes mod 62 would give the first 8 characters 25% more.
	expected := float64(draws*(apikey.IDLen+apikey.SecretLen)) / 62
	for i := range len(alphabet) {
		c := alphabet[i]
		if counts[c] == 0 {
			t.Errorf("character %q never drawn", c)
		}
		if d := float64(counts[c]) - expected; d > 0.05*expected || d < -0.05*expected {
			t.Errorf("character %q drawn %d times, expected about %.0f", c, counts[c], expected)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for range 100 {
		tok, s, err := apikey.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != apikey.Len || !shape.MatchString(s) {
			t.Fatalf("%q: wrong shape", s)
		}
		got, err := apikey.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got != tok || got.String() != s || !strings.HasPrefix(s, got.Prefix()+"_") {
			t.Fatalf("Parse(%q) = %+v, want %+v", s, got, tok)
		}
	}
}

func TestParseRejects(t *testing.T) {
	_, key, err := apikey.Generate(&counting{})
	if err != nil {
		t.Fatal(err)
	}
	body := key[:len(key)-6]
	id, secret := key[4:16], key[17:49]
	tests := []struct{ name, s string }{
		{"empty", ""},
		{"prefix only", "egm_"},
		{"body without checksum", body},
		{"short", key[:len(key)-1]},
		{"long", key + "0"},
		{"long with valid checksum", withChecksum(body + "0")},
		{"upper-case prefix", withChecksum("EGM_" + id + "_" + secret)},
		{"other prefix", withChecksum("egn_" + id + "_" + secret)},
		{"missing prefix", withChecksum("egm" + id + "_" + secret + "0")},
		{"wrong separator", withChecksum("egm_" + id + "-" + secret)},
		{"separator moved", withChecksum("egm_" + id[:11] + "_" + id[11:] + secret)},
		{"bad char in id", withChecksum("egm_" + id[:5] + "-" + id[6:] + "_" + secret)},
		{"bad char in secret", withChecksum("egm_" + id + "_" + secret[:31] + "+")},
		{"underscore in secret", withChecksum("egm_" + id + "_" + secret[:31] + "_")},
		{"bad char in checksum", key[:len(key)-1] + "/"},
		{"non-ASCII of the same length", withChecksum("egm_" + id[:10] + "é" + "_" + secret)},
		{"NUL", withChecksum("egm_" + id + "_" + secret[:31] + "\x00")},
		{"leading space", " " + key[:len(key)-1]},
		{"trailing newline", key + "\n"},
		{"checksum of another key", body + "000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := apikey.Parse(tt.s)
			if !errors.Is(err, apikey.ErrMalformed) || err != apikey.ErrMalformed {
				t.Errorf("Parse(%q) = %+v, %v; want ErrMalformed", tt.s, tok, err)
			}
			if tok != (apikey.Token{}) {
				t.Errorf("Parse(%q) returned a token with its error: %+v", tt.s, tok)
			}
		})
	}
}

// The checksum catches every single-character typo and every swap of two
// neighbouring characters, anywhere in the key.
func TestParseRejectsTypos(t *testing.T) {
	_, key, err := apikey.Generate(mrand.NewChaCha8([32]byte{7}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(key); i++ {
		for c := 0; c < 128; c++ {
			if byte(c) == key[i] {
				continue
			}
			typo := key[:i] + string(rune(c)) + key[i+1:]
			if _, err := apikey.Parse(typo); err == nil {
				t.Errorf("typo at %d accepted: %q", i, typo)
			}
		}
		if i+1 < len(key) && key[i] != key[i+1] {
			swap := key[:i] + string(key[i+1]) + string(key[i]) + key[i+2:]
			if _, err := apikey.Parse(swap); err == nil {
				t.Errorf("swap at %d accepted: %q", i, swap)
			}
		}
	}
}

func TestTokenDoesNotLogSecret(t *testing.T) {
	tok, _, err := apikey.Generate(&counting{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("auth", "key", tok)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("auth", "key", tok)
	if strings.Contains(buf.String(), tok.Secret) || !strings.Contains(buf.String(), tok.Prefix()) {
		t.Errorf("log = %s; want the prefix and not the secret", buf.String())
	}
}

func TestMAC(t *testing.T) {
	p1 := bytes.Repeat([]byte{1}, 32)
	p2 := bytes.Repeat([]byte{2}, 32)
	const s1, s2 = "CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh", "CDEFGHIJKLMNOPQRSTUVWXYZabcdefgi"
	m := apikey.MAC(p1, s1)
	if len(m) != 32 {
		t.Fatalf("MAC has %d bytes, want 32", len(m))
	}
	if !apikey.Equal(m, apikey.MAC(p1, s1)) {
		t.Error("MAC is not deterministic")
	}
	if apikey.Equal(m, apikey.MAC(p2, s1)) {
		t.Error("MAC equal under two peppers")
	}
	if apikey.Equal(m, apikey.MAC(p1, s2)) {
		t.Error("MAC equal for two secrets")
	}
	if bytes.Contains(m, []byte(s1[:8])) {
		t.Error("MAC contains the secret")
	}
	if apikey.Equal(m, m[:31]) || apikey.Equal(nil, m) {
		t.Error("Equal accepts a MAC of another length")
	}
}

func FuzzParse(f *testing.F) {
	_, key, _ := apikey.Generate(&counting{})
	for _, s := range []string{"", "egm_", key, key[:len(key)-1] + "0", key + "0", strings.ToUpper(key), "egm_" + strings.Repeat("_", 51)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := apikey.Parse(s)
		if err != nil {
			if err != apikey.ErrMalformed || tok != (apikey.Token{}) {
				t.Fatalf("Parse(%q) = %+v, %v", s, tok, err)
			}
			return
		}
		if tok.String() != s || !shape.MatchString(s) || withChecksum(s[:len(s)-6]) != s {
			t.Fatalf("Parse accepted %q as %+v (String %q)", s, tok, tok.String())
		}
		if !strings.HasPrefix(s, tok.Prefix()+"_") {
			t.Fatalf("Prefix %q is not the start of %q", tok.Prefix(), s)
		}
	})
}

func TestValidIDAndContains(t *testing.T) {
	tok, key, err := apikey.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{tok.ID: true, key: false, tok.Prefix(): false, "nope": false, tok.ID[:11] + "-": false, "": false} {
		if got := apikey.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
	for s, want := range map[string]bool{
		key: true, "ci " + key + " (old)": true, "egm_egm_" + key[4:]: true, tok.Prefix() + "_x": true,
		tok.Prefix(): false, "egm_": false, "egm_short_x": false, "deploy key": false, "": false,
	} {
		if got := apikey.Contains(s); got != want {
			t.Errorf("Contains(%q) = %v, want %v", s, got, want)
		}
	}
}
