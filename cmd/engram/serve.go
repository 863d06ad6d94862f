package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/console"
	"github.com/engram-memory/engram/internal/deletion"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/mcp"
	"github.com/engram-memory/engram/internal/seal"
)

type serveCmd struct {
	dataFlags
	embedFlags
	sealFlags
	auditSinkFlags
	rateLimitFlags
	llmFlags
	mailFlags
	ssoFlags
	Addr      string        `name:"addr" env:"ENGRAM_ADDR" default:"127.0.0.1:8420" help:"Listen address."`
	LogFormat string        `name:"log-format" env:"ENGRAM_LOG_FORMAT" enum:"json,text" default:"json" help:"Log format (json or text)."`
	LogLevel  slog.Level    `name:"log-level" env:"ENGRAM_LOG_LEVEL" default:"info" help:"Log level (debug, info, warn, error)."`
	Drain     time.Duration `name:"shutdown-timeout" default:"30s" help:"How long in-flight requests may run after a stop signal."`
	PublicURL string        `name:"public-url" env:"ENGRAM_PUBLIC_URL" help:"The URL clients reach this server at (e.g. https://memory.example.com): named in MCP's OAuth protected-resource metadata and 401 challenges instead of the request's Host header."`
	// Not in auditSinkFlags: `bench api` shares those, and a benchmark
	// never back-fills a data directory's trail into its sinks.
	BackfillEvery time.Duration `name:"audit-backfill-interval" env:"ENGRAM_AUDIT_BACKFILL_INTERVAL" default:"10s" help:"With --audit-sink: how often to publish audit entries the sinks lack (offline commands, a crash, refusals)."`
	MaintainEvery time.Duration `name:"maintenance-interval" env:"ENGRAM_MAINTENANCE_INTERVAL" default:"30s" help:"How often background maintenance runs (re-encryption after a key rotation, the deletion sweep, expired idempotency records and OAuth codes); with several nodes on one database, also how soon another node takes it over when its node stops."`

	RequestTimeout time.Duration `name:"request-timeout" env:"ENGRAM_REQUEST_TIMEOUT" default:"50s" help:"How long one request may work; past it, it fails with 503 and commits nothing. The response write timeout is this plus 10s, so that answer still reaches the client."`
	DeletionGrace  time.Duration `name:"deletion-grace" env:"ENGRAM_DELETION_GRACE" default:"168h" help:"How long an account that asked to be deleted (DELETE /v1/me) stays read-only, and can cancel, before it is erased: 1m to 8760h."`
	ImportDir      string        `name:"import-spool-dir" env:"ENGRAM_IMPORT_SPOOL_DIR" type:"path" help:"Where POST /v1/import spools the uploaded document while importing it (default: the system's temporary directory); it is plaintext there until the request ends, so choose an encrypted volume if that matters."`
	ImportMax      int64         `name:"import-max-bytes" env:"ENGRAM_IMPORT_MAX_BYTES" default:"1073741824" help:"The largest document POST /v1/import accepts (413 beyond); it is spooled to a temporary file while imported."`
	MaxInflight    *int          `name:"max-inflight" env:"ENGRAM_MAX_INFLIGHT" placeholder:"N" help:"Requests worked on at once; past this a request is answered 503 overloaded with Retry-After: 1 at once instead of queueing (health checks and metrics exempt). Default: 64 per CPU core; 0 turns shedding off."`
	PprofAddr      string        `name:"pprof-addr" placeholder:"127.0.0.1:PORT" help:"Serve Go runtime profiles (/debug/pprof/: CPU, heap, mutex, block) on this loopback address, unauthenticated; off by default (docs/OPERATIONS.md, \"Profiling\")."`
	MinFree        string        `name:"min-free-space" env:"ENGRAM_MIN_FREE_SPACE" default:"256MiB" help:"Refuse new content (507) when the data directory's filesystem has less free space than this (e.g. 256MiB, 2GB, 5%; 0: never), so reads and erasures keep working."`
}

