package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/httpapi"
)

type benchCmd struct {
	API    benchAPICmd    `cmd:"" name:"api" help:"Measure add and search latency over HTTP against a fresh server in a temporary data directory."`
	LoCoMo benchLoCoMoCmd `cmd:"" name:"locomo" help:"The LoCoMo retrieval benchmark through the engine's real write and search path (docs/BENCHMARKS.md)."`
	Scale  benchScaleCmd  `cmd:"" name:"scale" help:"Ingest rate, search latency and memory at scale in one tenant."`
	Load   benchLoadCmd   `cmd:"" name:"load" help:"Many clients at once through the real HTTP path: throughput, latency percentiles, errors and the server's CPU (docs/BENCHMARKS.md, Throughput)."`
}

type benchLoadCmd struct {
	Concurrency int           `name:"concurrency" default:"8" help:"Clients, each sending its next request when the last returned (1 to 1024)."`
	Duration    time.Duration `name:"duration" default:"20s" help:"Length of the timed phase (at most 1h)."`
	Mix         string        `name:"mix" default:"add=30,search=50,get=20" help:"Weights of the operations: add, search (hybrid, limit 10), get, observe."`
	Corpus      int           `name:"corpus" default:"1000" help:"Memories written (one per request, 4 at a time) before the timed phase."`
	Users       int           `name:"users" default:"20" help:"End users (user_id) the requests spread over."`
	Seed        uint64        `name:"seed" default:"1" help:"Seed of the synthetic text."`
	URL         string        `name:"url" help:"Load this running server (with --key or ENGRAM_API_KEY; its CPU is read from its /metrics) instead of a fresh serve child process."`
	Key         string        `name:"key" env:"ENGRAM_API_KEY" help:"API key for --url."`
	Server      string        `name:"server-bin" type:"existingfile" help:"The engram binary the child server runs (default: this one), e.g. an older build to compare with."`
	ServeArgs   []string      `name:"serve-arg" sep:"none" placeholder:"FLAG" help:"Extra flag for the child server (repeatable), e.g. --serve-arg=--max-inflight=32. ENGRAM_* variables are not passed to it."`
	Stores      []string      `name:"store" sep:"," default:"sqlite" help:"Stores to compare, side by side in one run: sqlite (the embedded store), postgres (a fresh database per run, through --postgres)."`
	Nodes       []int         `name:"nodes" sep:"," default:"1" help:"Nodes sharing one PostgreSQL database, e.g. 1,2,3 (clients round-robin over them; sqlite runs on one node)."`
	Runs        int           `name:"runs" default:"1" help:"Rounds of a comparison (each runs every setup once); the table shows medians."`
	Tenants     int           `name:"tenants" default:"1" help:"Tenants the load spreads over (client w sends as tenant w mod N; tenants after the first are made with 'tenants create')."`
	Postgres    string        `name:"postgres" env:"ENGRAM_BENCH_POSTGRES" help:"Admin URL of a PostgreSQL server whose role may CREATE DATABASE (best an ordinary role, as Engram's own: row-level security then applies); each postgres run gets a new database, dropped after it."`
	PostgresPID int           `name:"postgres-pid" help:"The PostgreSQL postmaster's pid, when the server runs on this machine: its CPU (and its backends') per request is reported too."`
	JSON        bool          `name:"json" help:"Print one JSON object as the last line (a comparison: one JSON array of setups with their runs)."`
}

// comparing reports whether the flags ask for more than the one default
// setup (the embedded store, one node, one tenant, one run).
func (c *benchLoadCmd) comparing() bool {
	return c.Runs != 1 || c.Tenants != 1 || len(c.Nodes) != 1 || c.Nodes[0] != 1 || len(c.Stores) != 1 || c.Stores[0] != "sqlite"
}

