package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/password"
)

const good = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0MTIzNA$yoJjb02VbcElZlDzfHNVUy4DmVwdaYUoUQAiI4WKt1Y"

func TestParseGood(t *testing.T) {
	h, err := password.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	want := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	if h.Params != want || string(h.Salt) != "saltsaltsalt1234" || len(h.Key) != 32 {
		t.Errorf("Parse = %+v", h)
	}
	if h.String() != good {
		t.Errorf("String = %q", h.String())
	}
}

func TestParseRefuses(t *testing.T) {
	salt, key := "c2FsdHNhbHRzYWx0MTIzNA", "yoJjb02VbcElZlDzfHNVUy4DmVwdaYUoUQAiI4WKt1Y"
	cases := map[string]string{
		"empty":            "",
		"argon2i":          "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2d":          "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"old version":      "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no version":       "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"params reordered": "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"extra param":      "$argon2id$v=19$m=64,t=1,p=1,keyid=x$" + salt + "$" + key,
		"leading zero":     "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"sign":             "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"negative":         "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key,
		"overflow":         "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"huge memory":      "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"huge time":        "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"zero lanes":       "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"p over 255":       "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key,
		"memory < 8p":      "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key,
		"padded salt":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"urlsafe key":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$dU9Tingoul_kcut-dwRrH56atPNbfzsQaIBzcB2Td3A",
		"short salt":       "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"short key":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$yoJjb02VbcE",
		"non-canonical":    "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "Z",
		"trailing $":       good + "$",
		"no leading $":     good[1:],
		"space":            good + " ",
		"newline in salt":  "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNh\nbHRzYWx0MTIzNA$" + key,
		"too long":         "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 300),
	}
	for name, s := range cases {
		if _, err := password.Parse(s); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("%s: Parse(%q) = %v, want ErrMalformed", name, s, err)
		}
	}
}

// FuzzParse: the parser of stored hashes never panics, accepts only what
// it can re-encode identically, and accepts nothing outside the bounds
// (which is what keeps a hostile row from costing gigabytes at login).
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=256,t=3,p=2$MDEyMzQ1Njc4OWFiY2RlZg$0VKovnk0IPzoO+/CxmuQIA")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := password.Parse(s)
		if err != nil {
			if !errors.Is(err, password.ErrMalformed) {
				t.Fatalf("Parse error %v is not ErrMalformed", err)
			}
			return
		}
		if h.String() != s {
			t.Fatalf("Parse(%q) re-encodes as %q", s, h.String())
		}
		if err := h.Params.Validate(); err != nil {
			t.Fatalf("Parse accepted out-of-bounds %+v", h.Params)
		}
	})
}
