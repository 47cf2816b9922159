package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/testbuild"
)

// getlabBin is the getlab binary built from this tree for the tests that
// run it (TestMain).
var getlabBin string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		dir, err := testbuild.Bin()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		getlabBin = filepath.Join(dir, "getlab")
	}
	code := m.Run()
	testbuild.Cleanup()
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: getlab up creates network namespaces")
	}
}

// run runs getlab in dir with its own lab root and returns its exit status,
// standard output and standard error.
func run(t *testing.T, dir, labs string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(getlabBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GETLAB_LABS="+labs, "GETLAB_RUNTIME=netns")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// fileWithLines writes a topology into dir and returns its name and the
// line of each line of text holding a "# mark" comment, by mark.
func fileWithLines(t *testing.T, dir, text string) (string, map[string]int) {
	t.Helper()
	lines := map[string]int{}
	for i, l := range strings.Split(text, "\n") {
		if _, mark, ok := strings.Cut(l, "# "); ok {
			lines[mark] = i + 1
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "fail.clab.yml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "fail.clab.yml", lines
}

var labIDRE = regexp.MustCompile(`lab (getlab-[0-9a-f]{6}) `)

// leftovers lists what of lab id is still on the machine: its namespaces,
// its directory under labs, processes working in it and host interfaces
// with the given names (the lab's interface names: they must only exist in
// its namespaces).
func leftovers(id, labs string, ifaces []string) []string {
	var left []string
	if ns, _ := filepath.Glob("/run/netns/" + id + "-*"); len(ns) > 0 {
		left = append(left, fmt.Sprint("namespaces ", ns))
	}
	if entries, _ := os.ReadDir(labs); len(entries) > 0 {
		left = append(left, fmt.Sprint("lab directory entries ", len(entries)))
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, p := range procs {
		if cwd, err := os.Readlink(p); err == nil && strings.HasPrefix(cwd, filepath.Join(labs, id)) {
			left = append(left, "process "+filepath.Base(filepath.Dir(p))+" in "+cwd)
		}
	}
	for _, name := range ifaces {
		if _, err := os.Stat("/sys/class/net/" + name); err == nil {
			left = append(left, "host interface "+name)
		}
	}
	return left
}

// hostIfaces are the names of the test lab's interfaces; none may exist on
// the host before or after a run.
var hostIfaces = []string{"gl-a1", "gl-b1", "gl-a2", "gl-d0"}

const failHeader = `name: fail
topology:
  kinds:
    linux:
      image: getlab/host:dev
  nodes:
    br:
      kind: bridge
`

// TestUpFailures brings up topologies whose bring-up fails at each step and
// checks that getlab up exits 1 with one message naming the file, line,
// node, step and what the system said, and that nothing of the lab is left.
func TestUpFailures(t *testing.T) {
	needRoot(t)
	for _, name := range hostIfaces {
		if _, err := os.Stat("/sys/class/net/" + name); err == nil {
			t.Fatalf("host interface %s exists before the test", name)
		}
	}
	for _, c := range []struct {
		name  string
		nodes string // after the header: more nodes, then links
		want  []string
	}{
		{"exec", `    a:
      kind: linux
      exec:
        - ip addr add 192.0.2.1/24 dev gl-a1
        - ip link add gl-d0 type nosuchkind  # exec
        - ip link set gl-a1 mtu 1400
    b:
      kind: linux
  links:
    - endpoints: ["a:gl-a1", "b:gl-b1"]
`, []string{`fail.clab.yml:LINE(exec): node a: exec "ip link add gl-d0 type nosuchkind": exit status 2`,
			"\n  stderr: Error: Unknown device type."}},
		{"link", `    a:
      kind: linux
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
    - endpoints: ["a:gl-a2", "br:br"]  # link
`, []string{`fail.clab.yml:LINE(link): link a:gl-a2--br:br: create veth pair gl-a2/br: file exists`}},
		{"sysctl", `    a:
      kind: linux
      sysctls:
        net.ipv4.ip_forward: 1
        net.ipv4.no_such_knob: 1  # sysctl
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`, []string{`fail.clab.yml:LINE(sysctl): node a: sysctl net.ipv4.no_such_knob=1: no such sysctl in a network namespace`}},
		{"bind source missing", `    a:
      kind: linux
      binds:
        - no/such/file:/etc/x.conf  # bind
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`, []string{`fail.clab.yml:LINE(bind): node a: bind DIR/no/such/file:/etc/x.conf: host path: stat DIR/no/such/file: no such file or directory`}},
		{"bind refused by the kernel", `    a:
      kind: linux
      binds:
        - .:/etc/passwd:ro  # bind
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`, []string{`fail.clab.yml:LINE(bind): node a: bind DIR:/etc/passwd:ro: mount: not a directory`}},
		{"device", `    a:
      kind: linux
      devices: [/dev/net/tun, /dev/getlab-no-such-device]  # device
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`, []string{`fail.clab.yml:LINE(device): node a: device /dev/getlab-no-such-device: stat /dev/getlab-no-such-device: no such file or directory`}},
		{"processes that exit at once", `    a:  # a
      kind: linux
      image: vendor/daemon
      cmd: sh -c "echo starting; echo 'fatal - no config' >&2; exit 3"
    b:  # b
      kind: linux
      image: vendor/daemon
      cmd: sh -c "sleep 0.3; echo 'lost the group' >&2; exit 4"
    c:
      kind: linux
      image: vendor/daemon
      cmd: sleep 30
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`, []string{`fail.clab.yml:LINE(a): node a: process sh -c "echo starting; echo 'fatal - no config' >&2; exit 3": exited`,
			"exit status 3\n  log:\n    starting\n    fatal - no config\n",
			`fail.clab.yml:LINE(b): node b: process sh -c "sleep 0.3; echo 'lost the group' >&2; exit 4": exited within 1s of its start: exit status 4`,
			"exit status 4\n  log: lost the group\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, labs := t.TempDir(), t.TempDir()
			file, lines := fileWithLines(t, dir, failHeader+c.nodes)
			code, stdout, stderr := run(t, dir, labs, "up", "-t", file)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.HasPrefix(stderr, "getlab up: ") {
				t.Errorf("stderr does not start with the command: %q", stderr)
			}
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				for mark, line := range lines {
					w = strings.ReplaceAll(w, "LINE("+mark+")", fmt.Sprint(line))
				}
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			m := labIDRE.FindStringSubmatch(stderr)
			if m == nil || !strings.Contains(stderr, "lab "+m[1]+" removed") {
				t.Fatalf("stderr does not say the lab was removed:\n%s", stderr)
			}
			if left := leftovers(m[1], labs, hostIfaces); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestUpBadExecLine is the report's case: plain.clab.yml with ks1's exec
// line changed to one that fails.
func TestUpBadExecLine(t *testing.T) {
	needRoot(t)
	src, err := os.ReadFile("../../topologies/plain.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	const good, bad = "- ip addr add 192.0.2.1/24 dev eth1", "- ip link add d0 type nosuchkind"
	text := strings.Replace(string(src), good, bad, 1)
	line := 1 + strings.Count(text[:strings.Index(text, bad)], "\n")
	dir, labs := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "badexec.clab.yml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, dir, labs, "up", "-t", "badexec.clab.yml")
	want := fmt.Sprintf("getlab up: badexec.clab.yml:%d: node ks1: exec \"ip link add d0 type nosuchkind\": exit status 2\n"+
		"  stderr: Error: Unknown device type.\n", line)
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit status %d, stderr:\n%s\nwant it to start with:\n%s", code, stderr, want)
	}
	m := labIDRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no lab named in:\n%s", stderr)
	}
	if left := leftovers(m[1], labs, []string{"d0"}); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestUpKeepOnError keeps a failed lab for a look inside, says how to
// remove it, and that command removes it all.
func TestUpKeepOnError(t *testing.T) {
	needRoot(t)
	dir, labs := t.TempDir(), t.TempDir()
	file, _ := fileWithLines(t, dir, failHeader+`    a:
      kind: linux
      exec: ["ip link add gl-d0 type nosuchkind"]
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`)
	code, stdout, stderr := run(t, dir, labs, "up", "--keep-on-error", "-t", file)
	m := regexp.MustCompile(`lab (getlab-[0-9a-f]{6}) kept as it was; remove it with: (\S+) down (getlab-[0-9a-f]{6})\n`).FindStringSubmatch(stderr)
	if code != 1 || m == nil || m[1] != m[3] || m[2] != getlabBin {
		t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
	}
	id := m[1]
	if !strings.Contains(stdout, id+"  a ") || !strings.Contains(stdout, "running") {
		t.Errorf("the kept lab's nodes are not listed:\n%s", stdout)
	}
	if ns, _ := filepath.Glob("/run/netns/" + id + "-*"); len(ns) != 2 {
		t.Errorf("kept lab's namespaces: %v", ns)
	}
	if code, out, errOut := run(t, dir, labs, "down", id); code != 0 {
		t.Fatalf("down: %d\n%s%s", code, out, errOut)
	}
	if left := leftovers(id, labs, hostIfaces); len(left) > 0 {
		t.Errorf("left after down: %v", left)
	}
}

// TestUpPrintsLab checks the success path: the lab and its nodes with their
// state, exit status 0.
func TestUpPrintsLab(t *testing.T) {
	needRoot(t)
	dir, labs := t.TempDir(), t.TempDir()
	file, _ := fileWithLines(t, dir, failHeader+`    a:
      kind: linux
      image: vendor/daemon
      cmd: sleep 30
  links:
    - endpoints: ["a:gl-a1", "br:gl-b1"]
`)
	code, stdout, stderr := run(t, dir, labs, "up", "-t", file)
	m := regexp.MustCompile(`^lab (getlab-[0-9a-f]{6}) \(fail, netns runtime\) up in `).FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	defer run(t, dir, labs, "down", m[1])
	for _, want := range []string{m[1] + "  br ", "bridge", "up", m[1] + "  a ", "running"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}
