package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	engrampkg "github.com/engram-memory/engram"
)

func postJSON(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestMembersInvite: the operator invites the first owner offline; the
// printed URL is the only copy of the link; accepting it and signing in
// through the real binary (production argon2id parameters) gives an owner
// session.
func TestMembersInvite(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustEngram(t, nil, "tenants", "create", "acme", "--data", data)
	out := mustEngram(t, nil, "members", "invite", "Olga@Example.com", "--role", "owner", "--tenant", "acme", "--data", data,
		"--public-url", "https://memory.example.com")
	url := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(url, "https://memory.example.com/accept#token=egot_") {
		t.Fatalf("members invite printed %q", out)
	}
	if _, errOut, err := engram(t, nil, "members", "invite", "olga@example.com", "--role", "owner", "--tenant", "acme", "--data", data); err == nil || !strings.Contains(errOut, "already") {
		t.Fatalf("a second invitation of the same address: %v %q", err, errOut)
	}
	s := startServer(t, data)
	_, tok, _ := strings.Cut(url, "#token=")
	if code, body := postJSON(t, s.url+"/v1/invitations/accept", "", `{"token":"`+tok+`","password":"Lichen-Harbour-Crane-19"}`); code != 201 {
		t.Fatalf("accept: %d %s", code, body)
	}
	code, body := postJSON(t, s.url+"/v1/auth/login", "", `{"email":"olga@example.com","password":"Lichen-Harbour-Crane-19"}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var tk engrampkg.Tokens
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.url+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me engrampkg.Me
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || me.Role != engrampkg.RoleOwner || me.Tenant != "acme" {
		t.Fatalf("me: %+v %v", me, err)
	}
}
