package checkpoint

import (
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// extNextKey is the extension line of a hand-over note: the verifier key
// that signs the log's checkpoints from the rotation on.
const extNextKey = "engram-next-key "

// Handover returns the hand-over note of a signing key rotation: the log's
// newest checkpoint cp, unchanged but for one extension line naming the next
// verifier key, signed by the old key and by the next one.
//
// Why the next key is named in the signed text rather than the checkpoint
// simply co-signed: a signature by the old key over the bare checkpoint says
// nothing about which key comes next (anyone can add their own signature to
// a note), so it could not hand trust over. With the line, the old key's
// signature endorses exactly one successor, and the successor's signature
// shows its holder took part.
func Handover(cp Checkpoint, nextVerifierKey string, old, next note.Signer) ([]byte, error) {
	if _, err := note.NewVerifier(nextVerifierKey); err != nil {
		return nil, fmt.Errorf("hand-over next key: %w: %v", ErrMalformed, err)
	}
	extra := make([]string, 0, len(cp.Extra)+1)
	for _, l := range cp.Extra {
		// A second rotation before the next seal hands over the same tree
		// again: only the newest successor is named.
		if !strings.HasPrefix(l, extNextKey) {
			extra = append(extra, l)
		}
	}
	cp.Extra = append(extra, extNextKey+nextVerifierKey)
	body, err := cp.Marshal()
	if err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: string(body)}, old, next)
	if err != nil {
		return nil, fmt.Errorf("sign hand-over: %w", err)
	}
	return signed, nil
}

// ParseSigned parses the body of a signed checkpoint without checking its
// signatures: for the signer's own stored checkpoints.
func ParseSigned(signed []byte) (Checkpoint, error) { return parseSigned(signed) }

// OpenHandover verifies a hand-over note for a verifier that pinned
// pinnedKey: the note must be a checkpoint of origin signed by pinnedKey,
// name the next verifier key, and be signed by that key too. It returns the
// checkpoint (the tree the rotation handed over) and the next key. Errors
// are those of Open; a note that names no next key fails with ErrMalformed.
func OpenHandover(signed []byte, origin, pinnedKey string) (Checkpoint, string, error) {
	cp, err := Open(signed, origin, pinnedKey)
	if err != nil {
		return Checkpoint{}, "", fmt.Errorf("hand-over under the pinned key: %w", err)
	}
	var next string
	for _, l := range cp.Extra {
		if v, ok := strings.CutPrefix(l, extNextKey); ok {
			next = v
		}
	}
	if next == "" {
		return Checkpoint{}, "", fmt.Errorf("hand-over names no next key: %w", ErrMalformed)
	}
	if _, err := Open(signed, origin, next); err != nil {
		return Checkpoint{}, "", fmt.Errorf("hand-over under the next key: %w", err)
	}
	return cp, next, nil
}
