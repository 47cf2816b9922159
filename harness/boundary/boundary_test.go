package boundary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// benchTrees are the directories of the bench, relative to the module root.
var benchTrees = []string{"suites", "harness", "pcap"}

// forbidden are the daemon's packages the bench must not reach, relative
// to the module root; their subpackages are forbidden too.
var forbidden = []string{
	"gateway/ks",
	"gateway/gm",
	"gateway/dataplane",
	"gateway/gdoi",
	"gateway/ikev1",
	"gateway/phase1",
	"gateway/coop",
	"gateway/esp",
}

// allowed are the importer → forbidden edges tolerated for now (none).
// What an allowed package pulls in behind it is not followed.
var allowed = map[[2]string]bool{}

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath string
	Imports    []string
}

func TestBenchImportsNoDaemonPackage(t *testing.T) {
	args := []string{"-deps", "-test"}
	for _, d := range benchTrees {
		args = append(args, "./"+d+"/...")
	}
	mod, pkgs := goList(t, args...)

	rel := func(id string) string { return strings.TrimPrefix(base(id), mod+"/") }
	isBench := func(id string) bool { return under(rel(id), benchTrees) }
	isForbidden := func(id string) bool { return under(rel(id), forbidden) }

	// Walk from every bench package through the packages it reaches, not
	// into forbidden ones: each edge into a forbidden package is a
	// violation, reported with the path that leads to it.
	via := map[string]string{} // package → the package it was reached from ("" for a bench package)
	var queue []string
	for id := range pkgs {
		if isBench(id) {
			via[id] = ""
			queue = append(queue, id)
		}
	}
	if len(queue) == 0 {
		t.Fatalf("go list found no package under %v", benchTrees)
	}
	slices.Sort(queue) // a stable report
	violations := map[string]bool{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, imp := range pkgs[id] {
			if isForbidden(imp) {
				if !allowed[[2]string{rel(id), rel(imp)}] {
					violations[chain(id, via, rel)+" → "+rel(imp)] = true
				}
				continue
			}
			if _, seen := via[imp]; !seen {
				via[imp] = id
				queue = append(queue, imp)
			}
		}
	}
	if len(violations) > 0 {
		list := slices.Sorted(func(yield func(string) bool) {
			for v := range violations {
				if !yield(v) {
					return
				}
			}
		})
		t.Errorf("the bench (%v) depends on the daemon's packages (%v); it must judge from the wire with its own code:\n\t%s",
			benchTrees, forbidden, strings.Join(list, "\n\t"))
	}
}

// TestDaemonCoreImportsNoControl keeps the layering of the daemon: the
// roles, the protocol and the data plane return plain snapshots
// (gateway/show); only gateway/control turns them into its HTTP API, and
// only cmd/ wires the two together. No package under gateway/ but control
// itself imports it, tests included.
func TestDaemonCoreImportsNoControl(t *testing.T) {
	mod, pkgs := goList(t, "-test", "./gateway/...")
	if len(pkgs) == 0 {
		t.Fatal("go list found no package under gateway/")
	}
	control := mod + "/gateway/control"
	var bad []string
	for id, imports := range pkgs {
		if strings.TrimSuffix(base(id), "_test") != control && slices.Contains(imports, control) {
			bad = append(bad, strings.TrimPrefix(id, mod+"/"))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("these packages import gateway/control; return a gateway/show snapshot and let cmd/ serve it:\n\t%s", strings.Join(bad, "\n\t"))
	}
}

// goList runs `go list -json=ImportPath,Imports args...` at the module
// root and returns the module path and, by package ID (test variants
// included), each package's imports. Without the go tool the test skips.
func goList(t *testing.T, args ...string) (mod string, pkgs map[string][]string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not in PATH (%v): cannot list the packages' imports", err)
	}
	root := "../.."
	modOut, err := run(goTool, root, "list", "-m")
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(goTool, root, append([]string{"list", "-json=ImportPath,Imports"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	pkgs = map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p.Imports
	}
	return strings.TrimSpace(string(modOut)), pkgs
}

// chain is the import path from a bench package to id, in module-relative
// names: "pcap → gateway/keylog".
func chain(id string, via map[string]string, rel func(string) string) string {
	var names []string
	for ; id != ""; id = via[id] {
		names = append(names, rel(id))
	}
	slices.Reverse(names)
	return strings.Join(names, " → ")
}

// base strips go list's test-variant suffix: "p [q.test]" → "p", and the
// name of a test main, "p.test" → "p".
func base(id string) string {
	if i := strings.Index(id, " ["); i >= 0 {
		id = id[:i]
	}
	return strings.TrimSuffix(id, ".test")
}

// under reports whether the module-relative path p is one of dirs or below
// one; a package's external test package (p_test) counts as p.
func under(p string, dirs []string) bool {
	p = strings.TrimSuffix(p, "_test")
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func run(goTool, dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
