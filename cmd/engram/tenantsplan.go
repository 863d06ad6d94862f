package main

import (
	"context"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/retention"
)

type tenantsPlanCmd struct {
	Name string `arg:"" help:"Tenant name."`
	Plan string `arg:"" enum:"free,pro,enterprise" help:"free, pro or enterprise."`
	// -1: not given (kong has no optional int); retention.New tells the
	// plans that need it from those that refuse it.
	Days int `name:"retention-days" default:"-1" help:"Days memories are kept (enterprise only: 1 to 36500)."`
	dataFlags
}

// Run sets the tenant's retention plan. The next retention sweep (serve
// runs one every hour) deletes what the new plan no longer keeps, unless
// a legal hold covers it.
func (c *tenantsPlanCmd) Run(ctx context.Context, s *ioStreams) error {
	p, err := retention.New(c.Plan, c.Days)
	if err != nil {
		return engram.Errorf(engram.CodeInvalid, "%s", err.Error())
	}
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.SetRetentionPlan(ctx, c.Name, p); err != nil {
		return err
	}
	out := map[string]any{"tenant": c.Name, "plan": p.Name, "retention_days": nil}
	if p.Days > 0 {
		out["retention_days"] = p.Days
	}
	return printJSON(s, out)
}
