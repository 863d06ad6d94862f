package engine

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
)

// Scope ids (user_id, agent_id, run_id) partition memories and name the
// key an erasure destroys, so two spellings of one id must not be two
// users: `josé` typed as one code point (NFC) or as `e` plus a combining
// accent (NFD) is the same person, and erasing one must not leave the
// other. Every id is therefore stored in Unicode NFC, and characters that
// make two ids look alike while comparing different are refused: controls,
// and the invisible format characters (category Cf: bidi embeddings and
// isolates U+202A–U+202E, U+2066–U+2069, marks U+200E/U+200F/U+061C,
// zero-width U+200B–U+200D, U+2060, U+FEFF, …), plus the line and
// paragraph separators.
//
// Normalising rather than refusing non-NFC input is deliberate: callers
// rarely control the form their platform produces (macOS file names and
// some keyboards give NFD), and both forms then reach the one user.

// cleanScopeID validates a scope id and returns its NFC form. The empty
// id is valid (no scope). Error messages name the field and the rule,
// never the value.
func cleanScopeID(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if !utf8.ValidString(s) {
		return "", invalid("%s must be valid UTF-8", field)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", invalid("%s must not contain control characters", field)
		case unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return "", invalid("%s must not contain invisible formatting characters (bidi controls, zero-width characters, separators)", field)
		}
	}
	n := norm.NFC.String(s)
	if strings.TrimSpace(n) != n {
		return "", invalid("%s must not have surrounding spaces", field)
	}
	if len(n) > engram.MaxScopeIDBytes {
		return "", invalid("%s is longer than %d bytes", field, engram.MaxScopeIDBytes)
	}
	return n, nil
}

// cleanScope applies cleanScopeID to every id of s.
func cleanScope(s engram.Scope) (engram.Scope, error) {
	var err error
	if s.UserID, err = cleanScopeID("user_id", s.UserID); err != nil {
		return engram.Scope{}, err
	}
	if s.AgentID, err = cleanScopeID("agent_id", s.AgentID); err != nil {
		return engram.Scope{}, err
	}
	if s.RunID, err = cleanScopeID("run_id", s.RunID); err != nil {
		return engram.Scope{}, err
	}
	return s, nil
}

// nfcValues returns v with every string in it (operands of a filter on a
// scope id) in NFC, so that a filter matches whichever form it was typed in.
func nfcValues(v any) any {
	switch x := v.(type) {
	case string:
		return norm.NFC.String(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = nfcValues(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = nfcValues(e)
		}
		return out
	}
	return v
}

// storedForms are the spellings under which a user's data may be stored:
// the NFC form every write uses now, and — for data written before ids
// were normalised — the NFD form and the spelling the caller gave. An
// erasure covers all of them, so that no earlier spelling survives it.
func storedForms(raw, nfc string) []string {
	forms := []string{nfc}
	for _, f := range []string{norm.NFD.String(nfc), raw} {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}
