package batcher_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/embedtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gated is an embedder whose passes can be held at a gate, and which
// records each pass's texts. A text holding "bad" fails its pass.
type gated struct {
	inner   *embedtest.Embedder
	gate    chan struct{} // nil: never held
	mu      sync.Mutex
	calls   [][]string
	entered chan struct{} // receives once per pass, if not nil
}

func newGated(hold bool) *gated {
	g := &gated{inner: embedtest.New(16), entered: make(chan struct{}, 100)}
	if hold {
		g.gate = make(chan struct{})
	}
	return g
}

func (g *gated) Model() string { return g.inner.Model() }
func (g *gated) Dim() int      { return g.inner.Dim() }

func (g *gated) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	g.mu.Lock()
	g.calls = append(g.calls, slices.Clone(texts))
	g.mu.Unlock()
	g.entered <- struct{}{}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, t := range texts {
		if strings.Contains(t, "bad") {
			return nil, errors.New("refused")
		}
	}
	return g.inner.Embed(ctx, texts)
}

func (g *gated) passes() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func want(t *testing.T, texts []string) [][]float32 {
	t.Helper()
	v, err := embedtest.New(16).Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func same(a, b [][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y []float32) bool { return slices.Equal(x, y) })
}

// waitQueued waits until n calls queue behind the running pass.
func waitQueued(t *testing.T, b *batcher.Batcher, n int) {
	t.Helper()
	for b.Queued() != n {
		time.Sleep(time.Millisecond)
	}
}

func TestLoneCallerEmbedsAtOnce(t *testing.T) {
	g := newGated(false)
	b := batcher.New(g, 0)
	if b.Model() != g.Model() || b.Dim() != 16 {
		t.Fatal(b.Model(), b.Dim())
	}
	texts := []string{"alpha beta", "gamma"}
	got, err := b.Embed(context.Background(), texts)
	if err != nil || !same(got, want(t, texts)) {
		t.Fatal(got, err)
	}
	if p := g.passes(); len(p) != 1 || !slices.Equal(p[0], texts) {
		t.Fatal(p)
	}
	if got, err := b.Embed(context.Background(), nil); err != nil || len(got) != 0 {
		t.Fatal(got, err)
	}
}

// Callers arriving while a pass runs share the next pass, and each gets
// exactly its own vectors.
func TestWaitingCallersShareOnePass(t *testing.T) {
	g := newGated(true)
	b := batcher.New(g, 0)
	ctx := context.Background()
	type result struct {
		vecs [][]float32
		err  error
	}
	inputs := [][]string{{"lead"}, {"one", "two"}, {"three"}, {"four", "five", "six"}}
	results := make([]result, len(inputs))
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := b.Embed(ctx, inputs[i])
			results[i] = result{v, err}
		}()
	}
	start(0)
	<-g.entered
	for i := 1; i < len(inputs); i++ {
		start(i)
	}
	waitQueued(t, b, len(inputs)-1)
	close(g.gate)
	wg.Wait()
	for i, r := range results {
		if r.err != nil || !same(r.vecs, want(t, inputs[i])) {
			t.Fatalf("caller %d: %v %v", i, r.vecs, r.err)
		}
	}
	p := g.passes()
	if len(p) != 2 || len(p[1]) != 6 {
		t.Fatalf("passes %v, want the lead's and one of the other 6 texts", p)
	}
}

// A pass holds at most max texts; a larger call still goes whole.
func TestMaxTexts(t *testing.T) {
	g := newGated(true)
	b := batcher.New(g, 3)
	ctx := context.Background()
	var wg sync.WaitGroup
	run := func(texts ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Embed(ctx, texts)
			if err != nil || !same(got, want(t, texts)) {
				t.Errorf("%v: %v %v", texts, got, err)
			}
		}()
	}
	run("lead")
	<-g.entered
	run("a", "b")
	waitQueued(t, b, 1)
	run("c", "d")
	waitQueued(t, b, 2)
	run("e", "f", "g", "h")
	waitQueued(t, b, 3)
	close(g.gate)
	wg.Wait()
	var sizes []int
	for _, p := range g.passes() {
		sizes = append(sizes, len(p))
	}
	if !slices.Equal(sizes, []int{1, 2, 2, 4}) {
		t.Fatal(sizes)
	}
}

