package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram/client"
)

// TestMinFreeSpace: serve with a floor no disk meets refuses new content
// with 507 insufficient_storage, keeps answering reads, and says
// "degraded" on /healthz (200); a malformed floor stops serve at start.
func TestMinFreeSpace(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, errOut, err := engram(t, nil, "serve", "--data", data, "--addr", "127.0.0.1:0", "--min-free-space", "lots"); err == nil || !strings.Contains(errOut, "free-space floor") {
		t.Fatalf("malformed floor: %v %q", err, errOut)
	}
	s := startServerWith(t, data, []string{"ENGRAM_MIN_FREE_SPACE=1EiB"})
	c := client.New(s.url, ownerKey(t, data))
	ctx := context.Background()
	_, err := c.Add(ctx, client.AddRequest{Content: "no room for this"})
	if ce, ok := err.(*client.Error); !ok || ce.Status != http.StatusInsufficientStorage || ce.Code != "insufficient_storage" {
		t.Fatalf("add below the floor: %v", err)
	}
	if _, err := c.List(ctx, client.ListRequest{}); err != nil {
		t.Fatalf("list below the floor: %v", err)
	}
	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != http.StatusOK || h["status"] != "degraded" || h["storage"] != "low" {
		t.Fatalf("healthz below the floor: %d %v %v", resp.StatusCode, h, err)
	}
	if !strings.Contains(string(s.stderr.Bytes()), "free space below the floor") {
		t.Fatal("serve did not log that it is below the floor")
	}
	s.stop(t)
}
