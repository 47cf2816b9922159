package suitekit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/harness/netns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gopkg.in/yaml.v3"
)

// The bench talks to a daemon the way it would talk to another vendor's
// box: through its control socket, reached in the node's file view at
// /proc/<pid>/root/run/getvpnd/control.sock, its files and the wire.

// NodeControlSocket is where the suites' daemon configs put the control
// socket, inside each node's file view.
const NodeControlSocket = "/run/getvpnd/control.sock"

// Edit changes a copy of a topology and its configs before deployment; dir
// is the copy's folder.
type Edit func(dir string)

// EditConfig edits configs/<name> of the copy as a YAML document: fn gets
// the decoded mapping and changes it in place.
func EditConfig(name string, fn func(cfg map[string]any)) Edit {
	return func(dir string) {
		path := filepath.Join(dir, "configs", name)
		data, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		var cfg map[string]any
		Expect(yaml.Unmarshal(data, &cfg)).To(Succeed())
		fn(cfg)
		out, err := yaml.Marshal(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(path, out, 0o644)).To(Succeed())
	}
}

// Scale sets timers.scale in every config of the copy: the suites run
// protocol time faster and assert timings in scaled units.
func Scale(scale float64) Edit {
	return func(dir string) {
		entries, err := os.ReadDir(filepath.Join(dir, "configs"))
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			EditConfig(e.Name(), func(cfg map[string]any) {
				cfg["timers"] = map[string]any{"scale": scale}
			})(dir)
		}
	}
}

// DeployDaemons brings up a copy of topologies/<file> (with its configs/,
// changed by edits) without starting the node processes, so the caller can
// start a capture first and then call lab.StartProcesses: every packet the
// daemons send is on the capture. Teardown is registered at once.
func DeployDaemons(ctx context.Context, file string, edits ...Edit) *netns.Lab {
	RequireRoot()
	dir := GinkgoT().TempDir()
	src := filepath.Join(RepoRoot(), "topologies")
	copyFile(filepath.Join(src, file), filepath.Join(dir, file))
	Expect(os.MkdirAll(filepath.Join(dir, "configs"), 0o755)).To(Succeed())
	entries, err := os.ReadDir(filepath.Join(src, "configs"))
	Expect(err).NotTo(HaveOccurred())
	for _, e := range entries {
		copyFile(filepath.Join(src, "configs", e.Name()), filepath.Join(dir, "configs", e.Name()))
	}
	for _, edit := range edits {
		edit(dir)
	}
	return deploy(ctx, filepath.Join(dir, file), true)
}

// Control is a client of node's control socket.
func Control(lab *netns.Lab, node string) *control.Client {
	n := lab.Node(node)
	Expect(n).NotTo(BeNil(), "no node %s", node)
	return control.Dial(fmt.Sprintf("/proc/%d/root%s", n.Holder, NodeControlSocket))
}

// GDOI reads node's GET /v1/gdoi, failing the spec on error.
func GDOI(ctx context.Context, lab *netns.Lab, node string) control.GDOI {
	st, err := Control(lab, node).GDOI(ctx)
	Expect(err).NotTo(HaveOccurred(), "control socket of %s", node)
	return st
}

// WaitRegistered waits until every group of the GM node is registered and
// returns its state.
func WaitRegistered(ctx context.Context, lab *netns.Lab, node string, within time.Duration) control.GDOI {
	var st control.GDOI
	Eventually(func(g Gomega) {
		var err error
		st, err = Control(lab, node).GDOI(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Groups).NotTo(BeEmpty())
		for _, gr := range st.Groups {
			g.Expect(gr.GM).NotTo(BeNil())
			g.Expect(gr.GM.State).To(Equal("registered"), "group %s: %s", gr.Name, gr.GM.LastError)
		}
	}).WithContext(ctx).WithTimeout(within).WithPolling(50 * time.Millisecond).Should(Succeed())
	return st
}

// Events returns every event node has logged so far.
func Events(ctx context.Context, lab *netns.Lab, node string) []control.Event {
	evs, err := Control(lab, node).Events(ctx, 0, 0)
	Expect(err).NotTo(HaveOccurred(), "events of %s", node)
	return evs
}

// EventNames are the names of evs, in order.
func EventNames(evs []control.Event) []string {
	var names []string
	for _, e := range evs {
		if e.Name != "" {
			names = append(names, e.Name)
		}
	}
	return names
}

// SaveDaemonState writes, for every node with a control socket, its
// GET /v1/gdoi, members, IKE SAs, counters and events as JSON files in the
// node's artifact folder: what `getctl ... --json` shows.
func SaveDaemonState(ctx context.Context, lab *netns.Lab, dir string) {
	for _, n := range lab.Nodes {
		if n.Holder == 0 {
			continue
		}
		sock := fmt.Sprintf("/proc/%d/root%s", n.Holder, NodeControlSocket)
		if _, err := os.Stat(sock); err != nil {
			continue
		}
		c := control.Dial(sock)
		nd := filepath.Join(dir, n.Name)
		_ = os.MkdirAll(nd, 0o755)
		save := func(name string, v any, err error) {
			if err != nil {
				v = map[string]string{"error": err.Error()}
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			_ = os.WriteFile(filepath.Join(nd, name), b, 0o644)
		}
		st, err := c.GDOI(ctx)
		save("gdoi.json", st, err)
		ms, err := c.Members(ctx)
		save("members.json", ms, err)
		sas, err := c.IKESAs(ctx)
		save("ike-sa.json", sas, err)
		cs, err := c.Counters(ctx)
		save("counters.json", cs, err)
		evs, err := c.Events(ctx, 0, 0)
		save("events.json", evs, err)
	}
}
