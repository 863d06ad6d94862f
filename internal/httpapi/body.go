package httpapi

import (
	"errors"
	"io"
	"net/http"
)

// bodyError is a failure to read the request body that is the client's
// doing: a body cut short of its Content-Length (io.ErrUnexpectedEOF),
// a connection reset mid-body. huma reports any body read error as 500;
// the problem hook (problem.go) answers these 400 instead.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// clientBody marks the read errors of a request body as bodyErrors. The
// end of the body and the size limit pass through unchanged: huma and
// net/http branch on them.
type clientBody struct{ io.ReadCloser }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if err != nil && err != io.EOF && !errors.As(err, &tooLarge) {
		err = &bodyError{err}
	}
	return n, err
}

// cutShort reports whether errs hold a bodyError.
func cutShort(errs []error) bool {
	for _, e := range errs {
		var be *bodyError
		if errors.As(e, &be) {
			return true
		}
	}
	return false
}
