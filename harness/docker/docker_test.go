package docker

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
)

// runtimeOrSkip returns the docker runtime, or skips naming what the
// machine lacks: root, a Docker engine, or the project's images (built by
// `make images`).
func runtimeOrSkip(tb testing.TB) *Runtime {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: labs create network namespaces")
	}
	r, err := New(context.Background())
	if err != nil {
		tb.Skip(err.Error())
	}
	for _, img := range []string{"getlab/getvpnd:dev", "getlab/host:dev"} {
		if _, err := r.cli.ImageInspect(context.Background(), img); err != nil {
			tb.Fatalf("image %s is missing: run `make images` (%v)", img, err)
		}
	}
	return r
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
