package session_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/session"
)

var key = bytes.Repeat([]byte{7}, 32)

func TestTokenShapeAndDigest(t *testing.T) {
	d, err := session.NewDigester(key)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := session.NewIssuer(d, rand.Reader, session.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := iss.Start(t0, session.Subject{TenantID: "t1", AccountID: "a1", Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok string
		re  string
	}{{g.AccessToken, `^egat_[A-Za-z0-9_-]{43}$`}, {g.RefreshToken, `^egrt_[A-Za-z0-9_-]{43}$`}} {
		if !regexp.MustCompile(c.re).MatchString(c.tok) {
			t.Errorf("token %q does not match %s", c.tok, c.re)
		}
	}
	ad, err := d.Digest(session.Access, g.AccessToken)
	if err != nil || !bytes.Equal(ad, g.Access.Digest) {
		t.Errorf("access digest mismatch: %v", err)
	}
	rd, err := d.Digest(session.Refresh, g.RefreshToken)
	if err != nil || !bytes.Equal(rd, g.Refresh.Digest) {
		t.Errorf("refresh digest mismatch: %v", err)
	}
	// Kinds do not cross: a refresh token is not an access token.
	if _, err := d.Digest(session.Access, g.RefreshToken); !errors.Is(err, session.ErrMalformed) {
		t.Errorf("refresh token accepted as access: %v", err)
	}
	// The digest is keyed: another key gives another digest.
	d2, _ := session.NewDigester(bytes.Repeat([]byte{8}, 32))
	if ad2, _ := d2.Digest(session.Access, g.AccessToken); bytes.Equal(ad, ad2) {
		t.Error("digest does not depend on the key")
	}
	// The same secret under the other prefix digests differently.
	swapped := "egrt_" + g.AccessToken[5:]
	if sd, err := d.Digest(session.Refresh, swapped); err != nil || bytes.Equal(sd, ad) {
		t.Errorf("kind is not bound into the digest: %v", err)
	}
	// The records never hold the token.
	for _, rec := range [][]byte{g.Access.Digest, g.Refresh.Digest} {
		if bytes.Contains(rec, []byte(g.AccessToken[5:])) || len(rec) != 32 {
			t.Errorf("digest %x looks wrong", rec)
		}
	}
	if _, err := session.NewDigester(key[:31]); err == nil {
		t.Error("31-byte key accepted")
	}
}

func TestParseRefuses(t *testing.T) {
	good := "egat_" + strings.Repeat("A", 43)
	if _, err := session.Parse(session.Access, good); err != nil {
		t.Fatalf("Parse(%q) = %v", good, err)
	}
	for name, s := range map[string]string{
		"empty":         "",
		"wrong kind":    "egrt_" + strings.Repeat("A", 43),
		"api key":       "egm_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh42Lxmi",
		"short":         good[:47],
		"long":          good + "A",
		"padding":       "egat_" + strings.Repeat("A", 42) + "=",
		"std alphabet":  "egat_" + strings.Repeat("A", 42) + "+",
		"non-canonical": "egat_" + strings.Repeat("A", 42) + "B",
		"newline":       "egat_" + strings.Repeat("A", 21) + "\n" + strings.Repeat("A", 21),
		"upper prefix":  "EGAT_" + strings.Repeat("A", 43),
	} {
		if _, err := session.Parse(session.Access, s); !errors.Is(err, session.ErrMalformed) {
			t.Errorf("%s: Parse(%q) = %v, want ErrMalformed", name, s, err)
		}
	}
	if _, err := session.Parse(session.Kind(9), good); !errors.Is(err, session.ErrMalformed) {
		t.Error("unknown kind accepted")
	}
}

// FuzzParse: tokens come from clients. Parse never panics, and accepts only
// canonical tokens of the asked kind (32 bytes that re-encode to the input).
func FuzzParse(f *testing.F) {
	f.Add("egat_" + strings.Repeat("A", 43))
	f.Add("egrt_" + strings.Repeat("_", 43))
	f.Add("egat_")
	f.Add("egat_" + strings.Repeat("A", 42) + "\r")
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []session.Kind{session.Access, session.Refresh} {
			b, err := session.Parse(k, s)
			if err != nil {
				if !errors.Is(err, session.ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				continue
			}
			if len(b) != session.SecretLen || len(s) != session.TokenLen {
				t.Fatalf("accepted %q: %d bytes", s, len(b))
			}
			if !regexp.MustCompile(`^eg[ar]t_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$`).MatchString(s) {
				t.Fatalf("accepted non-canonical %q", s)
			}
		}
	})
}