func (c *benchLoadCmd) Run(ctx context.Context, s *ioStreams) error {
	mix, err := bench.ParseMix(c.Mix)
	if err != nil {
		return err
	}
	opts := bench.LoadOptions{URL: c.URL, Key: c.Key, Concurrency: c.Concurrency, Duration: c.Duration, Mix: mix,
		Corpus: c.Corpus, Users: c.Users, Seed: c.Seed, Log: s.err,
		LoaderCPU: func() (float64, error) { return bench.ProcCPU("self") }}
	if c.URL == "" {
		opts.URL = "http://127.0.0.1" // checked now, set once the child listens
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	where := "url"
	if c.URL != "" {
		if c.Key == "" {
			return errors.New("--url needs --key or ENGRAM_API_KEY")
		}
		if c.Server != "" || len(c.ServeArgs) > 0 {
			return errors.New("--server-bin and --serve-arg start a child server: not with --url")
		}
		if c.comparing() {
			return errors.New("--store, --nodes, --tenants and --runs start child servers: not with --url")
		}
		opts.ServerCPU = func() (float64, error) { return bench.MetricsCPU(ctx, c.URL) }
	} else {
		where = "child"
		bin := c.Server
		if bin == "" {
			if bin, err = os.Executable(); err != nil {
				return err
			}
		}
		if c.comparing() {
			return c.compare(ctx, s, opts, bin)
		}
		srv, err := bench.StartServe(ctx, bin, c.ServeArgs)
		if err != nil {
			return err
		}
		defer srv.Close()
		opts.URL, opts.Key, opts.ServerCPU = srv.URL, srv.Key, srv.CPU
	}
	res, err := bench.RunLoad(ctx, opts)
	if err != nil {
		return err
	}
	res.Server = where
	if err := res.WriteText(s.out); err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(res)
	}
	return nil
}

// compare runs the load against every setup of --store × --nodes, --runs
// rounds, and prints them side by side.
func (c *benchLoadCmd) compare(ctx context.Context, s *ioStreams, opts bench.LoadOptions, bin string) error {
	setups, err := bench.Setups(c.Stores, c.Nodes)
	if err != nil {
		return err
	}
	cs, err := bench.CompareLoad(ctx, bench.CompareOptions{Load: opts, Setups: setups, Runs: c.Runs, Tenants: c.Tenants, Bin: bin,
		Extra: c.ServeArgs, Postgres: c.Postgres, DatabasePID: c.PostgresPID, Log: s.err})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "load  %d clients, mix %s, %d tenant(s), %d users, corpus %d memories, %s per run\n",
		opts.Concurrency, opts.Mix, c.Tenants, opts.Users, opts.Corpus, opts.Duration)
	if err := bench.WriteComparison(s.out, cs); err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(cs)
	}
	return nil
}

type benchLoCoMoCmd struct {
	File          string   `name:"file" required:"" type:"existingfile" help:"locomo10.json."`
	Conversations []string `name:"conversations" sep:"," help:"sample_ids to run (default: all)."`
	Categories    []int    `name:"categories" sep:"," help:"Question categories (default 1,2,3,4)."`
	Mode          string   `name:"mode" enum:"hybrid,bm25,vector" default:"hybrid" help:"Ranking: hybrid, bm25 or vector."`
	Questions     string   `name:"questions" type:"existingfile" help:"Replace the dataset's questions with this file's."`
	K             int      `name:"k" default:"50" help:"Results asked per question (at least 50)."`
	Ingest        string   `name:"ingest" enum:"add,observe" default:"add" help:"How turns are written: add (one memory each) or observe (each session through Observe, so entities and facts exist)."`
	Threshold     *float64 `name:"threshold" help:"Search threshold, 0 to 1 (default: the engine's, 0.25; 0 keeps every result)."`
	Unrelated     bool     `name:"unrelated" help:"Also ask each question in another conversation and report the share that come back empty."`
	JSON          bool     `name:"json" help:"Print one JSON object as the last line."`
	embedFlags
}

func (c *benchLoCoMoCmd) Run(ctx context.Context, s *ioStreams) error {
	ds, err := bench.LoadLoCoMo(c.File)
	if err != nil {
		return err
	}
	opts := bench.LoCoMoOptions{Conversations: c.Conversations, Categories: c.Categories, K: c.K, Warmup: 20, Unrelated: c.Unrelated}
	if c.Questions != "" {
		if opts.Questions, opts.QuestionFaults, err = bench.LoadQuestions(c.Questions, ds); err != nil {
			return err
		}
	}
	if c.Mode == "bm25" {
		c.Embedder = "none" // keyword ranking needs no model; ingest is measured without it
	}
	l, err := scratchEngine(ctx, &c.embedFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	sys := &bench.EngineSystem{Engine: l.Engine, Mode: c.Mode, Threshold: c.Threshold, Observe: c.Ingest == "observe"}
	res, err := bench.RunLoCoMo(ctx, ds, sys, opts)
	if err != nil {
		return err
	}
	res.Mode, res.Ingest = c.Mode, c.Ingest
	if sys.Observe {
		lat := sys.ObserveLatency()
		res.ObserveLatency = &lat
	}
	if err := res.WriteTable(s.out); err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(res)
	}
	return nil
}

