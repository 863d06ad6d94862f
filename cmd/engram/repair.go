package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/engram-memory/engram/internal/engine"
)

// repairCmd removes records that can no longer be decrypted: left by a
// write that committed under a key an erasure destroyed (before writes
// checked the key's generation), or damaged. Reads already skip them; this
// makes the store clean again.
type repairCmd struct {
	Tenant string `name:"tenant" help:"Only this tenant (default: every tenant)."`
	DryRun bool   `name:"dry-run" help:"Report what would be removed; change nothing."`
	JSON   bool   `name:"json" help:"Print the reports as JSON."`
	dataFlags
}

func (c *repairCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	reps, err := l.Repair(ctx, c.Tenant, c.DryRun)
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(reps)
	}
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	for _, r := range reps {
		fmt.Fprintf(s.out, "%s: %s %d memories, %d history entries", r.Tenant, verb, len(r.Memories), r.History)
		if r.Changed > 0 {
			fmt.Fprintf(s.out, " (%d changed meanwhile, left alone: run again)", r.Changed)
		}
		fmt.Fprintln(s.out)
		if len(r.Memories) > 0 {
			fmt.Fprintf(s.out, "  memories: %s\n", strings.Join(r.Memories, " "))
		}
	}
	return nil
}

// unreadableMetric exports how often reads met (and skipped) a record that
// no longer opens; any increase means `engram repair` has work to do.
func unreadableMetric(e *engine.Engine) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "engram_records_unreadable_total",
		Help: "Times a read skipped (or refused) a record that can no longer be decrypted; see engram repair.",
	}, func() float64 { return float64(e.Unreadable()) })
}
