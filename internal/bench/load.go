package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The load generator's bounds: it is a benchmark, not a flood tool.
const (
	MaxLoadConcurrency = 1024
	MaxLoadDuration    = time.Hour
	MaxLoadCorpus      = 1_000_000
	MaxLoadUsers       = 100_000
	MaxLoadTenants     = 100
)

// The operations a load mixes.
const (
	OpAdd     = "add"
	OpSearch  = "search"
	OpGet     = "get"
	OpObserve = "observe"
)

var loadOps = []string{OpAdd, OpSearch, OpGet, OpObserve}

// Mix is the share of each operation in a load, as weights (they need not
// sum to 100).
type Mix map[string]int

// ParseMix reads "add=30,search=50,get=20" (operations add, search, get,
// observe; non-negative integer weights, at least one positive).
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || !slices.Contains(loadOps, name) {
			return nil, fmt.Errorf("mix: %q is not OP=WEIGHT with OP one of %s", part, strings.Join(loadOps, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("mix: %s given twice", name)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 || w > 1_000_000 {
			return nil, fmt.Errorf("mix: weight of %s must be an integer from 0 to 1000000", name)
		}
		m[name] = w
		total += w
	}
	if total == 0 {
		return nil, errors.New("mix: no operation has a positive weight")
	}
	return m, nil
}

// String is the mix in ParseMix's syntax, operations in a fixed order.
func (m Mix) String() string {
	var parts []string
	for _, op := range loadOps {
		if w, ok := m[op]; ok {
			parts = append(parts, op+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// pick draws an operation with probability proportional to its weight.
func (m Mix) pick(r *rand.Rand) string {
	total := 0
	for _, op := range loadOps {
		total += m[op]
	}
	x := r.IntN(total)
	for _, op := range loadOps {
		if x < m[op] {
			return op
		}
		x -= m[op]
	}
	panic("unreachable")
}

// LoadOptions say what RunLoad sends where.
type LoadOptions struct {
	URL, Key string
	// URLs, when set, replaces URL with several nodes of one deployment
	// (one store, one key): client w sends to URLs[w % len(URLs)], and so
	// does the corpus writer w.
	URLs []string
	// Keys, when set, replaces Key with the owner keys of several tenants
	// of that deployment: client w sends as Keys[w % len(Keys)], and corpus
	// memory i is written as Keys[i % len(Keys)].
	Keys        []string
	Concurrency int           // clients, each sending one request at a time
	Duration    time.Duration // of the timed phase
	Mix         Mix
	Corpus      int // memories written before the timed phase
	Users       int // end users (user_id) the requests spread over
	Seed        uint64
	// ServerCPU, when not nil, returns the server process's CPU seconds
	// so far; it is read at the start and the end of the timed phase.
	ServerCPU func() (float64, error)
	// LoaderCPU, when not nil, is the same for this process.
	LoaderCPU func() (float64, error)
	// DatabaseCPU, when not nil, is the same for the database server
	// (ProcTreeCPU of a PostgreSQL postmaster on this machine).
	DatabaseCPU func() (float64, error)
	// Log, when not nil, receives progress lines.
	Log io.Writer
}

// Validate checks the bounds of a load.
func (o *LoadOptions) Validate() error {
	switch {
	case o.Concurrency < 1 || o.Concurrency > MaxLoadConcurrency:
		return fmt.Errorf("concurrency must be from 1 to %d", MaxLoadConcurrency)
	case o.Duration <= 0 || o.Duration > MaxLoadDuration:
		return fmt.Errorf("duration must be positive and at most %s", MaxLoadDuration)
	case o.Corpus < 0 || o.Corpus > MaxLoadCorpus:
		return fmt.Errorf("corpus must be from 0 to %d", MaxLoadCorpus)
	case o.Users < 1 || o.Users > MaxLoadUsers:
		return fmt.Errorf("users must be from 1 to %d", MaxLoadUsers)
	case len(o.Mix) == 0:
		return errors.New("no mix")
	case len(o.Keys) > MaxLoadTenants:
		return fmt.Errorf("tenants must be from 1 to %d", MaxLoadTenants)
	case o.Mix[OpGet] > 0 && o.Corpus < max(1, len(o.Keys)):
		return errors.New("a mix with get needs a corpus of at least one memory per tenant")
	}
	return nil
}

// OpResult is one operation's share of a load.
type OpResult struct {
	Count  int     `json:"count"` // successful requests
	PerS   float64 `json:"per_s"`
	Errors int     `json:"errors"`
	// Latency of the successful requests, as the client saw them.
	Latency Latency `json:"latency"`
}

// LoadResult is what `engram bench load` reports.
type LoadResult struct {
	Server      string  `json:"server"` // "child" (a fresh serve process) or "url"
	Concurrency int     `json:"concurrency"`
	Mix         string  `json:"mix"`
	Corpus      int     `json:"corpus"`
	Users       int     `json:"users"`
	CorpusPerS  float64 `json:"corpus_per_s"`
	WallS       float64 `json:"wall_s"` // the timed phase, until the last request returned
	Requests    int     `json:"requests"`
	PerS        float64 `json:"per_s"` // successful requests per second
	// Errors counts failed requests by HTTP status and problem code
	// ("503 overloaded"; the status alone when the answer had no code) or
	// "transport".
	Errors map[string]int `json:"errors"`
	// Latency of every successful request; Ops per operation.
	Latency Latency              `json:"latency"`
	Ops     map[string]*OpResult `json:"ops"`
	// Store and Nodes describe the server of a comparison (CompareLoad):
	// "sqlite" or "postgres", and how many nodes shared it. PerNode is
	// the successful requests each node answered, when there were several.
	Store   string `json:"store,omitempty"`
	Nodes   int    `json:"nodes,omitempty"`
	Tenants int    `json:"tenants,omitempty"`
	PerNode []int  `json:"per_node,omitempty"`
	// ServerCPU is the server's CPU seconds during the timed phase,
	// ServerCores that over WallS (2.0 = two cores busy), and
	// ServerCPUMsPerReq that per successful request; all
	// absent when the server's CPU could not be read.
	ServerCPU         *float64 `json:"server_cpu_s,omitempty"`
	ServerCores       *float64 `json:"server_cores,omitempty"`
	ServerCPUMsPerReq *float64 `json:"server_cpu_ms_per_req,omitempty"`
	LoaderCores       *float64 `json:"loader_cores,omitempty"`
	// DatabaseCPUMsPerReq is the database server's CPU per successful
	// request, when LoadOptions.DatabaseCPU was given.
	DatabaseCPUMsPerReq *float64 `json:"database_cpu_ms_per_req,omitempty"`
}

// sample is one timed request.
type sample struct {
	op     string
	node   int // index in LoadOptions.URLs
	d      time.Duration
	status int    // 0: transport error
	code   string // an error's problem code
}

// loader sends the requests.
type loader struct {
	urls  []string
	keys  []string // one per tenant
	http  *http.Client
	users int

	mu  sync.Mutex
	ids [][]string // per tenant, memories known to exist, for get
}

// target is where a request goes: a node (index in urls) and a tenant
// (index in keys).
type target struct{ node, tenant int }

func userID(i int) string { return "load-user-" + strconv.Itoa(i) }

// problem is an error answer's code and client-safe detail.
type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (p *problem) String() string {
	if p.Code == "" {
		return ""
	}
	return " " + p.Code + ": " + p.Detail
}

// call sends one JSON request and returns the status and the Retry-After
// header; out receives a success's body, prob (when not nil) an error's
// problem. The body is read to the end either way, so the connection is
// reused.
func (l *loader) call(ctx context.Context, to target, method, path string, in any, out any, prob ...*problem) (int, string, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.urls[to.node]+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+l.keys[to.tenant])
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		err = json.NewDecoder(resp.Body).Decode(out)
	} else if resp.StatusCode >= 300 && len(prob) > 0 {
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(prob[0])
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), err
}

type loadMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type addBody struct {
	Content string `json:"content,omitempty"`
	UserID  string `json:"user_id"`
}

type addAnswer struct {
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
}

func (l *loader) remember(tenant int, a *addAnswer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range a.Results {
		if r.ID != "" {
			l.ids[tenant] = append(l.ids[tenant], r.ID)
		}
	}
}

func (l *loader) anyID(tenant int, r *rand.Rand) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.ids[tenant]
	if len(ids) == 0 {
		return ""
	}
	return ids[r.IntN(len(ids))]
}

// loadText is a memory's text: a seeded sentence of the synthetic
// vocabulary, made unique by its tag.
func loadText(r *rand.Rand, tag string) string {
	return sentence(r, 12+r.IntN(12)) + " (" + tag + ")"
}

// do sends one request of kind op as client w.
func (l *loader) do(ctx context.Context, op string, r *rand.Rand, w, i int, p *problem) (int, string, error) {
	user := userID(r.IntN(l.users))
	to := target{node: w % len(l.urls), tenant: w % len(l.keys)}
	switch op {
	case OpAdd:
		var a addAnswer
		st, ra, err := l.call(ctx, to, http.MethodPost, "/v1/memories", addBody{Content: loadText(r, fmt.Sprintf("c%d n%d", w, i)), UserID: user}, &a, p)
		if err == nil && st < 300 {
			l.remember(to.tenant, &a)
		}
		return st, ra, err
	case OpSearch:
		q := map[string]any{"query": sentence(r, 3+r.IntN(4)), "user_id": user, "limit": 10}
		return l.call(ctx, to, http.MethodPost, "/v1/search", q, nil, p)
	case OpGet:
		return l.call(ctx, to, http.MethodGet, "/v1/memories/"+l.anyID(to.tenant, r), nil, nil, p)
	case OpObserve:
		msgs := []loadMessage{{Role: "user", Content: loadText(r, fmt.Sprintf("c%d n%d", w, i))}}
		return l.call(ctx, to, http.MethodPost, "/v1/observe", map[string]any{"messages": msgs, "user_id": user}, nil, p)
	}
	return 0, "", fmt.Errorf("unknown operation %q", op)
}

// preload writes n memories, one per request (a request with many
// messages embeds each with its earlier turns as context, several times
// the work), from workers clients at once, over the users.
func (l *loader) preload(ctx context.Context, n int, seed uint64, workers int) error {
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := rand.New(rand.NewPCG(seed, 1<<40+uint64(i)))
				var a addAnswer
				var p problem
				body := addBody{Content: loadText(r, fmt.Sprintf("corpus %d", i)), UserID: userID(i % l.users)}
				to := target{node: w % len(l.urls), tenant: i % len(l.keys)}
				st, _, err := l.call(ctx, to, http.MethodPost, "/v1/memories", body, &a, &p)
				if err == nil && st >= 300 {
					err = fmt.Errorf("corpus: HTTP %d%s", st, p.String())
				}
				if err != nil {
					errc <- err
					return
				}
				l.remember(to.tenant, &a)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// RunLoad writes the corpus, then runs opts.Concurrency clients for
// opts.Duration, each sending its next request when the last returned
// (a closed loop) with the operation drawn from the mix. A client refused
// with 429 or 503 and a Retry-After waits that long (at most 1 s, and not
// past the end) before its next request, as a well-behaved client would;
// after a transport error it waits 100 ms.
func RunLoad(ctx context.Context, opts LoadOptions) (*LoadResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConns: opts.Concurrency + 8, MaxIdleConnsPerHost: opts.Concurrency + 8, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	urls := opts.URLs
	if len(urls) == 0 {
		urls = []string{opts.URL}
	}
	keys := opts.Keys
	if len(keys) == 0 {
		keys = []string{opts.Key}
	}
	l := &loader{keys: keys, ids: make([][]string, len(keys)), users: opts.Users,
		http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
	for _, u := range urls {
		l.urls = append(l.urls, strings.TrimRight(u, "/"))
	}
	res := &LoadResult{Concurrency: opts.Concurrency, Mix: opts.Mix.String(), Corpus: opts.Corpus, Users: opts.Users,
		Errors: map[string]int{}, Ops: map[string]*OpResult{}}
	if opts.Corpus > 0 {
		t0 := time.Now()
		if err := l.preload(ctx, opts.Corpus, opts.Seed, 4); err != nil {
			return nil, err
		}
		res.CorpusPerS = float64(opts.Corpus) / time.Since(t0).Seconds()
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "corpus: %d memories written at %.0f/s\n", opts.Corpus, res.CorpusPerS)
		}
	}

	cpu0, cpuErr := readCPU(opts.ServerCPU)
	lcpu0, lcpuErr := readCPU(opts.LoaderCPU)
	dcpu0, dcpuErr := readCPU(opts.DatabaseCPU)
	start := time.Now()
	end := start.Add(opts.Duration)
	perClient := make([][]sample, opts.Concurrency)
	var wg sync.WaitGroup
	for w := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(opts.Seed, uint64(w)))
			for i := 0; ctx.Err() == nil; i++ {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				op := opts.Mix.pick(r)
				var p problem
				st, retry, err := l.do(ctx, op, r, w, i, &p)
				d := time.Since(now)
				if err != nil {
					st = 0
				}
				perClient[w] = append(perClient[w], sample{op: op, node: w % len(urls), d: d, status: st, code: p.Code})
				var wait time.Duration
				switch {
				case st == 0:
					wait = 100 * time.Millisecond // a server that is gone is not polled in a tight loop
				case (st == http.StatusServiceUnavailable || st == http.StatusTooManyRequests) && retry != "":
					wait = time.Second // at most
					if s, err := strconv.Atoi(retry); err == nil && s == 0 {
						wait = 0
					}
				}
				if wait > 0 {
					if left := time.Until(end); left < wait {
						wait = left
					}
					select {
					case <-time.After(wait):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	cpu1, cpuErr1 := readCPU(opts.ServerCPU)
	lcpu1, lcpuErr1 := readCPU(opts.LoaderCPU)
	dcpu1, dcpuErr1 := readCPU(opts.DatabaseCPU)
	var all []sample
	for _, s := range perClient {
		all = append(all, s...)
	}
	res.summarise(all, wall)
	if len(urls) > 1 {
		res.PerNode = make([]int, len(urls))
		for _, s := range all {
			if s.status >= 200 && s.status < 300 {
				res.PerNode[s.node]++
			}
		}
	}
	if cpuErr == nil && cpuErr1 == nil && opts.ServerCPU != nil {
		res.setServerCPU(cpu1 - cpu0)
	}
	if lcpuErr == nil && lcpuErr1 == nil && opts.LoaderCPU != nil {
		c := (lcpu1 - lcpu0) / wall.Seconds()
		res.LoaderCores = &c
	}
	if dcpuErr == nil && dcpuErr1 == nil && opts.DatabaseCPU != nil && res.Requests > 0 {
		ms := (dcpu1 - dcpu0) * 1000 / float64(res.Requests)
		res.DatabaseCPUMsPerReq = &ms
	}
	return res, nil
}

func readCPU(f func() (float64, error)) (float64, error) {
	if f == nil {
		return 0, nil
	}
	return f()
}

// summarise fills the counts, rates and latencies from the samples of a
// timed phase that lasted wall.
func (res *LoadResult) summarise(all []sample, wall time.Duration) {
	res.WallS = wall.Seconds()
	ok := map[string][]time.Duration{}
	var every []time.Duration
	for _, s := range all {
		o := res.Ops[s.op]
		if o == nil {
			o = &OpResult{}
			res.Ops[s.op] = o
		}
		if s.status >= 200 && s.status < 300 {
			ok[s.op] = append(ok[s.op], s.d)
			every = append(every, s.d)
			continue
		}
		o.Errors++
		key := "transport"
		if s.status != 0 {
			key = strconv.Itoa(s.status)
			if s.code != "" {
				key += " " + s.code
			}
		}
		res.Errors[key]++
	}
	for op, o := range res.Ops {
		o.Count = len(ok[op])
		o.PerS = float64(o.Count) / res.WallS
		o.Latency = Summarise(ok[op])
	}
	res.Requests = len(every)
	res.PerS = float64(res.Requests) / res.WallS
	res.Latency = Summarise(every)
}

// setServerCPU records the server's CPU seconds over the timed phase
// (after summarise); the CPU per request is over the successful ones.
func (res *LoadResult) setServerCPU(cpu float64) {
	cores := cpu / res.WallS
	res.ServerCPU, res.ServerCores = &cpu, &cores
	if res.Requests > 0 {
		ms := cpu * 1000 / float64(res.Requests)
		res.ServerCPUMsPerReq = &ms
	}
}

// WriteText prints the result for people.
func (res *LoadResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "load  %d clients, mix %s, %d users, corpus %d memories (written at %.0f/s), server: %s\n",
		res.Concurrency, res.Mix, res.Users, res.Corpus, res.CorpusPerS, res.Server)
	fmt.Fprintf(&b, "total %d ok in %.1f s: %.1f req/s  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms\n",
		res.Requests, res.WallS, res.PerS, res.Latency.P50, res.Latency.P95, res.Latency.P99, res.Latency.Max)
	for _, op := range loadOps {
		o, ok := res.Ops[op]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  %-8s %6d ok %7.1f/s  p50 %8.2f ms  p95 %8.2f ms  p99 %8.2f ms  errors %d\n",
			op, o.Count, o.PerS, o.Latency.P50, o.Latency.P95, o.Latency.P99, o.Errors)
	}
	if len(res.Errors) > 0 {
		keys := make([]string, 0, len(res.Errors))
		for k := range res.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %d", k, res.Errors[k])
		}
		fmt.Fprintf(&b, "errors  %s\n", strings.Join(parts, ", "))
	} else {
		fmt.Fprintf(&b, "errors  none\n")
	}
	if res.ServerCPU != nil {
		fmt.Fprintf(&b, "server CPU %.1f s = %.2f cores", *res.ServerCPU, *res.ServerCores)
		if res.ServerCPUMsPerReq != nil {
			fmt.Fprintf(&b, ", %.2f ms per request", *res.ServerCPUMsPerReq)
		}
		b.WriteString("\n")
	} else {
		b.WriteString("server CPU unknown\n")
	}
	if res.DatabaseCPUMsPerReq != nil {
		fmt.Fprintf(&b, "database CPU %.2f ms per request\n", *res.DatabaseCPUMsPerReq)
	}
	if res.LoaderCores != nil {
		fmt.Fprintf(&b, "load generator CPU %.2f cores\n", *res.LoaderCores)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
