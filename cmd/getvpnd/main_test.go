package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMainEnv makes the test binary run getvpnd itself, for the tests that
// need a daemon process (to kill it).
const runMainEnv = "GETVPND_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestCheckAcceptsTheTopologyConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../topologies/configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs found")
	}
	for _, f := range files {
		var out, errb bytes.Buffer
		if code := run([]string{"--check", f}, &out, &errb); code != 0 {
			t.Errorf("%s: exit %d: %s", f, code, errb.String())
		}
	}
}

func TestCheckRefusesABadConfigNamingTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gm.yaml")
	bad := "role: gm\ngroups:\n  - name: G\n    id: 1\n    ks_list: [192.0.2.300]\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "groups[0].ks_list[0]") {
		t.Errorf("message does not name the field: %q", errb.String())
	}
	// The daemon itself refuses to start on it the same way.
	errb.Reset()
	if code := run([]string{"--config", path}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "ks_list") {
		t.Errorf("daemon: exit %d, %q", code, errb.String())
	}
}
