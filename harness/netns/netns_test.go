package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/testbuild"
	"github.com/getlab/getlab/harness/topo"
)

// TestMain builds the binaries the project's images map to (getvpnd for
// basic.clab.yml), unless GETLAB_BIN names them already (`make unit`).
func TestMain(m *testing.M) { testbuild.Main(m) }

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the netns runtime creates network namespaces")
	}
}

func load(t testing.TB, path string) *topo.Topology {
	t.Helper()
	tp, err := topo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func deploy(t testing.TB, path string) *Lab {
	t.Helper()
	lab, err := Deploy(context.Background(), load(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Destroy() })
	return lab
}

func execOut(t *testing.T, lab *Lab, node string, argv ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := lab.Exec(context.Background(), node, argv, nil, &out, &out); err != nil {
		t.Fatalf("exec %v in %s: %v: %s", argv, node, err, out.String())
	}
	return out.String()
}

// leftovers lists what of a lab still exists on the machine.
func leftovers(lab *Lab) []string {
	var left []string
	entries, _ := os.ReadDir(nsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), lab.ID) {
			left = append(left, "netns "+e.Name())
		}
	}
	if _, err := os.Stat(lab.Dir); err == nil {
		left = append(left, "dir "+lab.Dir)
	}
	for _, n := range lab.Nodes {
		for _, pid := range []int{n.PID, n.Holder} {
			if pid != 0 && alive(pid) {
				left = append(left, "process "+strconv.Itoa(pid))
			}
		}
	}
	return left
}

