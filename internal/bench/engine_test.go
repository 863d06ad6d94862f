package bench_test

import (
	"testing"

	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// engineFor opens a real engine in a fresh data directory, with the
// built-in embedding model when semantic.
func engineFor(t *testing.T, semantic bool) *engine.Engine {
	t.Helper()
	var opts []engine.Option
	if semantic {
		m, err := uselite.New()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, engine.WithEmbedder(m, 256<<20))
	}
	e, _ := testserver.NewEngine(t, opts...)
	return e
}
