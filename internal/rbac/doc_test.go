package rbac_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/rbac"
)

var update = flag.Bool("update", false, "rewrite the matrix in docs/IDENTITY.md and docs/SECURITY.md")

const (
	docBegin = "<!-- begin rbac matrix: generated from internal/rbac by `go test ./internal/rbac -run TestDocMatrix -update`; do not edit -->\n"
	docEnd   = "<!-- end rbac matrix -->"
)

// docPaths show the matrix: IDENTITY.md (the design) and SECURITY.md (what
// the engine enforces).
var docPaths = []string{"../../docs/IDENTITY.md", "../../docs/SECURITY.md"}

// TestDocMatrix: the table in each doc is the Matrix, rendered. Change the
// Matrix, run with -update, and commit all three.
func TestDocMatrix(t *testing.T) {
	for _, docPath := range docPaths {
		raw, err := os.ReadFile(docPath)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(raw)
		i := strings.Index(doc, docBegin)
		j := strings.Index(doc, docEnd)
		if i < 0 || j < i {
			t.Fatalf("%s lacks the rbac matrix markers", docPath)
		}
		got := doc[i+len(docBegin) : j]
		want := rbac.Markdown()
		if got == want {
			continue
		}
		if *update {
			if err := os.WriteFile(docPath, []byte(doc[:i+len(docBegin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("the matrix in %s is out of date: run go test ./internal/rbac -run TestDocMatrix -update\n--- doc\n%s\n--- code\n%s", docPath, got, want)
	}
}

func TestMarkdownShape(t *testing.T) {
	md := rbac.Markdown()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if len(lines) != 2+len(rbac.Matrix) {
		t.Fatalf("%d lines for %d rows", len(lines), len(rbac.Matrix))
	}
	for _, l := range lines {
		if strings.Count(l, "|") != 10 {
			t.Errorf("line with %d cells: %s", strings.Count(l, "|")-1, l)
		}
	}
	if !strings.Contains(md, "| memories | `memory.read` | all | shared + own | shared + own | shared + own | shared + own | `memories:read` |") {
		t.Errorf("memory.read row not as expected:\n%s", md)
	}
}
