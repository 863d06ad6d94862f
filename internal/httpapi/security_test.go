package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // raw access to the store file, as an attacker with the disk would have

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/auth/apikey"
	"github.com/engram-memory/engram/internal/testserver"
)

func TestAuthentication(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	owner := s.Client(nt.Key.Secret)

	// Missing, malformed, unknown and wrong-secret keys all get the same 401.
	tok, err := apikey.Parse(nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := apikey.Token{ID: tok.ID, Secret: strings.Repeat("A", len(tok.Secret))}.String()
	unknownID := apikey.Token{ID: strings.Repeat("B", len(tok.ID)), Secret: tok.Secret}.String()
	last := nt.Key.Secret[len(nt.Key.Secret)-1]
	other := "x"
	if last == 'x' {
		other = "y"
	}
	badChecksum := nt.Key.Secret[:len(nt.Key.Secret)-1] + other
	for name, key := range map[string]string{"none": "", "garbage": "hello", "bad checksum": badChecksum, "wrong secret": wrongSecret, "unknown id": unknownID} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Client(key).List(ctx, client.ListRequest{})
			wantCode(t, err, engram.CodeUnauthenticated)
		})
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/memories", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("401 without key: %d %v", resp.StatusCode, resp.Header)
	}

	// A read-only key reads but cannot write or manage keys.
	ro, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ro.Secret, "egm_") || ro.Prefix == "" || strings.Contains(ro.Prefix, ro.Secret[len(ro.Prefix):]) {
		t.Fatalf("new key: %+v", ro.APIKey)
	}
	reader := s.Client(ro.Secret)
	if _, err := reader.List(ctx, client.ListRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = reader.Add(ctx, client.AddRequest{Content: "x"})
	wantCode(t, err, engram.CodeForbidden)
	_, err = reader.ListKeys(ctx)
	wantCode(t, err, engram.CodeForbidden)
	_, err = reader.CreateKey(ctx, client.CreateKeyRequest{Name: "escalate", Scopes: []engram.Permission{engram.PermKeysAdmin}})
	wantCode(t, err, engram.CodeForbidden)

	// A key-admin key cannot grant what it does not hold.
	ka, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "keys-only", Scopes: []engram.Permission{engram.PermKeysAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Client(ka.Secret).CreateKey(ctx, client.CreateKeyRequest{Name: "escalate", Scopes: []engram.Permission{engram.PermMemoriesWrite}})
	wantCode(t, err, engram.CodeForbidden)
	_, err = owner.CreateKey(ctx, client.CreateKeyRequest{Name: "bad", Scopes: []engram.Permission{"root"}})
	wantCode(t, err, engram.CodeInvalid)
	past := time.Now().Add(-time.Hour)
	_, err = owner.CreateKey(ctx, client.CreateKeyRequest{Name: "past", ExpiresAt: &past})
	wantCode(t, err, engram.CodeInvalid)

	// Expiry, against the server's clock.
	soon := s.Clock.Now().Add(time.Hour)
	ex, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "short", ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(ex.Secret).List(ctx, client.ListRequest{}); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour)
	_, err = s.Client(ex.Secret).List(ctx, client.ListRequest{})
	wantCode(t, err, engram.CodeUnauthenticated)

	// Revocation takes effect on the very next request.
	if err := owner.RevokeKey(ctx, ro.ID); err != nil {
		t.Fatal(err)
	}
	_, err = reader.List(ctx, client.ListRequest{})
	wantCode(t, err, engram.CodeUnauthenticated)
	wantCode(t, owner.RevokeKey(ctx, "nope"), engram.CodeNotFound)

	keys, err := owner.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("keys: %d", len(keys))
	}
	for _, k := range keys {
		if k.ID == ro.ID && k.RevokedAt == nil {
			t.Fatalf("revoked key not marked: %+v", k)
		}
		if k.ID == nt.Key.ID && k.LastUsedAt == nil {
			t.Fatalf("owner key last_used_at not recorded: %+v", k)
		}
	}
	raw, _ := json.Marshal(keys)
	if bytes.Contains(raw, []byte(tok.Secret)) || bytes.Contains(raw, []byte(ro.Secret)) {
		t.Fatal("key list leaks a secret")
	}
}

