package export

import "io"

// NewDecoder returns the decoder of format for a document read from r.
// Formats it cannot read return ErrUnsupported.
func NewDecoder(format string, r io.Reader) (Decoder, error) {
	switch format {
	}
	return nil, ErrUnsupported
}
