// Package testbuild builds the project's commands for tests, so that `go
// test` works on a fresh clone, before any `make build`, and tests the
// binaries of the tree it runs in rather than whatever bin/ holds.
package testbuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once   sync.Once
	binDir string
	errBin error
)

// Bin builds every command under cmd/ (getlab, getvpnd, getctl), static as
// `make build` builds them, into a temporary directory, once per test
// binary, and returns that directory. Remove it with Cleanup.
func Bin() (string, error) {
	once.Do(func() { binDir, errBin = build() })
	return binDir, errBin
}

// Cleanup removes what Bin built.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "getlab-test-bin-")
	if err != nil {
		return "", err
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "build", "-o", dir+"/", "./cmd/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("testbuild: go build ./cmd/... (or run `make build` and set GETLAB_BIN): %v\n%s", err, out)
	}
	return dir, nil
}

// moduleRoot is the directory holding go.mod, above the working directory
// (a package's directory under `go test`).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", errors.New("testbuild: no go.mod above " + wd)
		}
	}
}

// Shared returns the path of rel in the project's shared directory
// ($GETLAB_SHARED, else ../shared beside the repository: where CI and the
// developers' machines have it), or skips the test, naming the path, when
// it is not there.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	shared := os.Getenv("GETLAB_SHARED")
	if shared == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Skipf("shared directory: %v", err)
		}
		shared = filepath.Join(root, "..", "shared")
	}
	p := filepath.Join(shared, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found (set GETLAB_SHARED to the shared directory)", p)
	}
	return p
}

// Root returns the module root (the directory holding go.mod), failing
// the test if there is none above its directory.
func Root(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Main is a TestMain for tests that run the project's binaries in labs:
// as root, unless GETLAB_BIN names the binaries already (`make unit`), it
// builds them (Bin) and points GETLAB_BIN at them, runs the tests, removes
// what it built and exits with the tests' status.
func Main(m *testing.M) {
	if os.Getenv("GETLAB_BIN") == "" && os.Geteuid() == 0 {
		dir, err := Bin()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Setenv("GETLAB_BIN", dir)
	}
	code := m.Run()
	Cleanup()
	os.Exit(code)
}