func TestDeployBasicTopology(t *testing.T) {
	needRoot(t)
	lab := deploy(t, "../../topologies/basic.clab.yml")
	if got := execOut(t, lab, "gm1", "ip", "-o", "-4", "addr", "show", "dev", "eth1"); !strings.Contains(got, "192.0.2.11/24") {
		t.Errorf("gm1 eth1: %s", got)
	}
	if got := execOut(t, lab, "gm1", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(got) != "1" {
		t.Errorf("gm1 ip_forward = %q, want 1 (sysctls)", got)
	}
	if got := execOut(t, lab, "host-a", "cat", "/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(got) != "0" {
		t.Errorf("host-a ip_forward = %q, want 0", got)
	}
	if got := execOut(t, lab, "core", "ip", "-o", "link", "show", "master", "core"); strings.Count(got, "master core") != 3 {
		t.Errorf("core bridge ports:\n%s", got)
	}
	// Another process finds the lab through its state file.
	other, err := Open(lab.ID, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Node("host-b") == nil || other.Node("host-b").State() != "running" {
		t.Errorf("opened lab: host-b %+v", other.Node("host-b"))
	}
	if err := lab.Destroy(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(lab); len(left) > 0 {
		t.Errorf("left after destroy: %v", left)
	}
	if err := lab.Destroy(); err != nil {
		t.Errorf("second destroy: %v", err)
	}
}

func TestNodeProcessBindsAndEnv(t *testing.T) {
	needRoot(t)
	lab := deploy(t, "testdata/procs.clab.yml")
	w := lab.Node("worker")
	if w.PID == w.Holder || w.State() != "running" {
		t.Fatalf("worker: pid %d holder %d state %s", w.PID, w.Holder, w.State())
	}
	if lab.Node("idle").PID != lab.Node("idle").Holder {
		t.Errorf("a node without a process is represented by its holder")
	}
	// The node's process enters the node (namespaces, mounts) and then
	// execs the command: read while that exec is under way, /proc shows
	// an empty environment.
	var env []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		env, err = os.ReadFile("/proc/" + strconv.Itoa(w.PID) + "/environ")
		if err == nil && bytes.Contains(env, []byte("GETLAB_TEST=hello")) {
			break
		}
	}
	if err != nil || !bytes.Contains(env, []byte("GETLAB_TEST=hello")) {
		t.Errorf("worker environment %q: %v", env, err)
	}
	// The bind appears at its node path, through /proc/<pid>/root as the
	// bench reads it, without the host seeing the directory.
	root := "/proc/" + strconv.Itoa(w.PID) + "/root"
	b, err := os.ReadFile(root + "/etc/getlab-netns-test/config.txt")
	if err != nil || string(b) != "from the host\n" {
		t.Errorf("bound file: %q, %v", b, err)
	}
	if _, err := os.Stat("/etc/getlab-netns-test"); err == nil {
		t.Errorf("the bind target was created on the host")
	}
	if err := os.WriteFile(root+"/etc/getlab-netns-test/config.txt", []byte("x"), 0o644); err == nil {
		t.Errorf("a :ro bind is writable")
	}
	if _, err := os.Stat(root + "/run/getlab-test-dir/config.txt"); err != nil {
		t.Errorf("directory bind under the private /run: %v", err)
	}
	// /run is private to the node: the host's /run/netns is not visible.
	if _, err := os.Stat(root + "/run/netns"); err == nil {
		t.Errorf("node sees the host's /run")
	}
	if got := execOut(t, lab, "worker", "cat", "/etc/getlab-netns-test/config.txt"); got != "from the host\n" {
		t.Errorf("exec sees %q", got)
	}
	if got := execOut(t, lab, "idle", "ip", "-o", "link", "show", "eth1"); !strings.Contains(got, "mtu 1400") {
		t.Errorf("link mtu: %s", got)
	}
}

func TestProcessFaults(t *testing.T) {
	needRoot(t)
	lab := deploy(t, "testdata/procs.clab.yml")
	state := func() string { return lab.Node("worker").State() }
	waitState := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if state() == want {
				return
			}
		}
		t.Fatalf("worker state %s, want %s", state(), want)
	}
	if err := lab.Signal("worker", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState("stopped")
	if err := lab.Signal("worker", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState("running")
	old := lab.Node("worker").PID
	if err := lab.Restart("worker", time.Second); err != nil {
		t.Fatal(err)
	}
	if lab.Node("worker").PID == old || alive(old) {
		t.Errorf("restart kept pid %d", old)
	}
	waitState("running")
	if err := lab.Signal("worker", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState("exited")
	if err := lab.Restart("idle", time.Second); err == nil {
		t.Errorf("restarting a node without a process must fail")
	}
}

func TestTwoLabsSideBySide(t *testing.T) {
	needRoot(t)
	tp := load(t, "../../topologies/basic.clab.yml")
	labs := make([]*Lab, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range labs {
		wg.Go(func() { labs[i], errs[i] = Deploy(context.Background(), tp, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("lab %d: %v", i, err)
		}
	}
	if labs[0].ID == labs[1].ID {
		t.Fatalf("both labs got ID %s", labs[0].ID)
	}
	for _, l := range labs {
		if got := execOut(t, l, "gm2", "ip", "-o", "-4", "addr", "show", "dev", "eth1"); !strings.Contains(got, "192.0.2.12/24") {
			t.Errorf("%s gm2: %s", l.ID, got)
		}
	}
	for _, l := range labs {
		if err := l.Destroy(); err != nil {
			t.Error(err)
		}
		if left := leftovers(l); len(left) > 0 {
			t.Errorf("%s left: %v", l.ID, left)
		}
	}
}

func TestDestroyStaleAndAll(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	tp := load(t, "testdata/procs.clab.yml")
	stale, err := Deploy(context.Background(), tp, Options{LabRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	detached, err := Deploy(context.Background(), tp, Options{LabRoot: root, Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	live, err := Deploy(context.Background(), tp, Options{LabRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Destroy(); _ = detached.Destroy(); _ = stale.Destroy() })
	// Pretend the stale lab's deployer has died: a pid that cannot exist.
	stale.Owner = 1 << 30
	if err := stale.save(); err != nil {
		t.Fatal(err)
	}
	removed, err := DestroyStale(Options{LabRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != stale.ID {
		t.Errorf("DestroyStale removed %v, want [%s]", removed, stale.ID)
	}
	if left := leftovers(stale); len(left) > 0 {
		t.Errorf("stale lab left %v", left)
	}
	for _, l := range []*Lab{live, detached} {
		if _, err := os.Stat(l.Node("worker").NetNS); err != nil {
			t.Errorf("DestroyStale touched lab %s: %v", l.ID, err)
		}
		if l.Node("worker").State() != "running" {
			t.Errorf("DestroyStale stopped lab %s's worker", l.ID)
		}
	}
	// An orphan namespace (state file lost) is found by DestroyAll.
	if err := os.Remove(filepath.Join(detached.Dir, "lab.json")); err != nil {
		t.Fatal(err)
	}
	removed, err = DestroyAll(Options{LabRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("DestroyAll removed %v, want the live and the orphaned lab", removed)
	}
	for _, l := range []*Lab{live, detached} {
		entries, _ := os.ReadDir(nsDir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), l.ID) {
				t.Errorf("namespace %s left", e.Name())
			}
		}
	}
}

// TestDeployStepErrors fails a bring-up at its exec step and checks that
// Deploy says where (a StepError per failed node, with the exec entry's
// line, in file order) and removes everything.
func TestDeployStepErrors(t *testing.T) {
	needRoot(t)
	tp, err := topo.Parse([]byte(`name: steps
topology:
  nodes:
    a:
      kind: linux
      image: getlab/host
      exec:
        - ip link set lo up
        - sh -c "echo first failure >&2; exit 7"
        - touch never-run
    b:
      kind: linux
      image: getlab/host
      exec: [nosuchcommand-getlab]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
`), filepath.Join(t.TempDir(), "steps.clab.yml"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	lab, err := Deploy(context.Background(), tp, Options{LabRoot: root})
	if lab != nil {
		lab.Destroy()
		t.Fatal("Deploy returned a lab with its error")
	}
	de, ok := errors.AsType[*DeployError](err)
	if !ok || de.Kept || de.Cleanup != nil {
		t.Fatalf("error %T %v", err, err)
	}
	var steps []*StepError
	for _, e := range de.Err.(interface{ Unwrap() []error }).Unwrap() {
		if se, ok := e.(*StepError); ok {
			steps = append(steps, se)
		} else if e != nil {
			t.Errorf("not a StepError: %v", e)
		}
	}
	if len(steps) != 2 {
		t.Fatalf("%d step errors, want 2: %v", len(steps), err)
	}
	a, b := steps[0], steps[1]
	if a.Node != "a" || a.Step != "exec" || a.Line != 9 || a.Err.Error() != "exit status 7" || a.Output != "first failure\n" ||
		a.What != `"sh -c \"echo first failure >&2; exit 7\""` {
		t.Errorf("node a: %+v", a)
	}
	if b.Node != "b" || b.Step != "exec" || b.Line != 14 || b.Err.Error() != "exit status 127" || !strings.Contains(b.Output, "nosuchcommand-getlab") {
		t.Errorf("node b: %+v", b)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("lab root not empty: %v", entries)
	}
	if left, _ := filepath.Glob(filepath.Join(nsDir, de.Lab+"-*")); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
}

func TestLabID(t *testing.T) {
	for in, want := range map[string]string{
		"getlab-3fa9c1-gm1":    "getlab-3fa9c1",
		"getlab-3fa9c1-host-a": "getlab-3fa9c1",
		"getlab-x-gm1":         "",
		"other-3fa9c1-gm1":     "",
	} {
		if got := labID(in); got != want {
			t.Errorf("labID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProcState(t *testing.T) {
	if got := procState([]byte("123 (a) b) c) T 1 2")); got != 'T' {
		t.Errorf("got %c", got)
	}
}

// BenchmarkBasic measures bring-up and teardown of basic.clab.yml (6 nodes,
// 5 links, 5 holders, 12 exec lines) as separate metrics.
func BenchmarkBasic(b *testing.B) {
	needRoot(b)
	BenchmarkUpDown(b, load(b, "../../topologies/basic.clab.yml"), Options{})
}

// TestDownSparesStrangers forges lab.json as it would read after pid reuse:
// node pids that now name an unrelated process (a sleep this test starts),
// once with the node's start time recorded and once without one (a state
// file from before start times). ps must not show the stranger as the
// node, signals must refuse it, and Destroy must remove the lab and leave
// the stranger running.
func TestDownSparesStrangers(t *testing.T) {
	needRoot(t)
	lab := deploy(t, "testdata/procs.clab.yml")
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	pid := stranger.Process.Pid

	forged, err := Open(lab.ID, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, idle := forged.Node("worker"), forged.Node("idle")
	if w.PIDStart == 0 || w.HolderStart == 0 || idle.PIDStart != idle.HolderStart || forged.OwnerStart == 0 {
		t.Fatalf("start times not recorded: worker %+v, idle %+v, owner %d", w, idle, forged.OwnerStart)
	}
	w.PID, w.Holder = pid, pid // start times kept: they are the node's, not the stranger's
	idle.PID, idle.Holder, idle.PIDStart, idle.HolderStart = pid, pid, 0, 0
	if err := forged.save(); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(lab.ID, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := reopened.Node("worker").State(); st != "exited" {
		t.Errorf("worker state %q with a reused pid, want exited", st)
	}
	for _, node := range []string{"worker", "idle"} {
		if err := reopened.Signal(node, syscall.SIGSTOP); err == nil || !strings.Contains(err.Error(), errNotOurs.Error()) {
			t.Errorf("signal to %s: %v, want a refusal", node, err)
		}
	}
	if err := reopened.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) || procState(must(os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)))) != 'S' {
		t.Errorf("Destroy signalled the stranger (pid %d)", pid)
	}
	// The lab's own processes are gone all the same, with its namespaces.
	if left := leftovers(lab); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestStatStart(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 987654321 2510848 132 18446744073709551615"
	if got := statStart([]byte(line)); got != 987654321 {
		t.Errorf("start %d", got)
	}
	if got := statStart([]byte("4242 (a) S 1")); got != 0 {
		t.Errorf("short line: %d", got)
	}
	if procStart(os.Getpid()) == 0 {
		t.Errorf("no start time for this process")
	}
}
