package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/testbuild"
	"github.com/getlab/getlab/harness/topo"
	"github.com/moby/moby/client"
)

// TestMain builds the binaries the netns runtime's nodes run (the
// benchmark compares both runtimes) and the images are built from, unless
// GETLAB_BIN names them already (`make unit`).
func TestMain(m *testing.M) { testbuild.Main(m) }

// runtimeOrSkip returns the docker runtime, or skips naming what the
// machine lacks: root or a Docker engine. Missing project images are built
// as `make images` builds them.
func runtimeOrSkip(tb testing.TB) *Runtime {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: labs create network namespaces")
	}
	r, err := New(context.Background())
	if err != nil {
		tb.Skip(err.Error())
	}
	for _, img := range []string{"getvpnd", "host"} {
		if _, err := r.cli.ImageInspect(context.Background(), "getlab/"+img+":dev"); err != nil {
			buildImage(tb, img)
		}
	}
	return r
}

// buildImage builds getlab/NAME:dev from images/NAME the way `make images`
// does: a context with the Dockerfile, the static busybox and, for
// getvpnd, the binaries built from this tree.
func buildImage(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		tb.Skipf("image getlab/%s:dev is missing and there is no docker CLI to build it: run `make images`", name)
	}
	ctxDir := tb.TempDir()
	files := map[string]string{"Dockerfile": filepath.Join("../../images", name, "Dockerfile"), "busybox": "/bin/busybox"}
	if name == "getvpnd" {
		bin := os.Getenv("GETLAB_BIN")
		files["getvpnd"], files["getctl"] = filepath.Join(bin, "getvpnd"), filepath.Join(bin, "getctl")
	}
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			tb.Fatalf("image getlab/%s:dev: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, dst), b, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", "getlab/"+name+":dev", ctxDir).CombinedOutput(); err != nil {
		tb.Fatalf("docker build getlab/%s:dev: %v\n%s", name, err, out)
	}
}

// networks lists the engine's networks, by ID and name.
func networks(tb testing.TB, r *Runtime) []string {
	tb.Helper()
	res, err := r.cli.NetworkList(context.Background(), client.NetworkListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, n := range res.Items {
		out = append(out, n.ID[:12]+" "+n.Name)
	}
	slices.Sort(out)
	return out
}

// TestNoEngineNetwork brings a lab up and down as containers and checks
// that the engine was asked for nothing but containers without a network:
// every container in network mode none, attached to no network, and the
// engine's networks the same after as before.
func TestNoEngineNetwork(t *testing.T) {
	r := runtimeOrSkip(t)
	before := networks(t, r)
	tp, err := topo.Load("testdata/pair.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), tp, netns.Options{Containers: r})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Destroy()
	for _, name := range []string{"a", "b"} {
		info, err := r.cli.ContainerInspect(context.Background(), lab.Node(name).Container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := info.Container
		if c.HostConfig.NetworkMode != "none" {
			t.Errorf("%s: network mode %q", name, c.HostConfig.NetworkMode)
		}
		for net := range c.NetworkSettings.Networks {
			if net != "none" {
				t.Errorf("%s: attached to network %q", name, net)
			}
		}
		if c.HostConfig.Privileged {
			t.Errorf("%s: privileged", name)
		}
	}
	var out strings.Builder
	if err := lab.Exec(context.Background(), "a", []string{"ping", "-c", "1", "-W", "2", "192.0.2.2"}, nil, &out, &out); err != nil {
		t.Errorf("a -> b: %v\n%s", err, out.String())
	}
	if err := lab.Destroy(); err != nil {
		t.Fatal(err)
	}
	if after := networks(t, r); !slices.Equal(after, before) {
		t.Errorf("engine networks changed:\nbefore %v\nafter  %v", before, after)
	}
}

func loadBasic(tb testing.TB) *topo.Topology {
	tb.Helper()
	t, err := topo.Load("../../topologies/basic.clab.yml")
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// TestBasicAsContainers deploys basic.clab.yml as containers: every node a
// container with the file's interfaces and addresses, the daemons
// registering, the hosts reaching each other through the GMs, and nothing
// left after Destroy.
func TestBasicAsContainers(t *testing.T) {
	r := runtimeOrSkip(t)
	ctx := context.Background()
	lab, err := netns.Deploy(ctx, loadBasic(t), netns.Options{Containers: r})
	if err != nil {
		t.Fatal(err)
	}
	destroyed := false
	defer func() {
		if !destroyed {
			lab.Destroy()
		}
	}()
	if lab.Runtime != "docker" {
		t.Errorf("runtime %q", lab.Runtime)
	}
	for _, n := range lab.Nodes {
		if n.Kind == "bridge" {
			continue
		}
		if n.Container == "" {
			t.Errorf("node %s has no container", n.Name)
		}
	}
	// The GMs' daemons (from the image) register with the KS's; a GM that
	// tried before the KS listened retries 10 s later (the seeds' timer).
	var out strings.Builder
	deadline := time.Now().Add(30 * time.Second)
	for _, gm := range []string{"gm1", "gm2"} {
		for {
			out.Reset()
			err := lab.Exec(ctx, gm, []string{"getctl", "show", "gdoi"}, nil, &out, &out)
			if err == nil && strings.Contains(out.String(), "Registered with       : 192.0.2.1") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not register: %v\n%s", gm, err, out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Then the hosts reach each other through both GMs' data planes.
	out.Reset()
	if err := lab.Exec(ctx, "host-a", []string{"ping", "-c", "2", "-W", "2", "203.0.113.10"}, nil, &out, &out); err != nil {
		t.Errorf("host-a -> host-b: %v\n%s", err, out.String())
	}
	// The node's process is the lab's to signal, as on the netns runtime:
	// a restarted KS daemon comes back and answers on its socket.
	before := lab.Node("ks1").PID
	if err := lab.Restart("ks1", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if after := lab.Node("ks1").PID; after == before || after == 0 {
		t.Errorf("ks1 pid %d before restart, %d after", before, after)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		out.Reset()
		if err := lab.Exec(ctx, "ks1", []string{"getctl", "health"}, nil, &out, &out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ks1 daemon not back after restart: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ids := []string{}
	for _, n := range lab.Nodes {
		if n.Container != "" {
			ids = append(ids, n.Container)
		}
	}
	destroyed = true
	if err := lab.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if b, err := exec.Command("docker", "inspect", id).CombinedOutput(); err == nil {
			t.Errorf("container %s left behind:\n%s", id, b)
		}
	}
}

// BenchmarkBasicUp measures bring-up and teardown of basic.clab.yml on both
// runtimes side by side, in one run (ms-up/op, ms-down/op).
func BenchmarkBasicUp(b *testing.B) {
	r := runtimeOrSkip(b)
	tp := loadBasic(b)
	for _, rt := range []struct {
		name string
		opts netns.Options
	}{{"netns", netns.Options{}}, {"docker", netns.Options{Containers: r}}} {
		b.Run(rt.name, func(b *testing.B) { netns.BenchmarkUpDown(b, tp, rt.opts) })
	}
}
