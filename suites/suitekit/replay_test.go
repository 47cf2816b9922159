package suitekit

import (
	"os"
	"path/filepath"
	"testing"
)

// The environment entry reads as the shell line that sets it again: a
// GETLAB_FAIL_SPEC with spaces and quotes survives a copy and paste.
func TestEnvironmentString(t *testing.T) {
	e := Environment{"GETLAB_KS": "getvpnd", "GETLAB_GM": "getvpnd-wire", "GETLAB_RUNTIME": "netns", FailSpecEnv: "reaches host-b's LAN"}
	want := `GETLAB_FAIL_SPEC='reaches host-b'\''s LAN' GETLAB_GM=getvpnd-wire GETLAB_KS=getvpnd GETLAB_RUNTIME=netns`
	if got := e.String(); got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
}

func TestRunEnvironment(t *testing.T) {
	t.Setenv("GETLAB_KS", "")
	t.Setenv("GETLAB_GM", "getvpnd-wire")
	t.Setenv("GETLAB_RUNTIME", "")
	t.Setenv(FailSpecEnv, "")
	e := RunEnvironment()
	if len(e) != 3 || e["GETLAB_KS"] != DefaultImpl || e["GETLAB_GM"] != "getvpnd-wire" || e["GETLAB_RUNTIME"] != "netns" {
		t.Errorf("%v", e)
	}
	t.Setenv(FailSpecEnv, "x")
	if RunEnvironment()[FailSpecEnv] != "x" {
		t.Error("GETLAB_FAIL_SPEC not recorded")
	}
}

// copyTree copies a folder's regular files and leaves links out.
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "configs", "gm1.yaml"), []byte("role: gm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "configs", "passwd")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "topology", "configs")
	copyTree(filepath.Join(src, "configs"), dst)
	if b, err := os.ReadFile(filepath.Join(dst, "gm1.yaml")); err != nil || string(b) != "role: gm\n" {
		t.Errorf("gm1.yaml: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "passwd")); err == nil {
		t.Error("a link was copied")
	}
	// A single file too.
	copyTree(filepath.Join(src, "configs", "gm1.yaml"), filepath.Join(dst, "copy.yaml"))
	if _, err := os.Stat(filepath.Join(dst, "copy.yaml")); err != nil {
		t.Error(err)
	}
}
