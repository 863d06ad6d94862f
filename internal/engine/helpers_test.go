package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// owner creates tenant "t" and returns it with its owner's context.
func owner(tb testing.TB, e *engine.Engine) (*engram.NewTenant, context.Context) {
	tb.Helper()
	return ownerOf(tb, e, "t")
}

// ownerOf is owner of a new tenant of that name.
func ownerOf(tb testing.TB, e *engine.Engine, name string) (*engram.NewTenant, context.Context) {
	tb.Helper()
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		tb.Fatal(err)
	}
	return nt, engram.WithPrincipal(ctx, p)
}

// concurrently runs call(w, i) for i in [0, calls) on each of workers
// goroutines at once and fails the test with the first error.
func concurrently(t *testing.T, workers, calls int, call func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				if err := call(w, i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
