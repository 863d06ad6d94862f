package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// call sends a raw request with key and returns the status and the body.
func call(t *testing.T, s *testserver.Server, key, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// wantInvalid checks a 400 problem with code invalid whose detail starts
// with prefix and holds none of echo.
func wantInvalid(t *testing.T, status int, body, prefix string, echo ...string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &p) != nil || p.Code != engram.CodeInvalid || !strings.HasPrefix(p.Detail, prefix) {
		t.Fatalf("got %d %s, want 400 invalid %q", status, body, prefix)
	}
	for _, e := range echo {
		if strings.Contains(body, e) {
			t.Fatalf("the problem echoes the input: %s", body)
		}
	}
}

func ownerKey(t *testing.T, s *testserver.Server) string {
	t.Helper()
	nt, err := s.Engine.CreateTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return nt.Key.Secret
}

// TestBodyMustBeUTF8: encoding/json turns an invalid byte or a lone
// surrogate escape into U+FFFD; the API refuses the body instead, so what
// is stored is what was sent.
func TestBodyMustBeUTF8(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	for name, c := range map[string]struct{ path, body, detail string }{
		"invalid byte in content":  {"/v1/memories", "{\"content\":\"tea \xff\xfe\"}", "body is not valid UTF-8"},
		"invalid byte in metadata": {"/v1/memories", "{\"content\":\"tea\",\"metadata\":{\"k\":\"\xc0\xaf\"}}", "body is not valid UTF-8"},
		"lone high surrogate":      {"/v1/memories", `{"content":"tea \ud800"}`, "body holds a lone UTF-16 surrogate"},
		"lone low surrogate":       {"/v1/memories", `{"content":"tea \udc00 x"}`, "body holds a lone UTF-16 surrogate"},
		"surrogate in user_id":     {"/v1/memories", `{"content":"tea","user_id":"\ud800"}`, "body holds a lone UTF-16 surrogate"},
		"invalid byte in query":    {"/v1/search", "{\"query\":\"t\xffea\"}", "body is not valid UTF-8"},
		"surrogate in update":      {"/v1/keys", `{"name":"\udfff","scopes":["memories:read"]}`, "body holds a lone UTF-16 surrogate"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, s, key, http.MethodPost, c.path, c.body)
			wantInvalid(t, status, body, c.detail)
		})
	}
	// Nothing was stored; a proper surrogate pair is one character.
	c := s.Client(key)
	if res, err := c.List(t.Context(), client.ListRequest{}); err != nil || len(res.Results) != 0 {
		t.Fatalf("list after refusals: %+v %v", res, err)
	}
	status, body := call(t, s, key, http.MethodPost, "/v1/memories", `{"content":"smiles \ud83d\ude00"}`)
	if status != http.StatusCreated || !strings.Contains(body, "smiles \U0001F600") {
		t.Fatalf("surrogate pair: %d %s", status, body)
	}
}

