package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/auth/apikey"
	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/ratelimit"
	"github.com/engram-memory/engram/internal/testserver"
)

// limitedCall sends one request with key (none when "") and returns the status,
// the Retry-After header and the problem code, if any.
func limitedCall(t *testing.T, method, url, key, body string) (status int, retryAfter, code string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests {
		var p struct{ Code string }
		if err := json.Unmarshal(b, &p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("429 is not problem+json: %s %q", resp.Header.Get("Content-Type"), b)
		}
		code = p.Code
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code
}

// unknownKey is a well-formed key whose id names no key.
func unknownKey(t *testing.T) string {
	t.Helper()
	tok, _, err := apikey.Generate(strings.NewReader(strings.Repeat("\x01\x02\x03\x04", 64)))
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// authFailures returns the auth.failure entries of a chain as (reason,
// count) pairs, and fails unless every chain still verifies.
func authFailures(t *testing.T, s *testserver.Server, tenantID string) map[string][]uint64 {
	t.Helper()
	ctx := context.Background()
	reps, err := s.Engine.VerifyAudit(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.Problem != nil {
			t.Fatalf("chain %q: %v", r.TenantID, r.Problem)
		}
	}
	rows, err := rawDB(t, s).Query(`SELECT reason, count FROM audit_entries WHERE tenant_id = ? AND action = 'auth.failure' ORDER BY seq`, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]uint64{}
	for rows.Next() {
		var reason string
		var n uint64
		if err := rows.Scan(&reason, &n); err != nil {
			t.Fatal(err)
		}
		out[reason] = append(out[reason], n)
	}
	return out
}

// TestAddressFloodLimited: a flood from one address gets 429 with
// Retry-After once its burst is spent, on /v1 and /mcp alike, before any
// authentication work: only the requests inside the burst reach the
// authenticator (and are counted as refused credentials).
func TestAddressFloodLimited(t *testing.T) {
	const burst = 5
	s := testserver.StartWith(t, testserver.Options{Limits: &httpapi.Limits{
		PerAddress: ratelimit.Rate{PerSecond: 0.01, Burst: burst},
	}})
	key := unknownKey(t)
	counts := map[int]int{}
	for range 30 {
		status, after, code := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", key, "")
		counts[status]++
		if status == http.StatusTooManyRequests {
			if n, err := strconv.Atoi(after); err != nil || n < 1 || code != engram.CodeRateLimited {
				t.Fatalf("429 with Retry-After %q, code %q", after, code)
			}
		}
	}
	if counts[http.StatusUnauthorized] != burst || counts[http.StatusTooManyRequests] != 30-burst {
		t.Fatalf("statuses %v, want %d × 401 then 429s", counts, burst)
	}
	// /mcp shares the address's bucket.
	if status, after, code := limitedCall(t, http.MethodPost, s.URL+"/mcp", key, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); status != http.StatusTooManyRequests || after == "" || code != engram.CodeRateLimited {
		t.Fatalf("/mcp over the limit: %d Retry-After %q code %q", status, after, code)
	}
	// Health checks are not limited.
	if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/healthz", "", ""); status != http.StatusOK {
		t.Fatalf("/healthz: %d", status)
	}
	if err := s.Engine.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := authFailures(t, s, ""); len(got) != 1 || len(got["unknown_key"]) != 1 || got["unknown_key"][0] != burst {
		t.Fatalf("refused credentials recorded %v, want one unknown_key entry counting %d (the 429s never reached authentication)", got, burst)
	}
}

// TestKeyLimited: a key over its limit gets 429 with Retry-After on /v1
// and /mcp; another key of the same address is not affected.
func TestKeyLimited(t *testing.T) {
	const burst = 3
	s := testserver.StartWith(t, testserver.Options{Limits: &httpapi.Limits{
		PerKey: ratelimit.Rate{PerSecond: 0.01, Burst: burst},
	}})
	ctx := context.Background()
	a, err := s.Engine.CreateTenant(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Engine.CreateTenant(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	for i := range burst {
		if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", a.Key.Secret, ""); status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, status)
		}
	}
	status, after, code := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", a.Key.Secret, "")
	if n, err := strconv.Atoi(after); status != http.StatusTooManyRequests || err != nil || n < 1 || code != engram.CodeRateLimited {
		t.Fatalf("over the key's limit: %d Retry-After %q code %q", status, after, code)
	}
	if status, _, _ := limitedCall(t, http.MethodPost, s.URL+"/mcp", a.Key.Secret, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); status != http.StatusTooManyRequests {
		t.Fatalf("/mcp over the key's limit: %d", status)
	}
	if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", b.Key.Secret, ""); status != http.StatusOK {
		t.Fatalf("another key: %d", status)
	}
}

// dataSize is the size of the database and its WAL.
func dataSize(t *testing.T, s *testserver.Server) int64 {
	t.Helper()
	var n int64
	for _, p := range []string{s.DBPath, s.DBPath + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestRefusedAuthAggregated: N refused credentials from one source in one
// window are ONE audit entry counting N (per chain and reason), the chains
// still verify, and refused requests write nothing to the database.
func TestRefusedAuthAggregated(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{Limits: &httpapi.Limits{}})
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := apikey.Parse(nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	tok.Secret = flip(tok.Secret)
	wrong := tok.String()
	unknown := unknownKey(t)

	var rows0 int
	db := rawDB(t, s)
	if err := db.QueryRow(`SELECT count(*) FROM audit_entries`).Scan(&rows0); err != nil {
		t.Fatal(err)
	}
	size0 := dataSize(t, s)
	const n, m, k = 60, 25, 7
	for range n {
		if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", unknown, ""); status != http.StatusUnauthorized {
			t.Fatalf("unknown key: %d", status)
		}
	}
	for range m {
		if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", wrong, ""); status != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %d", status)
		}
	}
	for range k {
		if status, _, _ := limitedCall(t, http.MethodGet, s.URL+"/v1/memories", "egm_not_a_key", ""); status != http.StatusUnauthorized {
			t.Fatalf("malformed key: %d", status)
		}
	}
	var rows1 int
	if err := db.QueryRow(`SELECT count(*) FROM audit_entries`).Scan(&rows1); err != nil {
		t.Fatal(err)
	}
	if rows1 != rows0 || dataSize(t, s) != size0 {
		t.Fatalf("%d refused requests grew the database: %d -> %d audit rows, %d -> %d bytes", n+m+k, rows0, rows1, size0, dataSize(t, s))
	}

	if err := s.Engine.FlushAuthFailures(ctx); err != nil {
		t.Fatal(err)
	}
	sys := authFailures(t, s, "")
	if len(sys["unknown_key"]) != 1 || sys["unknown_key"][0] != n || len(sys["malformed"]) != 1 || sys["malformed"][0] != k {
		t.Fatalf("system chain: %v, want one unknown_key entry counting %d and one malformed counting %d", sys, n, k)
	}
	if got := authFailures(t, s, nt.Tenant.ID); len(got) != 1 || len(got["wrong_secret"]) != 1 || got["wrong_secret"][0] != m {
		t.Fatalf("tenant chain: %v, want one wrong_secret entry counting %d", got, m)
	}
	// The entries name the source and the key presented when it exists,
	// never an unknown key id.
	var ip, keyID string
	if err := db.QueryRow(`SELECT ip, key_id FROM audit_entries WHERE tenant_id = '' AND reason = 'unknown_key'`).Scan(&ip, &keyID); err != nil {
		t.Fatal(err)
	}
	if ip != "127.0.0.1" || keyID != "" {
		t.Fatalf("unknown_key entry: ip %q key %q", ip, keyID)
	}
	// A new window starts empty.
	if err := s.Engine.FlushAuthFailures(ctx); err != nil {
		t.Fatal(err)
	}
	if got := authFailures(t, s, ""); len(got["unknown_key"]) != 1 {
		t.Fatalf("an empty window wrote entries: %v", got)
	}
}
