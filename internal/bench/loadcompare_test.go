package bench_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/bench"
)

func TestSetups(t *testing.T) {
	got, err := bench.Setups([]string{"sqlite", "postgres"}, []int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// The embedded store is one process's file: one node, once.
	want := []bench.Setup{{Store: "sqlite", Nodes: 1}, {Store: "postgres", Nodes: 1}, {Store: "postgres", Nodes: 2}, {Store: "postgres", Nodes: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("setups %v, want %v", got, want)
	}
	if got[0].String() != "sqlite, 1 node" || got[2].String() != "postgres, 2 nodes" {
		t.Fatalf("names %q, %q", got[0], got[2])
	}
	for _, bad := range []struct {
		stores []string
		nodes  []int
	}{{[]string{"mysql"}, []int{1}}, {[]string{"postgres"}, []int{0}}, {[]string{"postgres"}, []int{bench.MaxLoadNodes + 1}}, {nil, []int{1}}} {
		if _, err := bench.Setups(bad.stores, bad.nodes); err == nil {
			t.Errorf("Setups(%v, %v) accepted", bad.stores, bad.nodes)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := append([]float64(nil), tc.in...)
		if got := bench.Median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !reflect.DeepEqual(in, tc.in) && tc.in != nil {
			t.Errorf("median reordered its argument: %v", in)
		}
	}
}

func TestWriteComparison(t *testing.T) {
	ms := func(x float64) *float64 { return &x }
	run := func(perS, addP50 float64, db *float64) *bench.LoadResult {
		return &bench.LoadResult{PerS: perS, CorpusPerS: 50, ServerCPUMsPerReq: ms(4), DatabaseCPUMsPerReq: db,
			Errors: map[string]int{}, Ops: map[string]*bench.OpResult{
				bench.OpAdd:    {PerS: perS / 3, Latency: bench.Latency{P50: addP50, P95: 2 * addP50}},
				bench.OpSearch: {PerS: perS / 2, Latency: bench.Latency{P50: 10, P95: 20}},
			}}
	}
	cs := []*bench.Comparison{
		{Setup: bench.Setup{Store: "sqlite", Nodes: 1}, Runs: []*bench.LoadResult{run(300, 30, nil), run(100, 10, nil), run(200, 20, nil)}},
		{Setup: bench.Setup{Store: "postgres", Nodes: 2}, Runs: []*bench.LoadResult{run(90, 40, ms(2)), run(120, 50, ms(1)), run(150, 60, ms(3))}},
	}
	cs[1].Runs[2].Errors["503 overloaded"] = 2
	var b strings.Builder
	if err := bench.WriteComparison(&b, cs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"medians of 3 run(s)",
		"| sqlite, 1 node | 50 | 200.0 [300.0, 100.0, 200.0] | 66.7 | 20.0 / 40.0 ms | 100.0 | 10.0 / 20.0 ms | - | 4.00 ms | 0 |",
		"| postgres, 2 nodes | 50 | 120.0 [90.0, 120.0, 150.0] | 40.0 | 50.0 / 100.0 ms | 60.0 | 10.0 / 20.0 ms | - | 4.00 + 2.00 ms | 2 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

func TestParseProcParent(t *testing.T) {
	ppid, err := bench.ParseProcParent("4242 (postgres: engram db [local] idle) S 30830 30830 30830 0 -1 4194560 120 0 0 0 7 3 0 0 20 0 1 0")
	if err != nil || ppid != 30830 {
		t.Fatalf("ppid %d, %v", ppid, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S"} {
		if _, err := bench.ParseProcParent(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
