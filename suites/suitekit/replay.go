package suitekit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/wire"
	"github.com/getlab/getlab/reports/bundle"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// What a failing spec leaves so that `getlab bundle` can pack it and
// `getlab repro` run it again elsewhere: the run's environment as a report
// entry of every spec, the topology and configs as they ran and each
// impairment wire's rules and decisions in the artifact folder. And two
// switches for replays and their tests: GETLAB_KEEP leaves a lab up,
// GETLAB_FAIL_SPEC fails a spec on purpose.

// Environment variables the suites honour for replays (named in
// reports/bundle, which reads what they leave).
const (
	// KeepEnv, set to 1, leaves every lab a spec deploys up at its end,
	// detached (a sweep by another run leaves it alone), and names it in a
	// "kept lab" report entry: `getlab repro --keep` sets it to look
	// inside the lab the failure happened in.
	KeepEnv = bundle.KeepEnv
	// FailSpecEnv fails, on purpose, every spec whose full text contains
	// its value, once the spec's body has passed (FailSpec): a failure
	// known in advance, for testing bug-report bundles and their replay.
	FailSpecEnv = bundle.FailSpecEnv
)

// EnvironmentEntry names the report entry holding the run's Environment.
const EnvironmentEntry = bundle.EnvironmentEntry

// KeptLabEntry names the report entry of a lab GETLAB_KEEP left up.
const KeptLabEntry = bundle.KeptLabEntry

// Environment is what a run's GETLAB_ variables made of it, as a replay
// must set them again: the implementations under test (GETLAB_KS,
// GETLAB_GM, with their defaults), the runtime, and GETLAB_FAIL_SPEC when
// set (a forced failure replays only with it).
type Environment map[string]string

// RunEnvironment is this run's Environment.
func RunEnvironment() Environment {
	e := Environment{
		"GETLAB_KS":      ImplName(impl.KS),
		"GETLAB_GM":      ImplName(impl.GM),
		"GETLAB_RUNTIME": Runtime(),
	}
	if v := os.Getenv(FailSpecEnv); v != "" {
		e[FailSpecEnv] = v
	}
	return e
}

// String is the environment as a shell would set it.
func (e Environment) String() string { return bundle.EnvLine(e) }

// Every spec of every suite (each imports suitekit) ends with this
// AfterEach, registered at the top level when the package is initialised,
// before any suite builds its tree. Being top-level it runs after the
// suites' own AfterEach nodes (they collect the artifacts first).
var _ = AfterEach(func() {
	// Never printed; in the JSON report for `getlab bundle`.
	AddReportEntry(EnvironmentEntry, RunEnvironment(), ReportEntryVisibilityNever)
	FailSpec()
})

// FailSpec fails the current spec on purpose when GETLAB_FAIL_SPEC is a
// substring of its full text (container texts and its own, as `getlab
// report` prints it) and it has passed so far: a skipped or already
// failed spec is left as it is. The moment is well defined — after the
// spec's body and its own AfterEach nodes, from this line — so a replay
// fails at the same location with the same message.
func FailSpec() {
	want := os.Getenv(FailSpecEnv)
	r := CurrentSpecReport()
	if want == "" || !strings.Contains(r.FullText(), want) || r.Failed() || r.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
		return
	}
	Fail(fmt.Sprintf("forced failure: %s=%q matches this spec; the bench failed it on purpose after its body passed (a known failure for testing bug-report bundles)", FailSpecEnv, want))
}

// keepLab detaches lab instead of destroying it when GETLAB_KEEP is set,
// and says so; false when the lab is to be destroyed.
func keepLab(lab *netns.Lab) bool {
	if v := os.Getenv(KeepEnv); v == "" || v == "0" {
		return false
	}
	if err := lab.Detach(); err != nil {
		GinkgoWriter.Printf("keeping lab %s: %v\n", lab.ID, err)
	}
	AddReportEntry(KeptLabEntry, lab.ID)
	var nodes []string
	for _, n := range lab.Nodes {
		if n.Kind != "bridge" {
			nodes = append(nodes, n.Name)
		}
	}
	GinkgoWriter.Printf("%s=1: lab %s left up (nodes %s); look inside with `getlab ps --lab %s` and `getlab exec --lab %s NODE -- CMD`, remove it with `getlab down %s`\n",
		KeepEnv, lab.ID, strings.Join(nodes, ", "), lab.ID, lab.ID, lab.ID)
	return true
}

// saveTopology copies the topology file the lab was deployed from — for a
// lab of a scenario, the copy with its rendered configs and commands —
// and every file or folder its nodes bind from beside it (configs/...)
// into dir, keeping their paths relative to the topology file: what ran,
// deployable again with `getlab up -t dir/<file>`.
func saveTopology(lab *netns.Lab, dir string) {
	t := lab.Topology()
	if t == nil || lab.File == "" {
		return
	}
	base := filepath.Dir(lab.File)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	copyTree(lab.File, filepath.Join(dir, filepath.Base(lab.File)))
	var outside []string
	for _, n := range t.Nodes {
		for _, b := range n.Binds {
			rel, err := filepath.Rel(base, b.Host)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				outside = append(outside, fmt.Sprintf("%s: %s:%s", n.Name, b.Host, b.Node))
				continue
			}
			copyTree(b.Host, filepath.Join(dir, rel))
		}
	}
	if len(outside) > 0 {
		// Named, not copied: a bind of a host path outside the topology's
		// folder is the machine's, not the lab's.
		_ = os.WriteFile(filepath.Join(dir, "binds-outside.txt"), []byte(strings.Join(outside, "\n")+"\n"), 0o644)
	}
}

// copyTree copies a file, or a folder's regular files, from src to dst;
// what cannot be read is left out (artifacts are best effort).
func copyTree(src, dst string) {
	_ = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		_ = os.MkdirAll(filepath.Dir(out), 0o755)
		in, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer in.Close()
		f, err := os.Create(out)
		if err != nil {
			return nil
		}
		_, _ = io.Copy(f, in)
		_ = f.Close()
		return nil
	})
}

// saveWires writes, for every impairment wire of the lab (label
// getlab.role: wire), into its node's artifact folder: the rules in force
// with their seed (wire-rules.json, GET /v1/rules: what the spec last
// set), its counters (wire-stats.json) and its decision log
// (decisions.jsonl, flushed first), a line per frame a rule decided on.
func saveWires(ctx context.Context, lab *netns.Lab, dir string) {
	t := lab.Topology()
	if t == nil {
		return
	}
	for _, tn := range t.Nodes {
		n := lab.Node(tn.Name)
		if tn.Labels["getlab.role"] != "wire" || n == nil || n.Holder == 0 {
			continue
		}
		nd := filepath.Join(dir, n.Name)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			continue
		}
		root := fmt.Sprintf("/proc/%d/root", n.Holder)
		c := wire.Dial(root + wire.NodeControlSocket)
		save := func(name string, v any, err error) {
			if err != nil {
				v = map[string]string{"error": err.Error()}
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			_ = os.WriteFile(filepath.Join(nd, name), b, 0o644)
		}
		flushErr := c.Flush(ctx)
		rules, err := c.Rules(ctx)
		save("wire-rules.json", rules, err)
		st, err := c.Stats(ctx)
		save("wire-stats.json", st, err)
		copyFile(filepath.Join(root, "run", "getlab-wire", "decisions.jsonl"), filepath.Join(nd, "decisions.jsonl"))
		if flushErr != nil {
			_ = os.WriteFile(filepath.Join(nd, "decisions-not-flushed.txt"), []byte(flushErr.Error()+"\n"), 0o644)
		}
	}
}
