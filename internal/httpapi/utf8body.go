package httpapi

import (
	"bytes"
	"io"
	"net/http"

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
		next.ServeHTTP(w, r)
	})
}

// replay is a body read ahead of its handler: the bytes read, then the
// original read error if there was one; Close closes the original.
type replay struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