// inflightPerCore is serve's default --max-inflight per CPU core. A mixed
// request costs the server a few milliseconds of CPU (docs/BENCHMARKS.md,
// "Throughput"), so 64 waiting per core is already a fraction of a second
// of queue; past that, a quick 503 serves a client better than a slow 200.
const inflightPerCore = 64

func defaultMaxInflight() int { return inflightPerCore * runtime.GOMAXPROCS(0) }

// writeMargin is how much longer than a request's deadline its response
// may take to write: the last commit's fsync, a checkpoint after an
// erasure, encoding the answer.
const writeMargin = 10 * time.Second

// The default tenant and the file its owner key goes to on first start.
const (
	defaultTenant = "default"
	adminKeyFile  = "admin.key"
)

func (c *serveCmd) Run(ctx context.Context, s *ioStreams) error {
	var h slog.Handler = slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: c.LogLevel})
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: c.LogLevel})
	}
	log := slog.New(h)

	// Known-answer tests of every primitive before anything else: a build
	// whose crypto is broken must not open its port.
	if err := seal.SelfTest(); err != nil {
		return fmt.Errorf("cryptographic self-test failed; not serving: %w", err)
	}

	publicURL := ""
	if c.PublicURL != "" {
		var err error
		if publicURL, err = httpapi.ParsePublicURL(c.PublicURL); err != nil {
			return err
		}
	}
	limits, err := c.rateLimitFlags.limits()
	if err != nil {
		return err
	}
	specs, err := c.auditSinkFlags.parse()
	if err != nil {
		return err
	}
	if c.BackfillEvery <= 0 {
		return fmt.Errorf("--audit-backfill-interval must be positive")
	}
	if c.MaintainEvery <= 0 {
		return fmt.Errorf("--maintenance-interval must be positive")
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("--request-timeout must be positive")
	}
	maxInflight := defaultMaxInflight()
	if c.MaxInflight != nil {
		if *c.MaxInflight < 0 {
			return fmt.Errorf("--max-inflight must be 0 (off) or positive")
		}
		maxInflight = *c.MaxInflight
	}
	if err := deletion.CheckGrace(c.DeletionGrace); err != nil {
		return fmt.Errorf("--deletion-grace: %w", err)
	}
	opts, err := c.embedFlags.options(ctx)
	if err != nil {
		return err
	}
	guard, err := c.storageGuard(log)
	if err != nil {
		return err
	}
	opts = append(opts, engine.WithStorageGuard(guard.Room), c.ssoFlags.option(), engine.WithDeletionGrace(c.DeletionGrace))
	// Links in invitations and reset mails start with the public URL, or
	// with the listen address when none is set (a local setup).
	linkBase := publicURL
	if linkBase == "" {
		linkBase = "http://" + c.Addr
	}
	idOpt, err := c.mailFlags.identity(linkBase)
	if err != nil {
		return err
	}
	opts = append(opts, idOpt)
	llmOpt, err := c.llmFlags.option()
	if err != nil {
		return err
	}
	if llmOpt != nil {
		opts = append(opts, llmOpt)
	}
	sinks, sinkOpts, err := c.auditSinkFlags.open(specs, log)
	if err != nil {
		return err
	}
	if sinks != nil {
		// Deferred first, so it runs last: after the HTTP server drained
		// (below), maintenance stopped and the store closed, nothing can
		// record an entry any more.
		defer func() {
			if err := sinks.Close(); err != nil {
				log.Error("closing audit sinks", "component", "audit-sink", "error", err)
			}
		}()
	}
	l, err := openLocalFor(ctx, c.dataFlags, useServe, append(append(opts, sinkOpts...), engine.WithLogger(log))...)
	if err != nil {
		return err
	}
	defer l.Close()
	// Reset mails still going out when the server stops are cancelled and
	// waited for before the store closes (deferred after Close: runs first).
	defer l.DrainBackground()
	if err := bootstrap(ctx, l, c.Data, s); err != nil {
		return err
	}
	guard.State() // a first reading, so a low disk is logged at start

	// Re-encryption after key rotation and expiry sweeps run in the
	// background; they stop before the store closes.
	mctx, mstop := context.WithCancel(context.WithoutCancel(ctx))
	mdone := make(chan struct{})
	go func() {
		defer close(mdone)
		l.RunMaintenance(mctx, c.MaintainEvery, func(err error) {
			log.Error("maintenance failed; retrying later", "component", "maintenance", "error", err)
		})
	}()
	defer func() { mstop(); <-mdone }()
	// Other nodes' changes as they commit (PostgreSQL's LISTEN/NOTIFY; a
	// no-op on the embedded store): caches catch up early. Stopped with
	// maintenance.
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		l.WatchChanges(mctx)
	}()
	defer func() { mstop(); <-wdone }()
	// LLM extraction of pending episodes (a no-op without --llm-url),
	// stopped with maintenance, before the store closes.
	xwait := l.StartExtraction(mctx)
	defer func() { mstop(); xwait() }()

	// Audit sealing and the retention sweep: one loop, stopped (and waited
	// for) before the store closes, like maintenance.
	actx, astop := context.WithCancel(context.WithoutCancel(ctx))
	adone := make(chan struct{})
	go func() {
		defer close(adone)
		l.RunAuditSealer(actx, c.SealEvery, c.sealFlags.policy(), func(err error) {
			log.Error("audit sealing failed; retrying later", "component", "audit", "error", err)
		})
	}()
	defer func() { astop(); <-adone }()

	// The audit back-fill publishes what the sinks lack: entries of
	// offline commands, of a crash, of a time no sink accepted. Once at
	// start, then every interval; stopped after the HTTP server drained
	// (deferred last, so it runs first) with one last pass that records
	// how far the inline publications got, so a restart does not publish
	// them again.
	if sinks != nil {
		bctx, bstop := context.WithCancel(context.WithoutCancel(ctx))
		bdone := make(chan struct{})
		report := func(err error) {
			log.Warn("audit back-fill incomplete; retrying later", "component", "audit-sink", "error", err)
		}
		go func() {
			defer close(bdone)
			l.RunAuditBackfill(bctx, c.BackfillEvery, report)
		}()
		defer func() {
			bstop()
			<-bdone
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := l.BackfillAudit(fctx); err != nil {
				report(err)
			}
		}()
	}

	// Refused keys are counted in memory and recorded once per window.
	// Deferred after the back-fill's stop, so it runs before it: after the
	// HTTP server drained, the last window is flushed (and its entries
	// published) before the back-fill's final pass and the store's close.
	fctx, fstop := context.WithCancel(context.WithoutCancel(ctx))
	fdone := make(chan struct{})
	go func() {
		defer close(fdone)
		l.RunAuthFailureFlush(fctx, c.AuthFailureWindow, func(err error) {
			log.Error("recording refused API keys failed; retrying next window", "component", "audit", "error", err)
		})
	}()
	defer func() { fstop(); <-fdone }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "engram_records_pending_reencryption",
		Help: "Records still sealed under an old data key version after a key rotation.",
	}, func() float64 {
		n, err := l.Pending(context.Background(), "")
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	reg.MustRegister(unreadableMetric(l.Engine))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "engram_retention_swept_total",
		Help: "Memories the retention sweep deleted (past their expiration_date or their tenant plan's window).",
	}, func() float64 { return float64(l.RetentionSwept()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "engram_deletions_completed_total",
		Help: "Deletions (accounts, end users) the deletion sweep completed at the end of their grace period.",
	}, func() float64 { return float64(l.DeletionsDone()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "engram_deletions_held_total",
		Help: "Times the deletion sweep found a deletion due and left it pending (a legal hold, or an account that became its organisation's only owner).",
	}, func() float64 { return float64(l.DeletionsHeld()) }))
	reg.MustRegister(guard.Collector())
	// Which background work this node leads (engine/leases.go): with
	// several nodes on one database, one node per work shows 1.
	for _, w := range engine.Works {
		if w == engine.WorkAuditBackfill && sinks == nil {
			continue // no back-fill without a sink
		}
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "engram_background_leader",
			Help:        "1 when this node holds the lease of the background work (one node of those sharing a database does each), 0 when another node does it.",
			ConstLabels: prometheus.Labels{"work": w},
		}, func() float64 {
			if l.Leading(w) {
				return 1
			}
			return 0
		}))
	}
	if sinks != nil {
		reg.MustRegister(sinks.Collector())
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "engram_audit_backfill_published_total",
			Help: "Audit entries the back-fill published because no sink had them (offline commands, a crash, refusals).",
		}, func() float64 { return float64(l.AuditBackfilled()) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "engram_audit_backfill_pending",
			Help: "Audit entries no sink is known to have yet; the back-fill publishes them.",
		}, func() float64 {
			n, err := l.AuditPending(context.Background())
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}

	if c.PprofAddr != "" {
		stop, err := startPprof(c.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: httpapi.New(httpapi.Config{
			Memories: l, Keys: l, Privacy: l, Auth: l, Audit: l, AuditProofs: l, Export: l, Scopes: l, Observe: l, Graph: l, Identity: l, Deletion: l, Logger: log, Version: version, Metrics: reg,
			SSO: l, SSOSignIn: l, Import: l, ImportMaxBytes: c.ImportMax, ImportDir: c.ImportDir,
			Health:    map[string]string{"crypto_profile": seal.Profile(), "version": version},
			MCP:       mcp.HTTPHandler(mcp.New(l, mcp.Options{Version: version, Logger: log, Observe: l, Graph: l})),
			OAuth:     l, // MCP hosts sign in (docs/IDENTITY.md, "OAuth for MCP hosts")
			PublicURL: publicURL,
			Console:   console.Handler(),
			Storage:   guard.Health,
			Database:  databaseHealth(l.db),
			// Past its deadline a request commits nothing (the store
			// checks before each commit) and answers 503; the write
			// timeout leaves the margin to deliver that answer.
			RequestTimeout: c.RequestTimeout,
			Limits:         limits,
			MaxInflight:    maxInflight,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      c.RequestTimeout + writeMargin,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("listening", "component", "serve", "addr", ln.Addr().String(), "data", c.Data, "store", c.storeKind(), "version", version, "crypto_profile", seal.Profile())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests finish; every write that was
	// acknowledged had committed before its response was sent.
	log.Info("shutting down", "component", "serve")
	sctx, cancel := context.WithTimeout(context.Background(), c.Drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Vector indexes changed since their last snapshot are written now,
	// so that the next start loads them instead of rebuilding.
	if err := l.SaveIndexSnapshots(sctx); err != nil {
		log.Warn("index snapshots not written", "component", "serve", "error", err)
	}
	log.Info("stopped", "component", "serve")
	return nil
}

// bootstrap creates the default tenant and its owner key on an empty data
// directory, prints the key once and writes it to DIR/admin.key.
func bootstrap(ctx context.Context, l *localEngine, dir string, s *ioStreams) error {
	_, err := l.TenantByName(ctx, defaultTenant)
	if err == nil {
		return nil
	}
	if engram.ErrorCode(err) != engram.CodeNotFound {
		return err
	}
	nt, err := l.CreateTenant(ctx, defaultTenant)
	if engram.ErrorCode(err) == engram.CodeConflict {
		// Another node on the same PostgreSQL database created it between
		// our look and our write: its operator has the owner key.
		return nil
	}
	if err != nil {
		return err
	}
	path := filepath.Join(dir, adminKeyFile)
	if err := writeSecretFile(path, nt.Key.Secret+"\n"); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(s.out, "Created tenant %q with an owner API key (shown once; also in %s):\n\n    %s\n\n", defaultTenant, path, nt.Key.Secret)
	return nil
}

// writeSecretFile writes a 0600 file atomically (temp file + rename).
func writeSecretFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
