package main_test

import (
	"net/http"
	"testing"

	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestRateLimitSharedByNodes: two nodes on one database, each enforcing
// half of the address limit (--rate-limit-nodes 2), and a client whose
// requests alternate between them as a round-robin balancer sends them:
// the pair allows the configured burst of 4, then refuses, as one node
// with the whole limit would.
func TestRateLimitSharedByNodes(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	nodes, _, _ := nodesOn(t, dsn, 2, "--rate-limit-address", "0.01", "--rate-limit-address-burst", "4", "--rate-limit-nodes", "2")
	statuses := map[int]int{}
	for i := range 12 {
		req, _ := http.NewRequest(http.MethodGet, nodes[i%2].url+"/v1/memories", nil)
		req.Header.Set("Authorization", "Bearer egm_not_a_key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] != 4 || statuses[http.StatusTooManyRequests] != 8 {
		t.Fatalf("statuses %v, want 4 × 401 then 8 × 429 across the two nodes", statuses)
	}
}
