package mem0api

import (
	"fmt"
	"net/http"

	"github.com/engram-memory/engram"
)

// maxBatch is mem0's limit on one batch.
const maxBatch = 1000

type batchBody struct {
	Memories []struct {
		MemoryID string         `json:"memory_id"`
		Text     *string        `json:"text"`
		Metadata map[string]any `json:"metadata"`
	} `json:"memories"`
}

func decodeBatch(r *http.Request) (*batchBody, error) {
	var b batchBody
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if len(b.Memories) == 0 || len(b.Memories) > maxBatch {
		return nil, invalid("memories must list 1 to %d memories", maxBatch)
	}
	return &b, nil
}

// batchUpdate replaces the text (and the metadata, when given) of each
// listed memory, in order, each as its own update (own history and audit
// entry). It is not atomic: it stops
// at the first failure, and the updates before it stay.
func (s *server) batchUpdate(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBatch(r)
	if err != nil {
		return err
	}
	for i, m := range b.Memories {
		if m.Text == nil {
			return invalid("memories[%d].text is required", i)
		}
	}
	for _, m := range b.Memories {
		if _, err := s.mem.Update(r.Context(), m.MemoryID, engram.UpdateRequest{Content: *m.Text, Metadata: m.Metadata}); err != nil {
			return err
		}
	}
	return reply(w, http.StatusOK, message{fmt.Sprintf("Successfully updated %d memories", len(b.Memories))})
}

// batchDelete deletes each listed memory, in order; like batchUpdate it
// stops at the first failure.
func (s *server) batchDelete(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBatch(r)
	if err != nil {
		return err
	}
	for _, m := range b.Memories {
		if err := s.mem.Delete(r.Context(), m.MemoryID); err != nil {
			return err
		}
	}
	return reply(w, http.StatusOK, message{fmt.Sprintf("Successfully deleted %d memories", len(b.Memories))})
}
