package oidc

import (
	"encoding/json"
	"testing"
)

// FuzzClaims feeds arbitrary claim sets (what an IdP's token or userinfo
// answer may hold) to the claim reader: it must never panic, and never yield
// an empty group name, which a mapping rule for "" would otherwise match.
func FuzzClaims(f *testing.F) {
	f.Add([]byte(`{"email":"A@B.c","email_verified":"true","groups":["a","b"]}`))
	f.Add([]byte(`{"groups":"[\"x\",\"\"]","given_name":"G","family_name":"F"}`))
	f.Add([]byte(`{"groups":[1,null,"",{"a":1}],"email_verified":1}`))
	p := &Provider{cfg: Config{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c map[string]any
		if json.Unmarshal(data, &c) != nil {
			return
		}
		id := p.fromClaims(c)
		for _, g := range id.Groups {
			if g == "" {
				t.Fatalf("empty group from %s", data)
			}
		}
	})
}
