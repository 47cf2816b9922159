package netns

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// privateMountEnv marks the copy of the test binary that runs in a mount
// namespace of its own.
const privateMountEnv = "GETLAB_TEST_PRIVATE_MOUNTS"

// inPrivateMounts runs the calling test again in a mount namespace of its
// own (util-linux unshare), where /run/netns can be unmounted and mounted
// as on a fresh boot without touching the host's or other labs' view, and
// reports whether this is that copy (then the test goes on).
func inPrivateMounts(t *testing.T) bool {
	t.Helper()
	if os.Getenv(privateMountEnv) != "" {
		return true
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), privateMountEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a private mount namespace:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test failed in its mount namespace: %v", err)
	}
	return false
}

// unmountNamedDir makes /run/netns a plain directory again in this mount
// namespace, as before any program first mounted it.
func unmountNamedDir(t *testing.T) {
	t.Helper()
	for range 16 {
		if err := unix.Unmount(nsDir, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) {
				t.Fatal(err)
			}
			return
		}
	}
}

// mountsOf lists the mount points in this mount namespace, hidden ones
// too, that start with prefix.
func mountsOf(t *testing.T, prefix string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], prefix) {
			out = append(out, fields[4])
		}
	}
	return out
}

func ipNetns(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"netns"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip netns %v: %v\n%s", args, err, out)
	}
}

func randomName(t *testing.T) string {
	var b [4]byte
	rand.Read(b[:])
	return "getlab-test-" + hex.EncodeToString(b[:])
}

// TestDownWhoeverMountedRunNetns destroys labs however /run/netns came to
// be a mount point: made by the lab itself and then used by `ip netns add`,
// made by `ip netns add` before the lab, and the case that used to leak
// (EBUSY on down): a namespace mounted while /run/netns was a plain
// directory, then hidden when `ip netns add` bound the directory onto
// itself.
func TestDownWhoeverMountedRunNetns(t *testing.T) {
	needRoot(t)
	if !inPrivateMounts(t) {
		return
	}
	tp := load(t, "testdata/procs.clab.yml")
	destroyClean := func(t *testing.T, lab *Lab) {
		t.Helper()
		if err := lab.Destroy(); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		if m := mountsOf(t, filepath.Join(nsDir, lab.ID)); len(m) > 0 {
			t.Errorf("mounts left: %v", m)
		}
		if left := leftovers(lab); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
	}

	t.Run("lab first, then ip netns add", func(t *testing.T) {
		unmountNamedDir(t)
		lab, err := Deploy(context.Background(), tp, Options{LabRoot: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		other := randomName(t)
		ipNetns(t, "add", other)
		defer ipNetns(t, "del", other)
		destroyClean(t, lab)
	})

	t.Run("ip netns add, then the lab", func(t *testing.T) {
		unmountNamedDir(t)
		other := randomName(t)
		ipNetns(t, "add", other)
		defer ipNetns(t, "del", other)
		lab, err := Deploy(context.Background(), tp, Options{LabRoot: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		destroyClean(t, lab)
	})

	t.Run("namespace hidden beneath a later mount", func(t *testing.T) {
		unmountNamedDir(t)
		name := randomName(t)
		path := filepath.Join(nsDir, name)
		// Mounted the way a program that does not prepare /run/netns
		// mounts it (vishvananda/netns.NewNamed, older getlab).
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			orig, err := vnetns.Get()
			if err != nil {
				errc <- err
				return
			}
			h, err := vnetns.NewNamed(name)
			if err == nil {
				h.Close()
			}
			if serr := vnetns.Set(orig); serr != nil {
				errc <- errors.Join(err, serr) // the thread stays locked and dies
				return
			}
			runtime.UnlockOSThread()
			errc <- err
		}()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		other := randomName(t)
		ipNetns(t, "add", other)
		defer ipNetns(t, "del", other)
		if m := mountsOf(t, path); len(m) != 2 {
			t.Fatalf("want the namespace mounted twice, beneath and in the bind: %v", m)
		}
		if err := removeNamespace(path); err != nil {
			t.Fatal(err)
		}
		if m := mountsOf(t, path); len(m) > 0 {
			t.Errorf("mounts left: %v", m)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s left", path)
		}
	})
}