// TestScopeIDsAreNormalised: "josé" in NFC and in NFD is one user, in
// bodies, query strings, filters and the erasure path; ids with controls
// or invisible format characters are refused wherever they enter.
func TestScopeIDsAreNormalised(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	c := s.Client(key)
	ctx := t.Context()
	nfc, nfd := "jos\u00e9", "jose\u0301"
	for _, u := range []string{nfc, nfd} {
		if _, err := c.Add(ctx, client.AddRequest{Content: "likes tea, spelled " + url.QueryEscape(u), UserID: u, AgentID: "agent-" + u}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{nfc, nfd} {
		res, err := c.List(ctx, client.ListRequest{Scope: engram.Scope{UserID: u, AgentID: "agent-" + u}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 {
			t.Fatalf("list for %q: %d memories, want both spellings' 2", u, len(res.Results))
		}
		for _, m := range res.Results {
			if m.UserID != nfc || m.AgentID != "agent-"+nfc {
				t.Fatalf("stored scope %q/%q, want NFC", m.UserID, m.AgentID)
			}
		}
		hits, err := c.Search(ctx, client.SearchRequest{Query: "tea", Filters: map[string]any{"user_id": u}, Mode: engram.SearchBM25})
		if err != nil || len(hits) != 2 {
			t.Fatalf("search filtered on %q: %d hits, %v", u, len(hits), err)
		}
	}
	// Erasing either spelling erases the one user.
	er, err := c.ForgetUser(ctx, nfd)
	if err != nil || er.Memories != 2 || er.UserID != nfc {
		t.Fatalf("forget %q: %+v %v", nfd, er, err)
	}
	if _, err := c.ForgetUser(ctx, nfc); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("forget again: %v", err)
	}

	const rlo = "al\u202eice"
	for name, id := range map[string]string{
		"rlo": rlo, "lri": "\u2066alice", "lrm": "alice\u200e", "alm": "alice\u061c", "zwsp": "ali\u200bce",
		"zwj": "ali\u200dce", "word joiner": "ali\u2060ce", "bom": "\ufeffalice", "soft hyphen": "ali\u00adce",
		"escape": "\x1b[2Jalice", "nul": "ali\x00ce", "newline": "alice\nbob",
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"content": "x", "user_id": id})
			status, body := call(t, s, key, http.MethodPost, "/v1/memories", string(b))
			wantInvalid(t, status, body, "user_id must not contain", id)
			b, _ = json.Marshal(map[string]string{"query": "x", "run_id": id})
			status, body = call(t, s, key, http.MethodPost, "/v1/search", string(b))
			wantInvalid(t, status, body, "run_id must not contain", id)
			status, body = call(t, s, key, http.MethodGet, "/v1/memories?agent_id="+url.QueryEscape(id), "")
			wantInvalid(t, status, body, "agent_id must not contain", id)
			status, body = call(t, s, key, http.MethodDelete, "/v1/users/"+url.PathEscape(id), "")
			wantInvalid(t, status, body, "user_id must not contain", id)
			b, _ = json.Marshal(map[string]string{"reason_code": "litigation", "user_id": id})
			status, body = call(t, s, key, http.MethodPost, "/v1/audit/holds", string(b))
			wantInvalid(t, status, body, "user_id must not contain", id)
		})
	}
}

