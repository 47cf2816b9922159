// Package suitekit is what every getlab Ginkgo suite shares: bringing a
// topology up for an Ordered container with guaranteed teardown, and the
// per-spec artifact folder (logs, node state) under reports/out/<spec>/.
package suitekit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/docker"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/snapshot"
	"github.com/getlab/getlab/harness/topo"
	"github.com/getlab/getlab/pcap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// RepoRoot is the root of the source tree (the directory holding go.mod).
func RepoRoot() string {
	wd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if d == filepath.Dir(d) {
			Fail("suitekit: no go.mod above " + wd)
		}
	}
}

// RequireRoot skips the current node when the machine cannot run labs. The
// reason names the missing capability, never missing code.
func RequireRoot() {
	if os.Geteuid() != 0 {
		Skip("needs root: the netns runtime creates network namespaces")
	}
}

// Deploy brings up topologies/<file> and registers its teardown at once, so
// the lab is destroyed however the container ends. Labs left by crashed
// runs are swept first; labs of runs still in progress are left alone.
func Deploy(ctx context.Context, file string) *netns.Lab {
	return deploy(ctx, filepath.Join(RepoRoot(), "topologies", file), false)
}

// deploy sweeps stale labs, deploys the topology file at path on the
// suites' runtime and registers its teardown.
func deploy(ctx context.Context, path string, deferProcesses bool) *netns.Lab {
	RequireRoot()
	opts := LabOptions(ctx)
	if removed, err := netns.DestroyStale(opts); err != nil {
		GinkgoWriter.Printf("sweeping stale labs: %v\n", err)
	} else if len(removed) > 0 {
		GinkgoWriter.Printf("swept stale labs: %v\n", removed)
	}
	t, err := topo.Load(path)
	Expect(err).NotTo(HaveOccurred())
	opts.DeferProcesses = deferProcesses
	lab, err := netns.Deploy(ctx, t, opts)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if keepLab(lab) {
			return
		}
		Expect(lab.Destroy()).To(Succeed())
	})
	AddReportEntry("lab", lab.ID, ReportEntryVisibilityFailureOrVerbose)
	return lab
}

// Runtime is the runtime the suites run on: $GETLAB_RUNTIME, netns by
// default, or docker.
func Runtime() string {
	if r := os.Getenv("GETLAB_RUNTIME"); r != "" {
		return r
	}
	return "netns"
}

// LabOptions are the deployment options of the runtime the suites run on.
// On docker without a Docker engine, the spec skips and says so.
func LabOptions(ctx context.Context) netns.Options {
	opts := netns.Options{Log: GinkgoWriter.Printf}
	switch Runtime() {
	case "netns":
	case "docker":
		r, err := docker.New(ctx)
		if err != nil {
			Skip("GETLAB_RUNTIME=docker: " + err.Error())
		}
		opts.Containers = r
	default:
		Fail("GETLAB_RUNTIME: unknown runtime " + Runtime() + " (netns or docker)")
	}
	return opts
}

// NetNS is the namespace path of a node, failing the spec if there is none.
func NetNS(lab *netns.Lab, node string) string {
	p, err := lab.NetNS(node)
	Expect(err).NotTo(HaveOccurred())
	return p
}

// ReportsDir is where runs leave their results: $GETLAB_REPORTS, else
// reports/out in the source tree.
func ReportsDir() string {
	if d := os.Getenv("GETLAB_REPORTS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "reports", "out")
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArtifactDir is the current spec's artifact folder, reports/out/<spec>/,
// created on first use. The name is the spec's full text made file-safe.
func ArtifactDir() string {
	name := strings.Trim(unsafe.ReplaceAllString(CurrentSpecReport().FullText(), "_"), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	dir := filepath.Join(ReportsDir(), name)
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	return dir
}

// NodeKeyLog is where the topologies' own getvpnd configs put the key log
// (`key_log:`), inside each node's file view; a node rendered from the
// neutral model writes it where its implementation says (nodeKeyLog).
const NodeKeyLog = "/run/getvpnd/keys.log"

// StartCapture captures every link of lab into the current spec's artifact
// folder (capture.pcapng, one pcapng interface per link). Call it from
// BeforeEach and hand the result to CollectArtifacts.
func StartCapture(lab *netns.Lab) *pcap.Capture {
	pts, err := pcap.Points(lab.Topology(), lab.NetNS)
	Expect(err).NotTo(HaveOccurred())
	c, err := pcap.Start(filepath.Join(ArtifactDir(), "capture.pcapng"), pts)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// CollectArtifacts stops the spec's capture (if any), copies every node's
// logs and writes its network state, the lab description, the topology
// and configs as run (topology/) and each impairment wire's rules and
// decisions into the current spec's artifact folder. Call it from AfterEach so each spec
// leaves what it saw, passed or failed.
func CollectArtifacts(lab *netns.Lab, capture *pcap.Capture) {
	if lab == nil {
		return
	}
	CollectArtifactsTo(lab, capture, ArtifactDir())
}

// CollectArtifactsTo is CollectArtifacts into dir, for a capture that spans
// a whole Ordered container rather than one spec.
// It returns, by link, the frames the capture lost (socket buffers that
// overflowed on a loaded machine).
func CollectArtifactsTo(lab *netns.Lab, capture *pcap.Capture, dir string) (dropped map[string]uint64) {
	if lab == nil {
		return nil
	}
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	dropped = map[string]uint64{}
	if capture != nil {
		stats, err := capture.Stop()
		Expect(err).NotTo(HaveOccurred())
		for _, st := range stats {
			if st.Dropped > 0 {
				dropped[st.Point.Name] = st.Dropped
				AddReportEntry("capture dropped frames", fmt.Sprintf("%s: %d", st.Point.Name, st.Dropped))
			}
		}
	}
	copyFile(filepath.Join(lab.Dir, "lab.json"), filepath.Join(dir, "lab.json"))
	// The topology and configs as they ran (a scenario's are rendered into
	// a copy that goes with the spec): a bug report's bundle carries them.
	saveTopology(lab, filepath.Join(dir, "topology"))
	var keys []byte
	for _, n := range lab.Nodes {
		keys = append(keys, keyLogOf(lab, n)...)
	}
	if len(keys) > 0 {
		// Next to capture.pcapng: `getlab pcap capture.pcapng --keys keys.log`.
		_ = os.WriteFile(filepath.Join(dir, "keys.log"), keys, 0o644)
	}
	for _, n := range lab.Nodes {
		nd := filepath.Join(dir, n.Name)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			continue
		}
		for _, f := range []string{n.Name + ".log", "exec.log"} {
			copyFile(filepath.Join(n.Dir, f), filepath.Join(nd, f))
		}
		state, err := snapshot.Node(n.NetNS)
		if err != nil {
			state = "snapshot failed: " + err.Error()
		}
		state = fmt.Sprintf("node %s (%s) state %s pid %d\n%s", n.Name, n.Kind, n.State(), n.PID, state)
		_ = os.WriteFile(filepath.Join(nd, "state.txt"), []byte(state), 0o644)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	SaveDaemonState(ctx, lab, dir)
	saveWires(ctx, lab, dir)
	AddReportEntry("artifacts", dir, ReportEntryVisibilityFailureOrVerbose)
	return dropped
}

func copyFile(src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		return
	}
	_ = os.WriteFile(dst, b, 0o644)
}
