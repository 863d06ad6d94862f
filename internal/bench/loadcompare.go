package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// CompareOptions say what CompareLoad compares.
type CompareOptions struct {
	Load   LoadOptions // URL, URLs, Key and ServerCPU are set per run
	Setups []Setup
	Runs   int // rounds; each runs every setup once, in order
	// Tenants is how many tenants the load spreads over (at least 1):
	// the first node's, and Tenants-1 more made with `tenants create`.
	Tenants int
	Bin     string
	Extra   []string // serve flags of every node
	// Postgres is an admin URL through which each PostgreSQL run gets a
	// fresh database (NewScratchDatabase).
	Postgres string
	// DatabasePID, when not 0, is the PostgreSQL postmaster's pid on this
	// machine: its CPU and its backends' is reported per request.
	DatabasePID int
	Log         io.Writer
}

// Comparison is one setup's runs.
type Comparison struct {
	Setup Setup         `json:"-"`
	Store string        `json:"store"`
	Nodes int           `json:"nodes"`
	Runs  []*LoadResult `json:"runs"`
}

// MaxCompareRuns bounds the rounds of a comparison.
const MaxCompareRuns = 20

// CompareLoad runs the same load against every setup, opts.Runs rounds
// (a round runs each setup once, so that a change in the machine's load
// over time spreads over all setups rather than falling on one). Every
// run starts its own nodes on an empty store — a new data directory, or a
// new PostgreSQL database — writes the corpus, runs the timed phase,
// stops the nodes and drops the database.
func CompareLoad(ctx context.Context, opts CompareOptions) ([]*Comparison, error) {
	if opts.Runs < 1 || opts.Runs > MaxCompareRuns {
		return nil, fmt.Errorf("runs must be from 1 to %d", MaxCompareRuns)
	}
	if opts.Tenants < 1 || opts.Tenants > MaxLoadTenants {
		return nil, fmt.Errorf("tenants must be from 1 to %d", MaxLoadTenants)
	}
	if opts.Load.Mix[OpGet] > 0 && opts.Load.Corpus < opts.Tenants {
		return nil, errors.New("a mix with get needs a corpus of at least one memory per tenant")
	}
	if len(opts.Setups) == 0 {
		return nil, errors.New("no setup")
	}
	for _, s := range opts.Setups {
		if s.Store == "postgres" && opts.Postgres == "" {
			return nil, errors.New("a postgres setup needs --postgres (an admin URL that may create databases)")
		}
	}
	out := make([]*Comparison, len(opts.Setups))
	for i, s := range opts.Setups {
		out[i] = &Comparison{Setup: s, Store: s.Store, Nodes: s.Nodes}
	}
	warned := false
	for round := range opts.Runs {
		for i, s := range opts.Setups {
			if opts.Log != nil {
				fmt.Fprintf(opts.Log, "run %d/%d: %s\n", round+1, opts.Runs, s)
			}
			res, warn, err := runSetup(ctx, opts, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s, err)
			}
			if warn != "" && !warned && opts.Log != nil {
				fmt.Fprintf(opts.Log, "warning: %s\n", warn)
				warned = true
			}
			out[i].Runs = append(out[i].Runs, res)
		}
	}
	return out, nil
}

