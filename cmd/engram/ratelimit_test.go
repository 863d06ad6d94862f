package main_test

import (
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLimitsAndAggregatesRefusals runs `engram serve` with its rate
// limits set through the environment: a flood of bad keys from one
// address gets 429 + Retry-After once the burst is spent, and a clean stop
// records the refusals that reached authentication as one audit entry
// counting them, in a chain `engram audit verify` finds intact.
func TestServeLimitsAndAggregatesRefusals(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServerWith(t, data, []string{"ENGRAM_RATE_LIMIT_ADDRESS=0.01", "ENGRAM_RATE_LIMIT_ADDRESS_BURST=4"},
		"--audit-auth-failure-window", "1h") // only the stop flushes
	statuses := badKeyFlood(t, 12, s.url)
	if statuses[http.StatusUnauthorized] != 4 || statuses[http.StatusTooManyRequests] != 8 {
		t.Fatalf("statuses %v, want 4 × 401 then 8 × 429", statuses)
	}
	// Counted in the metrics, which are not limited.
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `engram_http_rate_limited_total{limit="address"} 8`) {
		t.Fatalf("metrics lack 8 address-limited requests:\n%s", metrics)
	}
	s.stop(t)

	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %s", out)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var entries, total int
	if err := db.QueryRow(`SELECT count(*), coalesce(sum(count), 0) FROM audit_entries WHERE tenant_id = '' AND action = 'auth.failure'`).Scan(&entries, &total); err != nil {
		t.Fatal(err)
	}
	if entries != 1 || total != 4 {
		t.Fatalf("%d auth.failure entries counting %d, want 1 counting 4", entries, total)
	}
}

// TestServeRefusesBadLimits: a negative rate or an empty burst is a
// configuration error at start, not a server that refuses everything.
func TestServeRefusesBadLimits(t *testing.T) {
	for _, args := range [][]string{
		{"--rate-limit-address", "-1"},
		{"--rate-limit-key-burst", "0"},
		{"--audit-auth-failure-window", "0s"},
		{"--rate-limit-nodes", "0"},
		{"--maintenance-interval", "0s"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		_, errOut, err := engram(t, nil, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, args...)...)
		if err == nil || strings.Contains(errOut, "listening") {
			t.Fatalf("serve %v started: %v\n%s", args, err, errOut)
		}
	}
}

// badKeyFlood sends n requests with a key that does not exist, to the
// servers in turn (as a round-robin balancer would), and counts the
// statuses; a 429 must say when to retry.
func badKeyFlood(t *testing.T, n int, urls ...string) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	for i := range n {
		req, _ := http.NewRequest(http.MethodGet, urls[i%len(urls)]+"/v1/memories", nil)
		req.Header.Set("Authorization", "Bearer egm_not_a_key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	return statuses
}
