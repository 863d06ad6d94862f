package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type loadReport struct {
	Server      string         `json:"server"`
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	PerS        float64        `json:"per_s"`
	Errors      map[string]int `json:"errors"`
	Ops         map[string]struct {
		Count, Errors int
	} `json:"ops"`
	ServerCores *float64 `json:"server_cores"`
	CPUPerReq   *float64 `json:"server_cpu_ms_per_req"`
}

func lastJSON(t *testing.T, out string) loadReport {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r loadReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not the report: %v\n%s", err, out)
	}
	return r
}

func checkLoad(t *testing.T, r loadReport, server string) {
	t.Helper()
	ops := 0
	for _, o := range r.Ops {
		ops += o.Count
	}
	if r.Server != server || r.Concurrency != 2 || r.Requests < 1 || ops != r.Requests || len(r.Errors) != 0 || r.PerS <= 0 {
		t.Fatalf("report %+v", r)
	}
	if r.ServerCores == nil || *r.ServerCores < 0 || r.CPUPerReq == nil {
		t.Fatalf("server CPU not measured: %+v", r)
	}
}

// TestBenchLoad runs `engram bench load` as a user would, briefly: once
// against a serve child process it starts itself, once against a running
// server (--url, CPU read from its /metrics).
func TestBenchLoad(t *testing.T) {
	args := []string{"bench", "load", "--concurrency", "2", "--duration", "1s", "--corpus", "20", "--json"}
	out := mustEngram(t, []string{"ENGRAM_API_KEY="}, args...)
	checkLoad(t, lastJSON(t, out), "child")
	if !strings.Contains(out, "req/s") || !strings.Contains(out, "server CPU") {
		t.Fatalf("no text report:\n%s", out)
	}

	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	out = mustEngram(t, []string{"ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}, append(args, "--url", s.url)...)
	checkLoad(t, lastJSON(t, out), "url")
	s.stop(t)

	// Out of bounds: refused before any server starts.
	for _, bad := range [][]string{{"--concurrency", "1025"}, {"--duration", "2h"}, {"--mix", "add=1,drop=1"}, {"--corpus", "0", "--mix", "get=1"}} {
		if _, errOut, err := engram(t, nil, append([]string{"bench", "load"}, bad...)...); err == nil {
			t.Errorf("bench load %v: accepted", bad)
		} else if strings.Contains(errOut, "listening") {
			t.Errorf("bench load %v: started a server", bad)
		}
	}
	if _, _, err := engram(t, nil, "serve", "--data", t.TempDir(), "--max-inflight", "-1"); err == nil {
		t.Error("serve --max-inflight -1: accepted")
	}
}
