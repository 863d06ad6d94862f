package export

import (
	"io"

	"github.com/engram-memory/engram"
)

// NewDecoder returns the decoder of format for a document read from r.
// Formats it cannot read return ErrUnsupported.
func NewDecoder(format string, r io.Reader) (Decoder, error) {
	switch format {
	case "", engram.ExportJSON:
		return newJSONDecoder(r)
	case engram.ImportMem0:
		return newMem0Decoder(r)
	case engram.ExportJSONLD:
		return decoderOf(newJSONLDDecoder(r))
	case engram.ExportPAM:
		return decoderOf(newPAMDecoder(r))
	}
	return nil, ErrUnsupported
}
