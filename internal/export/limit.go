package export

import (
	"fmt"
	"io"
)

// MaxRecordBytes bounds one record as a reader (a decoder, Verify) holds
// it: documents are read a record at a time, so this bounds their memory
// whatever a file says. A request body is at most engram.MaxBodyBytes, but
// a memory carries its whole history, hence the margin.
const MaxRecordBytes = 64 << 20

// ErrRecordTooLarge is a record, or a header, above MaxRecordBytes.
var ErrRecordTooLarge = fmt.Errorf("export: a record is larger than %d MiB", MaxRecordBytes>>20)

// recordBytes is MaxRecordBytes; tests lower it.
var recordBytes int64 = MaxRecordBytes

// recordLimit reads at most recordBytes between two calls to reset
// (before each record), then fails with ErrRecordTooLarge.
type recordLimit struct {
	r    io.Reader
	left int64
}

func newRecordLimit(r io.Reader) *recordLimit { return &recordLimit{r: r, left: recordBytes} }

func (l *recordLimit) reset() { l.left = recordBytes }

func (l *recordLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrRecordTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