// A failing pass is retried call by call: the caller whose text fails gets
// the error, the others their vectors.
func TestErrorsReachTheirCaller(t *testing.T) {
	g := newGated(true)
	b := batcher.New(g, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	inputs := [][]string{{"lead"}, {"a bad one"}, {"good"}}
	for i := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := b.Embed(ctx, inputs[i])
			errs[i] = err
			if err == nil && !same(got, want(t, inputs[i])) {
				t.Errorf("caller %d got other vectors", i)
			}
		}()
		if i == 0 {
			<-g.entered
		} else {
			waitQueued(t, b, i)
		}
	}
	close(g.gate)
	wg.Wait()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatal(errs)
	}

	// A model that is down fails every caller.
	down := batcher.New(failing{}, 0)
	if _, err := down.Embed(ctx, []string{"x"}); err == nil || err.Error() != "down" {
		t.Fatal(err)
	}
}

type failing struct{}

func (failing) Model() string { return "failing" }
func (failing) Dim() int      { return 1 }
func (failing) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("down")
}

// A waiting caller that gives up returns at once; the others are served.
func TestCancelledWaiterLeaves(t *testing.T) {
	g := newGated(true)
	b := batcher.New(g, 0)
	ctx := context.Background()
	lead := make(chan error, 1)
	go func() {
		_, err := b.Embed(ctx, []string{"lead"})
		lead <- err
	}()
	<-g.entered
	cctx, cancel := context.WithCancel(ctx)
	gave := make(chan error, 1)
	go func() {
		_, err := b.Embed(cctx, []string{"impatient"})
		gave <- err
	}()
	waitQueued(t, b, 1)
	other := make(chan error, 1)
	go func() {
		got, err := b.Embed(ctx, []string{"patient"})
		if err == nil && !same(got, want(t, []string{"patient"})) {
			err = errors.New("wrong vectors")
		}
		other <- err
	}()
	waitQueued(t, b, 2)
	cancel()
	if err := <-gave; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	close(g.gate)
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	for _, p := range g.passes() {
		if slices.Contains(p, "impatient") {
			t.Fatal("a withdrawn call was embedded", p)
		}
	}
	if _, err := b.Embed(cctx, []string{"late"}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// A merged pass stops when every caller in it has gone.
func TestPassStopsWhenAllGone(t *testing.T) {
	g := newGated(true)
	b := batcher.New(g, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Embed(ctx, []string{fmt.Sprint("t", i)})
			// The first caller's pass ends before the cancel.
			if (i == 0) != (err == nil) || i > 0 && !errors.Is(err, context.Canceled) {
				t.Errorf("caller %d: %v", i, err)
			}
		}()
		if i == 0 {
			<-g.entered
		} else {
			waitQueued(t, b, i)
		}
	}
	// Release the first pass into a second, merged one, then cancel all:
	// the merged pass is held at the gate until its context ends.
	g.gate <- struct{}{}
	<-g.entered
	cancel()
	wg.Wait()
	close(g.gate)
	// Idle again: a new caller leads at once.
	if _, err := b.Embed(context.Background(), []string{"after"}); err != nil {
		t.Fatal(err)
	}
}

// Many callers, some giving up at random: every one that stays gets its
// own vectors, and nobody hangs.
func TestConcurrentCallers(t *testing.T) {
	b := batcher.New(embedtest.New(16), 8)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for j := range 50 {
				texts := make([]string, 1+r.IntN(4))
				for k := range texts {
					texts[k] = fmt.Sprintf("w%d x%d y%d", r.IntN(1000), i, j)
				}
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(5) == 0 {
					cancel()
				}
				if r.IntN(5) == 0 {
					go cancel()
				}
				got, err := b.Embed(ctx, texts)
				cancel()
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Error(err)
				}
				if err == nil && !same(got, want(t, texts)) {
					t.Errorf("caller %d round %d got other vectors", i, j)
				}
			}
		}()
	}
	wg.Wait()
}
