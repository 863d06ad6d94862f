package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/jsoncheck"
)

// utf8Bodies refuses a JSON body that is not valid UTF-8 or holds a lone
// surrogate escape (jsoncheck), with 400 invalid, before huma decodes it:
// the decoder would otherwise store U+FFFD in place of what was sent. The
// body is already capped (limitBody), so buffering it costs no more than
// the decoder's own read. A body that cannot be read whole (over the cap,
// cut short) goes on unchanged, with its read error, to the handler that
// reports such bodies. /mcp does the same check itself and answers in
// JSON-RPC (mcp.HTTPHandler).
func utf8Bodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.URL.Path == mcpPath || r.URL.Path == importPath {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			r.Body = replay{Reader: io.MultiReader(bytes.NewReader(b), errReader{err}), Closer: r.Body}
			next.ServeHTTP(w, r)
			return
		}
		if err := jsoncheck.Check(b); err != nil {
			writeProblem(w, r, newProblem(http.StatusBadRequest, engram.CodeInvalid, err.Error()))
			return
		}
		r.Body = replay{Reader: bytes.NewReader(b), Closer: r.Body}
		next.ServeHTTP(bodyConsumed{w}, r)
	})
}

// bodyConsumed is the response writer of a request whose body was read to
// its end: it ignores read deadlines. huma sets one (its BodyReadTimeout,
// 5 s) before it decodes a body, but this body came from memory; the only
// read still pending on the connection is net/http's background read,
// which watches for the client going away. A deadline there fires while
// the handler works, net/http takes the timeout for a dead connection and
// cancels the connection's context: the request failed with 503 "did not
// finish in time" 5 s into its work, and every later request on that
// keep-alive connection arrived with its context already cancelled (the
// 128-client failures of docs/BENCHMARKS.md, "Throughput"). The body was
// read under the server's ReadTimeout, so nothing is left to bound.
type bodyConsumed struct{ http.ResponseWriter }

func (bodyConsumed) SetReadDeadline(time.Time) error { return nil }

func (w bodyConsumed) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w bodyConsumed) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// replay is a body read ahead of its handler: the bytes read, then the
// original read error if there was one; Close closes the original.
type replay struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
