package bench_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/bench"
)

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" : an error
	}{
		{"add=30,search=50,get=20", "add=30,search=50,get=20"},
		{" search = 5 , add=1 ", "add=1,search=5"},
		{"observe=1", "observe=1"},
		{"add=0,get=3,", "add=0,get=3"},
		{"add=30,search=50,get=20,observe=0", "add=30,search=50,get=20,observe=0"},
		{"", ""},
		{"add=0", ""},
		{"add", ""},
		{"add=x", ""},
		{"add=-1", ""},
		{"add=1,add=2", ""},
		{"delete=1", ""},
		{"add=2000000", ""},
	} {
		m, err := bench.ParseMix(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseMix(%q) = %v, want an error", tc.in, m)
			}
			continue
		}
		if err != nil || m.String() != tc.want {
			t.Errorf("ParseMix(%q) = %q, %v; want %q", tc.in, m.String(), err, tc.want)
		}
	}
}

func TestMixPick(t *testing.T) {
	m, err := bench.ParseMix("add=30,search=50,get=20,observe=0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100000
	got := bench.PickCounts(m, n, 7)
	if got["observe"] != 0 {
		t.Fatalf("a zero weight was drawn: %v", got)
	}
	for op, w := range map[string]float64{"add": 0.3, "search": 0.5, "get": 0.2} {
		if share := float64(got[op]) / n; math.Abs(share-w) > 0.01 {
			t.Errorf("%s drawn %.3f of the time, want %.2f (%v)", op, share, w, got)
		}
	}
	if again := bench.PickCounts(m, n, 7); again["add"] != got["add"] || again["get"] != got["get"] {
		t.Fatal("the same seed drew a different sequence")
	}
}

func TestLoadOptionsBounds(t *testing.T) {
	mix, _ := bench.ParseMix("add=1,get=1")
	ok := bench.LoadOptions{URL: "http://x", Concurrency: 8, Duration: time.Second, Mix: mix, Corpus: 10, Users: 5}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(o *bench.LoadOptions){
		"no clients":        func(o *bench.LoadOptions) { o.Concurrency = 0 },
		"too many clients":  func(o *bench.LoadOptions) { o.Concurrency = bench.MaxLoadConcurrency + 1 },
		"no duration":       func(o *bench.LoadOptions) { o.Duration = 0 },
		"too long":          func(o *bench.LoadOptions) { o.Duration = bench.MaxLoadDuration + time.Second },
		"negative corpus":   func(o *bench.LoadOptions) { o.Corpus = -1 },
		"get without items": func(o *bench.LoadOptions) { o.Corpus = 0 },
		"no users":          func(o *bench.LoadOptions) { o.Users = 0 },
		"no mix":            func(o *bench.LoadOptions) { o.Mix = nil },
		"too many tenants":  func(o *bench.LoadOptions) { o.Keys = make([]string, bench.MaxLoadTenants+1) },
		"get, few items":    func(o *bench.LoadOptions) { o.Keys = make([]string, 11) },
	} {
		o := ok
		f(&o)
		if o.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o := ok
	o.Concurrency, o.Duration = bench.MaxLoadConcurrency, bench.MaxLoadDuration
	if err := o.Validate(); err != nil {
		t.Errorf("the bounds themselves: %v", err)
	}
}

func TestLoadSummary(t *testing.T) {
	var samples []bench.LoadSample
	for i := 1; i <= 100; i++ {
		samples = append(samples, bench.LoadSample{Op: "search", MS: i, Status: 200})
	}
	for i := 1; i <= 10; i++ {
		samples = append(samples, bench.LoadSample{Op: "add", MS: 100 + i, Status: 201})
	}
	samples = append(samples,
		bench.LoadSample{Op: "add", MS: 1, Status: 503, Code: "overloaded"},
		bench.LoadSample{Op: "add", MS: 1, Status: 503, Code: "overloaded"},
		bench.LoadSample{Op: "get", MS: 1, Status: 404},
		bench.LoadSample{Op: "get", MS: 5000, Status: 0},
	)
	res := bench.SummariseLoad(samples, 10*time.Second, 2.2)
	if res.Requests != 110 || res.PerS != 11 {
		t.Fatalf("requests %d, %v/s", res.Requests, res.PerS)
	}
	if e := res.Errors; len(e) != 3 || e["503 overloaded"] != 2 || e["404"] != 1 || e["transport"] != 1 {
		t.Fatalf("errors %v", e)
	}
	s, a, g := res.Ops["search"], res.Ops["add"], res.Ops["get"]
	if s.Count != 100 || s.Errors != 0 || s.PerS != 10 || s.Latency.P50 != 50 || s.Latency.P95 != 95 || s.Latency.P99 != 99 {
		t.Fatalf("search %+v", s)
	}
	if a.Count != 10 || a.Errors != 2 || a.Latency.P50 != 105 || a.Latency.Max != 110 {
		t.Fatalf("add %+v", a)
	}
	if g.Count != 0 || g.Errors != 2 || g.Latency.N != 0 {
		t.Fatalf("get %+v", g)
	}
	// Failed requests are not in the latency: 110 successful ones.
	if res.Latency.N != 110 || res.Latency.Max != 110 {
		t.Fatalf("latency %+v", res.Latency)
	}
	if res.ServerCores == nil || math.Abs(*res.ServerCores-0.22) > 1e-9 || math.Abs(*res.ServerCPUMsPerReq-20) > 1e-9 {
		t.Fatalf("cpu %v cores, %v ms/req", res.ServerCores, res.ServerCPUMsPerReq)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"110 ok in 10.0 s: 11.0 req/s", "errors  404: 1, 503 overloaded: 2, transport: 1", "0.22 cores, 20.00 ms per request", "search      100 ok"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"per_s", "requests", "errors", "latency", "ops", "server_cores", "server_cpu_ms_per_req", "concurrency", "mix"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	// Unknown CPU: no CPU fields, and the text says so.
	res = bench.SummariseLoad(samples, 10*time.Second, -1)
	text.Reset()
	_ = res.WriteText(&text)
	if b, _ := json.Marshal(res); strings.Contains(string(b), "server_cores") || !strings.Contains(text.String(), "server CPU unknown") {
		t.Fatalf("unknown CPU reported: %s\n%s", b, text.String())
	}
}

func TestProcStat(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 50 ticks.
	line := "4242 (engram (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 2000 18446744073709551615\n"
	got, err := bench.ParseProcStat(line)
	if err != nil || got != 3 {
		t.Fatalf("got %v, %v; want 3 s", got, err)
	}
	for _, bad := range []string{"", "4242 engram S 1", "4242 (engram) S 1 2 3", "4242 (e) S 1 2 3 4 5 6 7 8 9 10 x 50 0"} {
		if _, err := bench.ParseProcStat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	self, err := bench.ProcCPU("self")
	if err != nil || self < 0 {
		t.Fatalf("this process: %v, %v", self, err)
	}
}

func TestMetricsCPU(t *testing.T) {
	text := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_cpu_seconds_totalx 1\n"
	if got, err := bench.ParseMetricsCPU(strings.NewReader(text)); err != nil || got != 12.5 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := bench.ParseMetricsCPU(strings.NewReader("go_goroutines 5\n")); err == nil {
		t.Fatal("no metric, no error")
	}
}
