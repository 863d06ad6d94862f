package engine

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/engram-memory/engram"
)

// Idempotency records belong to the principal (API key) that made them:
// the store looks them up by (tenant, key id, key), so another key of the
// tenant that sends the same Idempotency-Key starts afresh instead of
// replaying someone else's result. The header value itself is stored only
// as a MAC under the tenant's MAC key: a secret pasted into it is never
// kept.

// idempotencyKey is the stored form of an Idempotency-Key header value.
func (w *writer) idempotencyKey(key string) string {
	return hex.EncodeToString(w.mac([]byte("idempotency-key"), []byte(key)))
}

// replay rebuilds the result of an earlier request of the same principal
// from its record (ids and events) and the texts of this request, which
// are those of the first one (the request hash matched). It never reads
// stored text: a replay shows what the first answer showed, and nothing
// that changed since.
func replay(raw []byte, texts []addText) ([]engram.AddResult, error) {
	var kept []idemResult
	if err := json.Unmarshal(raw, &kept); err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	if len(kept) != len(texts) {
		return nil, fmt.Errorf("idempotency record holds %d results for %d texts", len(kept), len(texts))
	}
	out := make([]engram.AddResult, len(kept))
	for i, k := range kept {
		out[i] = engram.AddResult{ID: k.ID, Content: texts[i].Text, Event: k.Event}
	}
	return out, nil
}
