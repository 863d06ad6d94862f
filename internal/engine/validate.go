package engine

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/engram-memory/engram"
)

func invalid(format string, args ...any) error {
	return engram.Errorf(engram.CodeInvalid, format, args...)
}

// cleanText validates a piece of memory text and returns it trimmed.
func cleanText(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s must be valid UTF-8", field)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("%s must not be empty", field)
	}
	if len(s) > engram.MaxContentBytes {
		return "", invalid("%s is longer than %d bytes", field, engram.MaxContentBytes)
	}
	return s, nil
}

// checkID validates a caller-chosen label (a message role): printable,
// bounded, no surrounding space. Scope ids have stricter rules (scopeid.go).
func checkID(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > engram.MaxScopeIDBytes {
		return invalid("%s is longer than %d bytes", field, engram.MaxScopeIDBytes)
	}
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return invalid("%s must be valid UTF-8 without surrounding spaces", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s must not contain control characters", field)
		}
	}
	return nil
}

// encodeMetadata validates metadata and returns its JSON (nil for none).
func encodeMetadata(md map[string]any) ([]byte, error) {
	if len(md) == 0 {
		return nil, nil
	}
	if len(md) > engram.MaxMetadataKeys {
		return nil, invalid("metadata has more than %d keys", engram.MaxMetadataKeys)
	}
	for k := range md {
		if k == "" || len(k) > 128 || !utf8.ValidString(k) {
			return nil, invalid("metadata keys must be 1 to 128 bytes of UTF-8")
		}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil, invalid("metadata must be a JSON object")
	}
	if len(b) > engram.MaxMetadataBytes {
		return nil, invalid("metadata is larger than %d bytes as JSON", engram.MaxMetadataBytes)
	}
	return b, nil
}

// decodeMetadata returns the stored metadata, an empty object when there is
// none: clients (and the OpenAPI document) see `{}`, never null.
func decodeMetadata(b []byte) (map[string]any, error) {
	if b == nil {
		return map[string]any{}, nil
	}
	var md map[string]any
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, err
	}
	if md == nil {
		md = map[string]any{}
	}
	return md, nil
}

// pageLimit applies a default and a maximum to a requested page size.
func pageLimit(n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > max:
		return 0, invalid("limit must be between 1 and %d", max)
	}
	return n, nil
}
