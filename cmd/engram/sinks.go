package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/spec"
	"github.com/engram-memory/engram/internal/engine"
)

// The Dispatcher is the engine's audit hook, and tells the back-fill
// which entries no sink accepted.
var _ audit.AckSink = (*sink.Dispatcher)(nil)

// auditSinkFlags configure where audit entries are copied (see
// docs/AUDIT-SINKS.md).
type auditSinkFlags struct {
	// sep:"none": a sink's own options hold commas (allow=loopback,http);
	// spec.Parse splits a value on ';' and whitespace itself, so one flag
	// or the environment variable may also carry several sinks.
	AuditSinks      []string `name:"audit-sink" env:"ENGRAM_AUDIT_SINKS" sep:"none" placeholder:"SPEC" help:"Copy every audit entry to this sink (repeatable; env: ';'-separated): file:PATH, syslog+udp|tcp|tls://HOST:PORT, https://HOST/PATH#spool=DIR. Options follow '#'; see docs/AUDIT-SINKS.md."`
	AuditFailClosed bool     `name:"audit-fail-closed" env:"ENGRAM_AUDIT_FAIL_CLOSED" help:"Refuse a mutating request (503) when no audit sink accepted its entry; needs --audit-sink."`
}

// parse validates the sink configuration without opening anything, so a
// bad value stops the server before it touches the data directory. Errors
// name sinks by scheme, host and path only (spec redacts), never a secret.
func (f *auditSinkFlags) parse() ([]spec.Spec, error) {
	specs, err := spec.Parse(strings.Join(f.AuditSinks, ";"), os.Getenv)
	if err != nil {
		return nil, err
	}
	if f.AuditFailClosed && len(specs) == 0 {
		return nil, fmt.Errorf("--audit-fail-closed needs at least one --audit-sink")
	}
	return specs, nil
}

// open builds the sinks and their Dispatcher, and the engine option that
// hands it every entry. With no sinks it returns nil and no option: the
// engine's default path is untouched. The caller closes the Dispatcher
// once nothing can record an entry any more (after the HTTP server has
// drained and background work has stopped), which stops the webhook
// workers and leaves undelivered events in their spools.
func (f *auditSinkFlags) open(specs []spec.Spec, log *slog.Logger) (*sink.Dispatcher, []engine.Option, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	sinks, err := spec.Open(specs, log)
	if err != nil {
		return nil, nil, err
	}
	mode := sink.BestEffort
	if f.AuditFailClosed {
		mode = sink.FailClosed
	}
	d, err := sink.NewDispatcher(mode, log, sinks...)
	if err != nil {
		for _, s := range sinks {
			_ = s.Close()
		}
		return nil, nil, err
	}
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	log.Info("audit sinks", "component", "audit-sink", "sinks", names, "fail_closed", f.AuditFailClosed)
	// The errors name the sink, tenant and seq, never the entry.
	report := func(err error) { log.Warn("audit entry not exported", "component", "audit-sink", "error", err) }
	if f.AuditFailClosed {
		return d, []engine.Option{engine.WithAuditSinkFailClosed(d, report)}, nil
	}
	return d, []engine.Option{engine.WithAuditSink(d, report)}, nil
}
