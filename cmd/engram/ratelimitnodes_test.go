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
	nodes, _, _ := nodesOn(t, dsn, 2, func(string) []string {
		return []string{"--rate-limit-address", "0.01", "--rate-limit-address-burst", "4", "--rate-limit-nodes", "2"}
	})
	statuses := badKeyFlood(t, 12, nodes[0].url, nodes[1].url)
	if statuses[http.StatusUnauthorized] != 4 || statuses[http.StatusTooManyRequests] != 8 {
		t.Fatalf("statuses %v, want 4 × 401 then 8 × 429 across the two nodes", statuses)
	}
}
