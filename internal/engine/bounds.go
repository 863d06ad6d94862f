package engine

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
)

// Times a caller gives (a memory's timestamp, created_at/updated_at
// filters, audit since/until, a key's expires_at) must fall in
// the years engram.MinTimeYear to engram.MaxTimeYear (UTC). Outside them a
// value is a mistake (the zero time, year 0, a lost digit), and a mistake
// stored as created_at skews time-aware ranking for good.
func checkTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < engram.MinTimeYear || y > engram.MaxTimeYear {
		return invalid("%s must be in the years %d to %d (UTC)", field, engram.MinTimeYear, engram.MaxTimeYear)
	}
	return nil
}

// Cursors are opaque to clients: unpadded base64url of what the server
// needs to resume. A cursor is refused unless it is exactly in the form the
// server issues — canonical base64 of a value it could have issued — so a
// mistyped or invented one answers 400 instead of an empty page.
var errCursor = engram.Errorf(engram.CodeInvalid, "cursor is not one this server issued")

func decodeCursor(c string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != c {
		return nil, errCursor
	}
	return b, nil
}

// memoryCursor decodes a memory list cursor: the id (a UUIDv7, the only
// kind newID makes, in canonical form) of the last memory of a page.
func memoryCursor(c string) (string, error) {
	b, err := decodeCursor(c)
	if err != nil {
		return "", err
	}
	u, err := uuid.Parse(string(b))
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != string(b) {
		return "", errCursor
	}
	return string(b), nil
}

// seqCursor decodes a cursor naming a sequence number (audit entries,
// segments), which start at 1, in canonical decimal.
func seqCursor(c string) (uint64, error) {
	b, err := decodeCursor(c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != string(b) {
		return 0, errCursor
	}
	return n, nil
}
