package sqlstore_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestEveryMethodScoped: every store.Tx method of the shared layer begins
// by declaring the tenant its statements may see (defer t.scope(…)(),
// t.scopeAll, t.scopeOrAll). On PostgreSQL row-level security enforces
// that scope; a method without one would run in its caller's, which may be
// every tenant's.
func TestEveryMethodScoped(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	methods := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || !onTx(fn) {
				continue
			}
			methods++
			if !scoped(fn) {
				t.Errorf("%s: (*Tx).%s does not begin with defer t.scope…(…)()", fset.Position(fn.Pos()), fn.Name.Name)
			}
		}
	}
	if methods < 100 {
		t.Fatalf("found %d exported methods of *Tx: the walk is broken", methods)
	}
}

func onTx(fn *ast.FuncDecl) bool {
	star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "Tx"
}

func scoped(fn *ast.FuncDecl) bool {
	if fn.Body == nil || len(fn.Body.List) == 0 {
		return false
	}
	d, ok := fn.Body.List[0].(*ast.DeferStmt)
	if !ok {
		return false
	}
	inner, ok := d.Call.Fun.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := inner.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	recv, ok := sel.X.(*ast.Ident)
	return ok && recv.Name == "t" && strings.HasPrefix(sel.Sel.Name, "scope")
}
