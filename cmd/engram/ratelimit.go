package main

import (
	"fmt"

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
}

func (f rateLimitFlags) limits() (httpapi.Limits, error) {
	if f.PerAddress < 0 || f.PerKey < 0 || f.PerAddressBurst < 1 || f.PerKeyBurst < 1 {
		return httpapi.Limits{}, fmt.Errorf("rate limits: rates must be 0 (off) or positive, bursts at least 1")
	}
	return httpapi.Limits{
		PerAddress: ratelimit.Rate{PerSecond: f.PerAddress, Burst: f.PerAddressBurst},
		PerKey:     ratelimit.Rate{PerSecond: f.PerKey, Burst: f.PerKeyBurst},
	}, nil
}