type benchAPICmd struct {
	embedFlags
	// The serve flags without their environment variables, so that the
	// audit write overhead can be measured with real sinks
	// (docs/BENCHMARKS.md) but a shell that has a deployment's
	// ENGRAM_AUDIT_SINKS set never sends benchmark entries there.
	AuditSinks      []string `name:"audit-sink" sep:"none" placeholder:"SPEC" help:"Measure with this audit sink (repeatable; syntax of serve's --audit-sink). ENGRAM_AUDIT_SINKS is ignored here."`
	AuditFailClosed bool     `name:"audit-fail-closed" help:"Measure fail-closed mode (entries sent inside the write transaction)."`
	N               int      `name:"n" default:"1000" help:"Requests of each kind."`
	Seed            uint64   `name:"seed" default:"1" help:"Seed of the synthetic text."`
	JSON            bool     `name:"json" help:"Print one JSON object."`
}

func (c *benchAPICmd) Run(ctx context.Context, s *ioStreams) error {
	if c.N < 1 {
		return errors.New("--n must be at least 1")
	}
	af := auditSinkFlags{AuditSinks: c.AuditSinks, AuditFailClosed: c.AuditFailClosed}
	specs, err := af.parse()
	if err != nil {
		return err
	}
	sinks, sinkOpts, err := af.open(specs, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if sinks != nil {
		defer sinks.Close() // last: after the server and the store
	}
	l, err := scratchEngine(ctx, &c.embedFlags, sinkOpts...)
	if err != nil {
		return err
	}
	defer l.Close()
	nt, err := l.CreateTenant(ctx, "bench")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httpapi.New(httpapi.Config{Memories: l, Keys: l, Privacy: l, Auth: l, Audit: l, Logger: slog.New(slog.DiscardHandler), Version: version})}
	go srv.Serve(ln)
	defer srv.Close()
	res, err := bench.API(ctx, client.New("http://"+ln.Addr().String(), nt.Key.Secret), c.N, c.Seed)
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(res)
	}
	fmt.Fprintf(s.out, "requests  %d of each, one at a time, over loopback HTTP; audit sinks: %d (fail-closed %v)\n", res.Requests, len(specs), c.AuditFailClosed)
	fmt.Fprintf(s.out, "add       p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  (%.0f adds/s)\n", res.Add.P50, res.Add.P95, res.Add.P99, res.AddPerS)
	fmt.Fprintf(s.out, "search    p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  (over %d memories)\n", res.Search.P50, res.Search.P95, res.Search.P99, res.Requests)
	return nil
}

type benchScaleCmd struct {
	N        int      `name:"n" default:"100000" help:"Memories to write into one tenant."`
	Searches int      `name:"searches" default:"1000" help:"Searches to time."`
	Mode     string   `name:"mode" enum:"hybrid,bm25,vector" default:"hybrid" help:"Ranking."`
	File     string   `name:"file" type:"existingfile" help:"locomo10.json: write its turns (cycled) and ask its questions instead of synthetic words."`
	Progress bool     `name:"progress" help:"Report ingest progress on stderr every 10,000 memories."`
	Rounds   int      `name:"rounds" default:"1" help:"Repeat the timed searches this many times over the same memories; percentiles are the medians of the rounds'."`
	CPUProf  string   `name:"cpuprofile" type:"path" help:"Write a CPU profile of the timed searches (not the ingest) to this file."`
	Also     []string `name:"also-modes" sep:"," enum:"hybrid,bm25,vector" help:"Also time the same searches in these rankings, after --mode's, over the same memories."`
	Dump     string   `name:"dump-corpus" type:"path" placeholder:"DIR" help:"Write the run's memories and queries to DIR (corpus.jsonl: id, user, text, vector; queries.jsonl: text, user, vector, warmup) and stop, for peers on the same corpus (bench/peers). Vectors are the built-in model's of each text alone, in plaintext: only for the benchmark's own synthetic or LoCoMo text."`
	JSON     bool     `name:"json" help:"Print one JSON object."`
	embedFlags
}

