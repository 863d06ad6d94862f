package main

import (
	"fmt"
	"time"

	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/ratelimit"
)

// rateLimitFlags set the API's request rate limits (httpapi.Limits). The
// defaults are httpapi.DefaultLimits; 0 turns a limit off.
type rateLimitFlags struct {
	PerAddress      float64 `name:"rate-limit-address" env:"ENGRAM_RATE_LIMIT_ADDRESS" default:"100" help:"Requests per second per source address (IPv6: per /64), checked before authentication; 0 turns it off."`
	PerAddressBurst int     `name:"rate-limit-address-burst" env:"ENGRAM_RATE_LIMIT_ADDRESS_BURST" default:"500" help:"Requests a source address may send at once above its rate."`
	PerKey          float64 `name:"rate-limit-key" env:"ENGRAM_RATE_LIMIT_KEY" default:"200" help:"Requests per second per API key, checked after authentication; 0 turns it off."`
	PerKeyBurst     int     `name:"rate-limit-key-burst" env:"ENGRAM_RATE_LIMIT_KEY_BURST" default:"1000" help:"Requests a key may send at once above its rate."`
	Nodes           int     `name:"rate-limit-nodes" env:"ENGRAM_RATE_LIMIT_NODES" default:"1" help:"Nodes serving the API behind one load balancer (several nodes on one PostgreSQL database): each node enforces this share of every rate and burst above, in its own memory, so that the cluster allows about the configured limits when the balancer spreads requests evenly."`
	// Not a rate limit, but the same defence: what refused keys cost the
	// database (engine/authfailures.go).
	AuthFailureWindow time.Duration `name:"audit-auth-failure-window" env:"ENGRAM_AUDIT_AUTH_FAILURE_WINDOW" default:"1m" help:"Refused API keys are counted in memory and recorded as one audit entry per source, reason and window of this length (a crash loses at most one window of counts)."`
}

func (f rateLimitFlags) limits() (httpapi.Limits, error) {
	if f.AuthFailureWindow <= 0 {
		return httpapi.Limits{}, fmt.Errorf("--audit-auth-failure-window must be positive")
	}
	if f.PerAddress < 0 || f.PerKey < 0 || f.PerAddressBurst < 1 || f.PerKeyBurst < 1 {
		return httpapi.Limits{}, fmt.Errorf("rate limits: rates must be 0 (off) or positive, bursts at least 1")
	}
	if f.Nodes < 1 {
		return httpapi.Limits{}, fmt.Errorf("--rate-limit-nodes must be at least 1")
	}
	// Each node limits in memory, without a database round trip per
	// request: its share of the cluster's limits (docs/OPERATIONS.md,
	// "Rate limits").
	return httpapi.Limits{
		PerAddress: ratelimit.Rate{PerSecond: f.PerAddress, Burst: f.PerAddressBurst}.Share(f.Nodes),
		PerKey:     ratelimit.Rate{PerSecond: f.PerKey, Burst: f.PerKeyBurst}.Share(f.Nodes),
	}, nil
}
