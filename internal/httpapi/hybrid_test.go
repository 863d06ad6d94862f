package httpapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/testserver"
)

func hybridServer(t *testing.T) (*testserver.Server, *client.Client) {
	s := testserver.StartWith(t, testserver.Options{Embedder: embedtest.New(64,
		[]string{"car", "automobile", "vehicle"}, []string{"bought", "purchase", "purchased"})})
	return s, s.Tenant(t, "acme")
}

// TestSemanticSearch: the vector signal finds what keywords miss, scoped,
// explained, and forgets deleted memories at once.
func TestSemanticSearch(t *testing.T) {
	_, c := hybridServer(t)
	ctx := context.Background()
	add := func(text, user string) string {
		r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].ID
	}
	car := add("Alice purchased a new automobile", "alice")
	add("Alice likes green tea", "alice")
	bobCar := add("Bob purchased an automobile too", "bob")

	q := client.SearchRequest{Query: "car bought", UserID: "alice", Explain: true}
	q.Mode = engram.SearchBM25
	if hits, err := c.Search(ctx, q); err != nil || len(hits) != 0 {
		t.Fatalf("bm25 shares no keyword, got %v %v", hits, err)
	}
	q.Mode = engram.SearchVector
	hits, err := c.Search(ctx, q)
	if err != nil || len(hits) == 0 || hits[0].ID != car {
		t.Fatalf("vector: %+v %v", hits, err)
	}
	for _, h := range hits {
		if h.UserID != "alice" {
			t.Fatalf("vector search leaked another user's memory: %+v", h)
		}
	}
	q.Mode = ""
	hits, err = c.Search(ctx, q)
	if err != nil || len(hits) == 0 || hits[0].ID != car {
		t.Fatalf("hybrid: %+v %v", hits, err)
	}
	x := hits[0].Explain
	if x == nil || x.VectorRank != 1 || x.Vector <= 0 || x.BM25Rank != 0 || x.Score != hits[0].Score {
		t.Fatalf("explain: %+v", x)
	}
	if err := c.Delete(ctx, car); err != nil {
		t.Fatal(err)
	}
	hits, _ = c.Search(ctx, client.SearchRequest{Query: "car bought", Mode: engram.SearchVector, Limit: 10})
	for _, h := range hits {
		if h.ID == car {
			t.Fatal("deleted memory still found by vector search")
		}
	}
	if len(hits) == 0 || hits[0].ID != bobCar {
		t.Fatalf("after delete: %+v", hits)
	}
	// Updating re-embeds.
	if _, err := c.Update(ctx, bobCar, "Bob drinks coffee", nil); err != nil {
		t.Fatal(err)
	}
	hits, _ = c.Search(ctx, client.SearchRequest{Query: "vehicle purchase", Mode: engram.SearchVector, Limit: 1})
	if len(hits) == 1 && hits[0].ID == bobCar && hits[0].Score > 0.5 {
		t.Fatalf("stale vector after update: %+v", hits)
	}
	_, err = c.Search(ctx, client.SearchRequest{Query: "x", Mode: "fuzzy"})
	wantCode(t, err, engram.CodeInvalid)
}

// TestTimeAwareRanking: a date in the question lifts the memory from then.
func TestTimeAwareRanking(t *testing.T) {
	_, c := hybridServer(t)
	ctx := context.Background()
	at := func(y int, m time.Month, d int) *time.Time { t := time.Date(y, m, d, 12, 0, 0, 0, time.UTC); return &t }
	var ids []string
	// The same words in three sessions: only time can tell them apart.
	for i, when := range []*time.Time{at(2023, 5, 8), at(2023, 7, 20), at(2023, 9, 2)} {
		r, err := c.Add(ctx, client.AddRequest{Content: "Caroline went to a support group meeting", RunID: fmt.Sprintf("session-%d", i), Timestamp: when})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].ID)
	}
	m, _ := c.Get(ctx, ids[1])
	if !m.CreatedAt.Equal(*at(2023, 7, 20)) {
		t.Fatalf("timestamp not kept: %v", m.CreatedAt)
	}
	hits, err := c.Search(ctx, client.SearchRequest{Query: "What did Caroline do on 20 July 2023?", Explain: true})
	if err != nil || len(hits) != 3 || hits[0].ID != ids[1] || hits[0].Explain.Time != 1 {
		t.Fatalf("dated question: %+v %v", hits, err)
	}
	hits, _ = c.Search(ctx, client.SearchRequest{Query: "What did Caroline do most recently?"})
	if hits[0].ID != ids[2] {
		t.Fatalf("latest: %+v", hits)
	}
	hits, _ = c.Search(ctx, client.SearchRequest{Query: "support group", Filters: map[string]any{"created_at": map[string]any{"lt": "2023-06-01"}}})
	if len(hits) != 1 || hits[0].ID != ids[0] {
		t.Fatalf("date filter: %+v", hits)
	}
}

// TestVectorsFollowKeys: vectors are sealed like content, move with key
// rotation, and are gone with an erased user.
func TestVectorsFollowKeys(t *testing.T) {
	s, c := hybridServer(t)
	ctx := context.Background()
	r, err := c.Add(ctx, client.AddRequest{Content: "Dana bought a vehicle", UserID: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	tenant, _ := s.Engine.TenantByName(ctx, "acme")
	for {
		_, remaining, err := s.Engine.Reencrypt(ctx, tenant.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if remaining == 0 {
			break
		}
	}
	hits, err := c.Search(ctx, client.SearchRequest{Query: "automobile purchase", Mode: engram.SearchVector})
	if err != nil || len(hits) != 1 || hits[0].ID != r[0].ID {
		t.Fatalf("after rotation: %+v %v", hits, err)
	}
	var vecModel string
	var vecLen int
	db := rawDB(t, s)
	db.QueryRow(`SELECT vector_model, length(vector) FROM memories WHERE id = ?`, r[0].ID).Scan(&vecModel, &vecLen)
	if vecModel != "embedtest/1" || vecLen != 64*4+84 {
		t.Fatalf("stored vector: %q %d bytes (want a sealed 64-d float32 vector)", vecModel, vecLen)
	}
	if _, err := c.ForgetUser(ctx, "dana"); err != nil {
		t.Fatal(err)
	}
	hits, _ = c.Search(ctx, client.SearchRequest{Query: "automobile purchase", Mode: engram.SearchVector})
	if len(hits) != 0 {
		t.Fatalf("erased user's vector still searchable: %+v", hits)
	}
}
