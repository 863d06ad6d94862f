package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/engram-memory/engram/client"
)

// APIResult is what `engram bench api` reports.
type APIResult struct {
	Requests int     `json:"requests"`
	Add      Latency `json:"add"`
	Search   Latency `json:"search"`
	AddPerS  float64 `json:"add_per_s"`
}

// words is the synthetic vocabulary: enough distinct terms that postings
// lists vary in length as in real text.
var words = strings.Fields(`alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy
rupert sybil trent victor walter coffee tea juice water lisbon paris tokyo berlin nairobi lima
hiking chess guitar painting cooking running swimming reading gardening cycling allergic peanuts
shellfish gluten birthday meeting project deadline budget report launch review invoice contract
prefers likes hates visited moved started finished planned bought sold adopted learned forgot
dog cat parrot car bicycle house garden kitchen office school hospital museum library market
monday tuesday wednesday thursday friday saturday sunday morning evening night spring summer`)

func sentence(r *rand.Rand, n int) string {
	b := make([]string, n)
	for i := range b {
		b[i] = words[r.IntN(len(words))]
	}
	return strings.Join(b, " ")
}

// API adds n memories one request at a time, then runs n searches, through
// c, and reports the latency of each call as the client saw it.
func API(ctx context.Context, c *client.Client, n int, seed uint64) (*APIResult, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	adds := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		text := fmt.Sprintf("%s (note %d)", sentence(r, 12+r.IntN(12)), i)
		t0 := time.Now()
		if _, err := c.Add(ctx, client.AddRequest{Content: text, UserID: fmt.Sprintf("user-%d", i%10)}); err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
		adds = append(adds, time.Since(t0))
	}
	elapsed := time.Since(start)
	searches := make([]time.Duration, 0, n)
	for range n {
		q := sentence(r, 3+r.IntN(4))
		t0 := time.Now()
		if _, err := c.Search(ctx, client.SearchRequest{Query: q, Limit: 10}); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		searches = append(searches, time.Since(t0))
	}
	return &APIResult{Requests: n, Add: Summarise(adds), Search: Summarise(searches), AddPerS: float64(n) / elapsed.Seconds()}, nil
}