func (c *benchScaleCmd) Run(ctx context.Context, s *ioStreams) error {
	if c.Rounds < 1 {
		return fmt.Errorf("--rounds must be at least 1")
	}
	opts := bench.ScaleOptions{N: c.N, Searches: c.Searches, Mode: c.Mode, Seed: 1, Rounds: c.Rounds, AlsoModes: c.Also}
	if c.CPUProf != "" {
		f, err := os.Create(c.CPUProf)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.Timed = func() func() {
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintf(s.err, "cpu profile: %v\n", err)
				return func() {}
			}
			return pprof.StopCPUProfile
		}
	}
	if c.File != "" {
		ds, err := bench.LoadLoCoMo(c.File)
		if err != nil {
			return err
		}
		opts.Texts, opts.Queries = ds.Texts(), ds.QuestionTexts(bench.DefaultCategories)
	}
	if c.Progress {
		t0 := time.Now()
		opts.Progress = func(done int) {
			if done%10000 == 0 || done == c.N {
				fmt.Fprintf(s.err, "%d memories written, %.0f/s\n", done, float64(done)/time.Since(t0).Seconds())
			}
		}
	}
	if c.Dump != "" {
		if c.Embedder != "builtin" {
			return errors.New("--dump-corpus embeds with the built-in model: not with --embedder " + c.Embedder)
		}
		m, err := uselite.New()
		if err != nil {
			return fmt.Errorf("built-in embedding model: %w", err)
		}
		return bench.DumpCorpus(ctx, c.Dump, opts, m.Embed)
	}
	l, err := scratchEngine(ctx, &c.embedFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := bench.Scale(ctx, l.Engine, opts)
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(res)
	}
	fmt.Fprintf(s.out, "%d memories (%s text) in one tenant, ingested at %.0f/s (100 per request)\n", res.Memories, res.Text, res.IngestPerS)
	fmt.Fprintf(s.out, "search (%s)  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  over %d searches%s\n", res.Mode, res.Search.P50, res.Search.P95, res.Search.P99, res.Search.N, roundsNote(len(res.Rounds)))
	for i, r := range res.Rounds {
		fmt.Fprintf(s.out, "  round %d  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms\n", i+1, r.P50, r.P95, r.P99)
	}
	for _, m := range c.Also {
		r := res.ByMode[m]
		fmt.Fprintf(s.out, "search (%s)  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  over %d searches%s\n", m, r.P50, r.P95, r.P99, r.N, roundsNote(len(res.Rounds)))
	}
	fmt.Fprintf(s.out, "first search (loads the indexes) %.0f ms\n", res.FirstMS)
	if res.Mode != "bm25" {
		how := "exact scan"
		if res.Approximate {
			how = fmt.Sprintf("HNSW, ef %d, calibrated recall@10 %.3f", res.EfSearch, res.Recall)
		}
		fmt.Fprintf(s.out, "vector index settled %.0f ms after loading (%s); timed searches ran after it\n", res.IndexMS, how)
		fmt.Fprintf(s.out, "vector recall of the queries' embeddings against exact search: @10 %.3f  @100 %.3f\n", res.QueryRecall10, res.QueryRecall100)
	}
	fmt.Fprintf(s.out, "heap in use %.0f MB, Go runtime total %.0f MB\n", res.HeapMB, res.SysMB)
	return nil
}

// scratchEngine opens an engine on a temporary data directory that Close
// removes: benchmarks never touch a user's data.
func scratchEngine(ctx context.Context, f *embedFlags, extra ...engine.Option) (*scratch, error) {
	eopts, err := f.options(ctx)
	if err != nil {
		return nil, err
	}
	eopts = append(eopts, extra...)
	dir, err := os.MkdirTemp("", "engram-bench-")
	if err != nil {
		return nil, err
	}
	l, err := openLocal(ctx, dataFlags{Data: dir}, eopts...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &scratch{localEngine: l, dir: dir}, nil
}

type scratch struct {
	*localEngine
	dir string
}

func (s *scratch) Close() error {
	err := s.localEngine.Close()
	os.RemoveAll(s.dir)
	return err
}

func roundsNote(n int) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" (medians of %d rounds)", n)
}
