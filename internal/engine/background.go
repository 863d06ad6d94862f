package engine

import (
	"context"
	"log/slog"
	"sync"
)

// background runs work that outlives the request that started it (a
// password reset mail goes out after the answer, so the answer takes the
// same time whether or not the account exists). Drain cancels what is
// still running and waits for it, so the store can close after it.
type background struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (b *background) init() {
	b.once.Do(func() { b.ctx, b.cancel = context.WithCancel(context.Background()) })
}

// Go runs fn in a goroutine with a context that Drain cancels.
func (b *background) Go(fn func(ctx context.Context)) {
	b.init()
	b.wg.Go(func() { fn(b.ctx) })
}

// Drain cancels the background work and waits for it to return.
func (b *background) Drain() {
	b.init()
	b.cancel()
	b.wg.Wait()
}

// DrainBackground stops the engine's background work started by requests
// (reset mails) and waits for it: call it after the HTTP server drained,
// before the store closes.
func (e *Engine) DrainBackground() { e.mails.Drain() }

// logger is where the engine logs operator-facing failures of background
// work (WithLogger; slog.Default otherwise). Never content.
func (e *Engine) logger() *slog.Logger {
	if e.unread.log != nil {
		return e.unread.log
	}
	return slog.Default()
}