// TestTenantIsolation runs three tenants concurrently through every
// endpoint, then has each try every other tenant's records.
func TestTenantIsolation(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	type tenant struct {
		name   string
		c      *client.Client
		word   string
		ids    []string
		keyIDs []string
	}
	ts := []*tenant{{name: "red", word: "zebrafish"}, {name: "green", word: "quokka"}, {name: "blue", word: "axolotl"}}
	for _, tn := range ts {
		tn.c = s.Tenant(t, tn.name)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, tn := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) { errs <- fmt.Errorf("%s: %w", tn.name, err) }
			for i := range 15 {
				// Every tenant uses the same user ids and the same shared text.
				r, err := tn.c.Add(ctx, client.AddRequest{Content: fmt.Sprintf("%s fact %d about the shared project", tn.word, i), UserID: fmt.Sprintf("user-%d", i%3), Metadata: map[string]any{"tenant": tn.name}})
				if err != nil {
					fail(err)
					return
				}
				tn.ids = append(tn.ids, r[0].ID)
			}
			if _, err := tn.c.Update(ctx, tn.ids[0], tn.word+" updated", nil); err != nil {
				fail(err)
			}
			if err := tn.c.Delete(ctx, tn.ids[1]); err != nil {
				fail(err)
			}
			k, err := tn.c.CreateKey(ctx, client.CreateKeyRequest{Name: "extra"})
			if err != nil {
				fail(err)
				return
			}
			tn.keyIDs = append(tn.keyIDs, k.ID)
			hits, err := tn.c.Search(ctx, client.SearchRequest{Query: "shared project fact", Limit: 100, Threshold: client.Threshold(0)})
			if err != nil {
				fail(err)
			}
			for _, h := range hits {
				if !strings.Contains(h.Content, tn.word) || h.Metadata["tenant"] != tn.name {
					fail(fmt.Errorf("search leaked %q", h.Content))
				}
			}
			page, err := tn.c.List(ctx, client.ListRequest{Limit: 100, Scope: engram.Scope{UserID: "user-0"}})
			if err != nil {
				fail(err)
			}
			for _, m := range page.Results {
				if !strings.Contains(m.Content, tn.word) {
					fail(fmt.Errorf("list leaked %q", m.Content))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, a := range ts {
		for _, b := range ts {
			if a == b {
				continue
			}
			for _, id := range []string{b.ids[0], b.ids[2]} {
				_, err := a.c.Get(ctx, id)
				wantCode(t, err, engram.CodeNotFound)
				_, err = a.c.Update(ctx, id, "overwrite", nil)
				wantCode(t, err, engram.CodeNotFound)
				_, err = a.c.History(ctx, id)
				wantCode(t, err, engram.CodeNotFound)
				wantCode(t, a.c.Delete(ctx, id), engram.CodeNotFound)
			}
			_, err := a.c.History(ctx, b.ids[1]) // deleted, history kept
			wantCode(t, err, engram.CodeNotFound)
			wantCode(t, a.c.RevokeKey(ctx, b.keyIDs[0]), engram.CodeNotFound)
			hits, err := a.c.Search(ctx, client.SearchRequest{Query: b.word, Threshold: client.Threshold(0)})
			if err != nil || len(hits) != 0 {
				t.Errorf("%s found %s's word: %v %v", a.name, b.name, hits, err)
			}
			keys, _ := a.c.ListKeys(ctx)
			for _, k := range keys {
				if k.ID == b.keyIDs[0] {
					t.Errorf("%s lists %s's key", a.name, b.name)
				}
			}
		}
		// Each tenant still sees all its own work.
		page, err := a.c.List(ctx, client.ListRequest{Limit: 100})
		if err != nil || len(page.Results) != 14 {
			t.Errorf("%s lists %d memories (%v), want 14", a.name, len(page.Results), err)
		}
	}
}

// TestNoPlaintextAtRest writes unique markers through every write path and
// finds none of them in any file of the data directory, nor in the logs.
func TestNoPlaintextAtRest(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client(nt.Key.Secret)
	markers := []string{"Xylophonic7731", "Quetzalmarker4412", "Vermilionsecret9093", "Obsidianmeta5521", "Marmaladehistory2288"}
	r, err := c.Add(ctx, client.AddRequest{Content: "Meet " + markers[0] + " at noon", UserID: "u1", Metadata: map[string]any{"note": markers[3]}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ctx, client.AddRequest{UserID: "u2", IdempotencyKey: "k1", Messages: []engram.Message{{Role: "user", Content: "my code is " + markers[1]}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, r[0].ID, "Moved to "+markers[4], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ctx, client.AddRequest{Content: markers[2] + " and some more words"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range markers {
		if _, err := c.Search(ctx, client.SearchRequest{Query: m}); err != nil {
			t.Fatal(err)
		}
	}
	extra, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{secretOf(t, nt.Key.Secret), secretOf(t, extra.Secret)}

	check := func(where string, data []byte) {
		low := bytes.ToLower(data)
		for _, m := range markers {
			if bytes.Contains(low, bytes.ToLower([]byte(m))) {
				t.Errorf("%s holds marker %s in clear", where, m)
			}
		}
		for _, sec := range secrets {
			if bytes.Contains(data, []byte(sec)) {
				t.Errorf("%s holds an API key secret", where)
			}
		}
	}
	scan := func() {
		err := filepath.WalkDir(s.DataDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			check(path, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan() // with the WAL still holding recent pages
	if _, err := os.Stat(s.DBPath + "-wal"); err != nil {
		t.Fatalf("expected a WAL file to scan: %v", err)
	}
	check("server log", s.Log.Bytes())
	// And the markers really are retrievable, so the test is not vacuous.
	hits, err := c.Search(ctx, client.SearchRequest{Query: markers[4]})
	if err != nil || len(hits) != 1 {
		t.Fatalf("marker not searchable: %v %v", hits, err)
	}
}

func secretOf(t *testing.T, key string) string {
	tok, err := apikey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

// TestCiphertextSubstitution moves sealed fields between rows, fields and
// tenants with raw SQL; none of them may open. A record that does not open
// is 404 unreadable (logged and counted), never its text; a history entry
// that does not open is left out of the history.
func TestCiphertextSubstitution(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	a, b := s.Tenant(t, "alpha"), s.Tenant(t, "beta")
	add := func(c *client.Client, text, user string) string {
		r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: user, Metadata: map[string]any{"k": "v"}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].ID
	}
	victim := add(a, "victim text", "alice")
	sameSubject := add(a, "same subject other row", "alice")
	otherSubject := add(a, "other subject text", "bob")
	otherTenant := add(b, "other tenant text", "alice")

	db, err := sql.Open("sqlite", s.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	var orig []byte
	if err := db.QueryRow(`SELECT content FROM memories WHERE id = ?`, victim).Scan(&orig); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"other row, same subject": `UPDATE memories SET content = (SELECT content FROM memories WHERE id = ?2) WHERE id = ?1`,
		"other subject":           `UPDATE memories SET content = (SELECT content FROM memories WHERE id = ?3) WHERE id = ?1`,
		"other tenant":            `UPDATE memories SET content = (SELECT content FROM memories WHERE id = ?4) WHERE id = ?1`,
		"other field":             `UPDATE memories SET content = metadata WHERE id = ?1`,
	} {
		t.Run(name, func(t *testing.T) {
			exec(q, victim, sameSubject, otherSubject, otherTenant)
			m, err := a.Get(ctx, victim)
			wantCode(t, err, engram.CodeUnreadable)
			if m != nil {
				t.Fatalf("substituted ciphertext opened: %+v", m)
			}
			exec(`UPDATE memories SET content = ? WHERE id = ?`, orig, victim)
			if m, err := a.Get(ctx, victim); err != nil || m.Content != "victim text" {
				t.Fatalf("restored row: %v %v", m, err)
			}
		})
	}
	// A history entry moved to another memory does not open either.
	exec(`UPDATE history SET memory_id = ?1 WHERE memory_id = ?2`, victim, otherSubject)
	hist, err := a.History(ctx, victim)
	if err != nil {
		t.Fatalf("history with a moved entry: %v", err)
	}
	if len(hist) != 1 || hist[0].NewMemory != "victim text" {
		t.Fatalf("history with a moved entry: %+v, want the victim's own entry only", hist)
	}
	if strings.Contains(string(s.Log.Bytes()), "other subject text") {
		t.Fatal("log holds plaintext")
	}
}

// TestProblemResponses checks the error shape for bad requests.
func TestProblemResponses(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/v1/memories", `{"content":`, 400, engram.CodeInvalid},
		{"wrong type", "POST", "/v1/memories", `{"content":42}`, 400, engram.CodeInvalid},
		{"tenant in body", "POST", "/v1/memories", `{"content":"x","tenant_id":"other"}`, 400, engram.CodeInvalid},
		{"oversized", "POST", "/v1/memories", `{"content":"` + strings.Repeat("a", engram.MaxBodyBytes) + `"}`, 413, engram.CodeTooLarge},
		{"unknown route", "GET", "/v1/nothing", ``, 404, engram.CodeNotFound},
		{"bad limit", "GET", "/v1/memories?limit=abc", ``, 400, engram.CodeInvalid},
		{"search without query", "POST", "/v1/search", `{}`, 400, engram.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+nt.Key.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var p struct {
				Type, Title, Detail, Code, RequestID string
				Status                               int
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("not JSON: %s", raw)
			}
			if resp.StatusCode != tc.status || p.Status != tc.status || p.Code != tc.code || p.Type == "" || p.Title == "" {
				t.Fatalf("got %d %s", resp.StatusCode, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no request id")
			}
			if len(raw) > 4096 {
				t.Fatalf("error echoes the request (%d bytes)", len(raw))
			}
		})
	}
}