// TestBogusCursors: a cursor the server did not issue answers 400, not an
// empty page; the cursors it issues still page.
func TestBogusCursors(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	c := s.Client(key)
	for _, txt := range []string{"one", "two"} {
		if _, err := c.Add(t.Context(), client.AddRequest{Content: txt}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.List(t.Context(), client.ListRequest{Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	next, err := c.List(t.Context(), client.ListRequest{Limit: 1, Cursor: page.NextCursor})
	if err != nil || len(next.Results) != 1 || next.Results[0].ID == page.Results[0].ID {
		t.Fatalf("second page: %+v %v", next, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(page.NextCursor)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, path := range map[string]string{
		"garbage":                 "/v1/memories?cursor=garbage",
		"nil uuid":                "/v1/memories?cursor=" + b64("00000000-0000-0000-0000-000000000000"),
		"uuid v4":                 "/v1/memories?cursor=" + b64("6ba7b810-9dad-41d1-80b4-00c04fd430c8"),
		"upper-case id":           "/v1/memories?cursor=" + b64(strings.ToUpper(string(raw))),
		"audit non-canonical":     "/v1/audit?cursor=Nx", // decodes to "7" only when trailing bits are ignored
		"audit garbage":           "/v1/audit?cursor=garbage",
		"audit zero":              "/v1/audit?cursor=" + b64("0"),
		"audit leading zero":      "/v1/audit?cursor=" + b64("07"),
		"audit negative":          "/v1/audit?cursor=" + b64("-1"),
		"segments zero":           "/v1/audit/segments?cursor=" + b64("0"),
		"segments not a number":   "/v1/audit/segments?cursor=" + b64("x"),
		"segments trailing space": "/v1/audit/segments?cursor=" + b64("1 "),
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, s, key, http.MethodGet, path, "")
			wantInvalid(t, status, body, "cursor is not one this server issued")
		})
	}
}

// TestTimesOutsideSaneYears: times before 1970 or after 9999 answer 400
// wherever a client gives one.
func TestTimesOutsideSaneYears(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	for name, c := range map[string]struct{ method, path, body, detail string }{
		"timestamp year 1":      {http.MethodPost, "/v1/memories", `{"content":"x","timestamp":"0001-01-01T00:00:00Z"}`, "timestamp must be in the years 1970 to 9999"},
		"timestamp year 0":      {http.MethodPost, "/v1/memories", `{"content":"x","timestamp":"0000-06-01T00:00:00Z"}`, "timestamp must be in the years 1970 to 9999"},
		"timestamp before 1970": {http.MethodPost, "/v1/memories", `{"content":"x","timestamp":"1970-01-01T00:30:00+01:00"}`, "timestamp must be in the years 1970 to 9999"},
		"filter created_at":     {http.MethodPost, "/v1/search", `{"query":"x","filters":{"created_at":{"gte":"0001-01-01"}}}`, "filters: created_at must be in the years 1970 to 9999"},
		"filter updated_at":     {http.MethodPost, "/v1/search", `{"query":"x","filters":{"updated_at":"1900-01-01T00:00:00Z"}}`, "filters: updated_at must be in the years 1970 to 9999"},
		"audit since":           {http.MethodGet, "/v1/audit?since=0001-01-02T00:00:00Z", "", "since must be in the years 1970 to 9999"},
		"audit until":           {http.MethodGet, "/v1/audit?until=1969-12-31T23:59:59Z", "", "until must be in the years 1970 to 9999"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, s, key, c.method, c.path, c.body)
			wantInvalid(t, status, body, c.detail)
		})
	}
	// The bounds themselves are accepted.
	for _, body := range []string{
		`{"content":"epoch","timestamp":"1970-01-01T00:00:00Z"}`,
		`{"content":"last year","timestamp":"9999-12-31T23:59:59Z"}`,
	} {
		if status, resp := call(t, s, key, http.MethodPost, "/v1/memories", body); status != http.StatusCreated {
			t.Fatalf("%s: %d %s", body, status, resp)
		}
	}
	if status, resp := call(t, s, key, http.MethodPost, "/v1/keys", `{"name":"far","scopes":["memories:read"],"expires_at":"9999-12-31T23:59:59Z"}`); status != http.StatusCreated {
		t.Fatalf("key expiring in 9999: %d %s", status, resp)
	}
}

// TestErasureCoversEarlierSpellings: data written before ids were
// normalised keeps the spelling it was sent in (here NFD, set in the
// database as an older server would have stored it). Erasing the user in
// NFC still erases it: memory, history and subject key.
func TestErasureCoversEarlierSpellings(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	c := s.Client(key)
	nfc, nfd := "jos\u00e9", "jose\u0301"
	if _, err := c.Add(t.Context(), client.AddRequest{Content: "legacy memory", UserID: nfc}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, s)
	for _, q := range []string{
		`UPDATE memories SET user_id = ?2, subject = 'u:' || ?2 WHERE subject = 'u:' || ?1`,
		`UPDATE history SET subject = 'u:' || ?2 WHERE subject = 'u:' || ?1`,
		`UPDATE wrapped_keys SET owner = 'u:' || ?2 WHERE owner = 'u:' || ?1`,
	} {
		if res, err := db.Exec(q, nfc, nfd); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("%s: no rows", q)
		}
	}
	er, err := c.ForgetUser(t.Context(), nfc)
	if err != nil || er.Memories != 1 || er.History == 0 || er.Keys == 0 {
		t.Fatalf("forget: %+v %v", er, err)
	}
	var left int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM memories WHERE subject = 'u:' || ?1) +
		(SELECT count(*) FROM history WHERE subject = 'u:' || ?1) +
		(SELECT count(*) FROM wrapped_keys WHERE owner = 'u:' || ?1)`, nfd).Scan(&left); err != nil || left != 0 {
		t.Fatalf("rows left under the NFD spelling: %d %v", left, err)
	}
}