func runSetup(ctx context.Context, opts CompareOptions, s Setup) (_ *LoadResult, warn string, err error) {
	store := ""
	if s.Store == "postgres" {
		db, w, err := NewScratchDatabase(ctx, opts.Postgres)
		if err != nil {
			return nil, "", err
		}
		// Dropped after the nodes stopped (deferred first, runs last).
		defer func() { err = errors.Join(err, db.Drop(context.WithoutCancel(ctx))) }()
		store, warn = db.DSN, w
	}
	ns, err := StartNodes(ctx, opts.Bin, opts.Extra, store, s.Nodes)
	if err != nil {
		return nil, warn, err
	}
	defer func() { err = errors.Join(err, ns.Close()) }()
	lo := opts.Load
	lo.URL, lo.URLs, lo.Key, lo.ServerCPU = "", ns.URLs(), ns.Key, ns.CPU
	lo.Keys = []string{ns.Key}
	for i := 1; i < opts.Tenants; i++ {
		k, err := ns.CreateTenant(ctx, fmt.Sprintf("bench-%d", i))
		if err != nil {
			return nil, warn, err
		}
		lo.Keys = append(lo.Keys, k)
	}
	if opts.DatabasePID != 0 && s.Store == "postgres" {
		lo.DatabaseCPU = func() (float64, error) { return ProcTreeCPU(opts.DatabasePID) }
	}
	res, err := RunLoad(ctx, lo)
	if err != nil {
		return nil, warn, err
	}
	res.Server, res.Store, res.Nodes, res.Tenants = "child", s.Store, s.Nodes, len(lo.Keys)
	return res, warn, nil
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianOf is the median over runs of f, and the values run by run.
func medianOf(runs []*LoadResult, f func(*LoadResult) float64) (float64, []float64) {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs), xs
}

func opField(op string, f func(*OpResult) float64) func(*LoadResult) float64 {
	return func(r *LoadResult) float64 {
		if o := r.Ops[op]; o != nil {
			return f(o)
		}
		return 0
	}
}

// WriteComparison prints the setups side by side as a Markdown table:
// each cell is the median over the runs (the runs' values in brackets
// for the total throughput); latencies in ms.
func WriteComparison(w io.Writer, cs []*Comparison) error {
	var b strings.Builder
	runs := 0
	if len(cs) > 0 {
		runs = len(cs[0].Runs)
	}
	fmt.Fprintf(&b, "medians of %d run(s) per setup\n\n", runs)
	b.WriteString("| setup | corpus/s | req/s | add/s | add p50 / p95 | search/s | search p50 / p95 | get p50 / p95 | CPU per req: nodes + database | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		perS, all := medianOf(c.Runs, func(r *LoadResult) float64 { return r.PerS })
		addS, _ := medianOf(c.Runs, opField(OpAdd, func(o *OpResult) float64 { return o.PerS }))
		searchS, _ := medianOf(c.Runs, opField(OpSearch, func(o *OpResult) float64 { return o.PerS }))
		lat := func(op string) string {
			if !slices.ContainsFunc(c.Runs, func(r *LoadResult) bool { return r.Ops[op] != nil }) {
				return "-"
			}
			p50, _ := medianOf(c.Runs, opField(op, func(o *OpResult) float64 { return o.Latency.P50 }))
			p95, _ := medianOf(c.Runs, opField(op, func(o *OpResult) float64 { return o.Latency.P95 }))
			return fmt.Sprintf("%.1f / %.1f ms", p50, p95)
		}
		cpu := "?"
		if !slices.ContainsFunc(c.Runs, func(r *LoadResult) bool { return r.ServerCPUMsPerReq == nil }) {
			m, _ := medianOf(c.Runs, func(r *LoadResult) float64 { return *r.ServerCPUMsPerReq })
			cpu = fmt.Sprintf("%.2f", m)
		}
		switch {
		case c.Setup.Store == "sqlite":
			cpu += " ms"
		case !slices.ContainsFunc(c.Runs, func(r *LoadResult) bool { return r.DatabaseCPUMsPerReq == nil }):
			m, _ := medianOf(c.Runs, func(r *LoadResult) float64 { return *r.DatabaseCPUMsPerReq })
			cpu += fmt.Sprintf(" + %.2f ms", m)
		default:
			cpu += " ms + ?"
		}
		corpus, _ := medianOf(c.Runs, func(r *LoadResult) float64 { return r.CorpusPerS })
		errs := 0
		for _, r := range c.Runs {
			for _, n := range r.Errors {
				errs += n
			}
		}
		vals := make([]string, len(all))
		for i, x := range all {
			vals[i] = fmt.Sprintf("%.1f", x)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.1f [%s] | %.1f | %s | %.1f | %s | %s | %s | %d |\n",
			c.Setup, corpus, perS, strings.Join(vals, ", "), addS, lat(OpAdd), searchS, lat(OpSearch), lat(OpGet), cpu, errs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
