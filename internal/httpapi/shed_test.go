package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/testserver"
)

// blockingSearch holds every search until release is closed, telling
// entered (buffered) when one starts: the test fills the server's slots
// with it.
type blockingSearch struct {
	engram.MemoryService
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSearch) Search(ctx context.Context, req engram.SearchRequest) ([]engram.SearchHit, error) {
	select {
	case b.entered <- struct{}{}:
	default: // after the test's two, nobody counts
	}
	<-b.release
	return nil, nil
}

func shedCall(t *testing.T, method, url, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestShedding: with --max-inflight 2 and two searches held in the
// handler, the next request is refused at once with 503 overloaded and
// Retry-After; health checks and metric scrapes still answer; once the
// searches return, requests pass again.
func TestShedding(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	nt, err := e.CreateTenant(context.Background(), "shed")
	if err != nil {
		t.Fatal(err)
	}
	mem := &blockingSearch{MemoryService: e, entered: make(chan struct{}, 2), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Memories: mem, Keys: e, Privacy: e, Auth: e, Version: "test", Metrics: reg, MaxInflight: 2}))
	defer srv.Close()
	key, search := nt.Key.Secret, `{"query":"coffee"}`

	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, _ := shedCall(t, "POST", srv.URL+"/v1/search", key, search)
			if resp == nil {
				done <- 0
				return
			}
			done <- resp.StatusCode
		}()
	}
	<-mem.entered
	<-mem.entered // both slots are taken

	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/search", search},
		{"GET", "/v1/memories?limit=1", ""},
	} {
		resp, b := shedCall(t, tc.method, srv.URL+tc.path, key, tc.body)
		if resp == nil {
			t.FailNow()
		}
		var p struct{ Code, Detail string }
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
			resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Code != engram.CodeOverloaded {
			t.Fatalf("%s %s while full: %d Retry-After %q %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	// An unauthenticated request is shed too: shedding comes before the
	// key check, which costs the server work.
	if resp, _ := shedCall(t, "POST", srv.URL+"/v1/search", "", search); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("request without a key while full: %v", resp)
	}
	if resp, b := shedCall(t, "GET", srv.URL+"/healthz", "", ""); resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz while full: %v %s", resp, b)
	}
	resp, b := shedCall(t, "GET", srv.URL+"/metrics", "", "")
	if resp == nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "engram_http_shed_total 3") ||
		!strings.Contains(string(b), "engram_http_inflight_requests 2") {
		t.Fatalf("metrics while full: %v\n%s", resp, b)
	}

	close(mem.release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("held search: %d", code)
		}
	}
	// A response is written after the handler, slot release included,
	// returned: both slots are free now.
	for range 3 {
		if resp, b := shedCall(t, "POST", srv.URL+"/v1/search", key, search); resp == nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("search after release: %v %s", resp, b)
		}
	}
}

// TestSheddingOff: MaxInflight 0 sheds nothing and registers no metric.
func TestSheddingOff(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Memories: e, Keys: e, Privacy: e, Auth: e, Version: "test", Metrics: reg}))
	defer srv.Close()
	resp, b := shedCall(t, "GET", srv.URL+"/metrics", "", "")
	if resp == nil || strings.Contains(string(b), "engram_http_shed_total") {
		t.Fatalf("shed metric without a limit:\n%s", b)
	}
}
