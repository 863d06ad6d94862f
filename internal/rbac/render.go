package rbac

import (
	"fmt"
	"strings"
)

// Markdown renders the matrix as a Markdown table, the one
// docs/IDENTITY.md shows between its rbac markers.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| area | operation |")
	for _, r := range Roles {
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString(" API key needs | notes |\n|---|---|")
	for range Roles {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, r := range Matrix {
		fmt.Fprintf(&b, "| %s | `%s` |", r.Area, r.Op)
		for _, role := range Roles {
			fmt.Fprintf(&b, " %s |", cell(r.Reach[role]))
		}
		scope := "session only"
		if r.Scope != SessionOnly {
			scope = "`" + string(r.Scope) + "`"
			if r.OwnBySession {
				scope += " (own: a session suffices)"
			}
		}
		fmt.Fprintf(&b, " %s | %s |\n", scope, r.Note)
	}
	return b.String()
}

func cell(r Reach) string {
	switch r {
	case Any:
		return "all"
	case Shared:
		return "shared + own"
	case Own:
		return "own"
	}
	return "—"
}
