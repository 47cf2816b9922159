package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// eventLike is how an event name is written: upper-case words joined by
// underscores.
var eventLike = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// daemonLiterals reads every non-test Go file of the daemon (gateway/ and
// cmd/, the catalogue and this list left out) and returns the string
// literals that look like event names, and those given as the first
// argument of an Emit call, with where they are.
func daemonLiterals(t *testing.T) (all map[string]string, emitted map[string]string) {
	t.Helper()
	all, emitted = map[string]string{}, map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range []string{"..", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if base := filepath.Base(path); filepath.Base(filepath.Dir(path)) == "events" && (base == "catalogue.go" || base == "pending.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && eventLike.MatchString(s) {
						all[s] = fset.Position(n.Pos()).String()
					}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Emit" && len(n.Args) > 0 {
						if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							emitted[s] = fset.Position(lit.Pos()).String()
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(emitted) == 0 {
		t.Fatal("found no Emit call in the daemon's source")
	}
	return all, emitted
}

// Every event the daemon emits by name is in the catalogue, and every
// catalogue entry is either named in the daemon's code (emitted, or
// passed to the code that emits it) or listed as pending with the feature
// it waits for — never both.
func TestEveryEventIsEmittedOrPending(t *testing.T) {
	all, emitted := daemonLiterals(t)
	for name, at := range emitted {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s: Emit(%q): not in the catalogue", at, name)
		}
	}
	var unnamed []string
	for _, d := range All() {
		at, named := all[d.Name]
		why, isPending := pending[d.Name]
		switch {
		case named && isPending:
			t.Errorf("%s is emitted now (%s): take it off the pending list (%q)", d.Name, at, why)
		case !named && !isPending:
			unnamed = append(unnamed, d.Name)
		}
	}
	if len(unnamed) > 0 {
		slices.Sort(unnamed)
		t.Errorf("catalogue entries no code emits and the pending list does not explain: %s", strings.Join(unnamed, ", "))
	}
	for name, why := range pending {
		if _, ok := Lookup(name); !ok {
			t.Errorf("pending %s is not in the catalogue", name)
		}
		if why == "" {
			t.Errorf("pending %s: no reason", name)
		}
	}
	t.Logf("%d catalogue events: %d named by the daemon, %d pending", len(All()), len(All())-len(pending), len(pending))
}
