package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/probe"
	"github.com/getlab/getlab/reports/bundle"
)

// errNotReproduced ends `getlab repro` with status 1 when the replay did
// not fail the bundle's way (the reason was printed).
var errNotReproduced = errors.New("the failure did not reproduce")

// cmdRepro replays a bundle: it unpacks it, compares this machine's
// probe with the bundle's, builds if needed, runs the spec again with the
// run's environment and compares the failures. Exit status 0: it failed
// the same way (same location, a similar message); 1: it passed, failed
// elsewhere, or could not run.
func cmdRepro(args []string) error {
	fs := flag.NewFlagSet("repro", flag.ExitOnError)
	keep := fs.Bool("keep", false, "leave the lab up at the end (GETLAB_KEEP=1) and say how to get into it")
	only := fs.Bool("only", false, "run the spec alone, not with the specs of its Ordered container that ran before it")
	outDir := fs.String("out", "", "folder for the unpacked bundle, the replay's reports and ginkgo.log (default a new one under $TMPDIR)")
	noBuild := fs.Bool("no-build", false, "do not run make build even if bin/ is older than the source")
	timeout := fs.Duration("timeout", 60*time.Minute, "the replay's Ginkgo timeout")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: getlab repro [--keep] [--only] [--out DIR] BUNDLE")
	}
	root := sourceRoot()
	if root == "" {
		return errors.New("run it in a getlab source tree (the spec is run with go tool ginkgo from there)")
	}
	out := *outDir
	if out == "" {
		if out, err = os.MkdirTemp("", "getlab-repro-"); err != nil {
			return err
		}
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	man, top, err := bundle.Unpack(pos[0], filepath.Join(out, "bundle"))
	if err != nil {
		return err
	}
	fmt.Printf("bundle %s, unpacked in %s\n", pos[0], top)
	fmt.Printf("  spec:    %s › %s (%s)\n", man.Spec.Suite, man.Spec.FullText, man.Spec.Package)
	if f := man.Spec.Failure; f != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(f.Message), "\n")
		fmt.Printf("  failed:  %s\n           at %s (%s)\n", msg, f.Location, f.NodeType)
	}
	if man.Spec.Failure == nil {
		return fmt.Errorf("the bundle's spec %s: nothing to reproduce", man.Spec.State)
	}
	if man.Spec.Package == "" || strings.HasPrefix(man.Spec.Package, "/") {
		return fmt.Errorf("the bundle names no suite package of this tree (%q)", man.Spec.Package)
	}

	// What differs between the machines, said before anything runs: a
	// capability one lacks makes a spec skip or fail for that reason.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	here := probe.Run(ctx)
	if d := probe.Diff(man.Probe, here); len(d) == 0 {
		fmt.Printf("  machine: as the bundle's (%s, kernel %s)\n", valueOr(man.Probe.Host, "?"), here.Kernel)
	} else {
		fmt.Printf("  machine: differs from the bundle's (%s):\n", valueOr(man.Probe.Host, "?"))
		for _, l := range d {
			fmt.Printf("    %s\n", l)
		}
	}
	if g := gitState(ctx, root); man.Git.Commit != "" && g.Commit != man.Git.Commit {
		fmt.Printf("  source:  commit %s here, the bundle's run was at %s\n", valueOr(g.Commit, "unknown"), man.Git.Commit)
	} else if man.Git.Dirty {
		fmt.Printf("  source:  the bundle's run had changes not committed to %s\n", man.Git.Commit)
	}

	if !*noBuild {
		if err := buildIfNeeded(ctx, root, man.Environment["GETLAB_RUNTIME"] == "docker"); err != nil {
			return err
		}
	}

	reports := filepath.Join(out, "reports")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		return err
	}
	focus := man.Spec.ReplayFocus
	if *only {
		focus = man.Spec.Focus
	}
	argv := []string{"tool", "ginkgo", "--procs=1", "--json-report=report.json", "--junit-report=junit.xml",
		"--output-dir=" + reports, "--timeout=" + timeout.String(), "--poll-progress-after=120s"}
	if focus != "" {
		argv = append(argv, "--focus="+focus)
	}
	argv = append(argv, man.Spec.Package)
	env := replayEnv(os.Environ(), man.Environment, map[string]string{
		"GETLAB_REPORTS": reports,
		"GETLAB_BIN":     filepath.Join(root, "bin"),
	})
	if *keep {
		env = append(env, bundle.KeepEnv+"=1")
	}
	fmt.Printf("\nreplay: %s go %s\n\n", bundle.EnvLine(man.Environment), strings.Join(quoteArgs(argv), " "))
	logf, err := os.Create(filepath.Join(out, "ginkgo.log"))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", argv...)
	cmd.Dir, cmd.Env = root, env
	cmd.Stdout = io.MultiWriter(os.Stdout, logf)
	cmd.Stderr = io.MultiWriter(os.Stderr, logf)
	runErr := cmd.Run()
	logf.Close()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return fmt.Errorf("go tool ginkgo: %w", runErr)
	}

	_, got, err := bundle.ReadReport(filepath.Join(reports, "report.json"))
	if err != nil {
		return fmt.Errorf("the replay left no report (see %s): %w", filepath.Join(out, "ginkgo.log"), err)
	}
	v := bundle.Compare(man, got)
	fmt.Printf("\nrepro: %s\n", v.Why)
	if v.State != "" && v.Message != "" {
		msg, _, _ := strings.Cut(strings.TrimSpace(v.Message), "\n")
		fmt.Printf("  replay failed: %s\n                at %s (%s)\n", msg, v.Location, v.NodeType)
	}
	fmt.Printf("  the replay's reports and artifacts: %s (ginkgo.log beside it)\n", reports)
	if *keep {
		printKept(got)
	}
	if !v.Reproduced {
		return errNotReproduced
	}
	fmt.Println("repro: reproduced")
	return nil
}

// replayEnv is base without the GETLAB_ variables a replay sets or must
// not inherit (a GETLAB_FAIL_SPEC of the shell would fail a spec the
// bundle's run did not), plus the bundle's environment and set.
func replayEnv(base []string, bundleEnv, set map[string]string) []string {
	drop := map[string]bool{"GETLAB_KS": true, "GETLAB_GM": true, "GETLAB_RUNTIME": true, bundle.FailSpecEnv: true,
		bundle.KeepEnv: true, "GETLAB_REPORTS": true, "GETLAB_BIN": true}
	for k := range bundleEnv {
		drop[k] = true
	}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	for _, m := range []map[string]string{bundleEnv, set} {
		for k, v := range m {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// buildIfNeeded runs make build when a binary the suites run is missing
// from bin/ or older than the newest Go source of the tree (and make
// docker-images for a docker run).
func buildIfNeeded(ctx context.Context, root string, docker bool) error {
	stale, why := binStale(root)
	var targets []string
	if stale {
		targets = append(targets, "build")
	}
	if docker {
		targets = append(targets, "docker-images")
	}
	if len(targets) == 0 {
		return nil
	}
	if stale {
		fmt.Printf("  build:   %s: make build\n", why)
	}
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory"}, targets...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make %s: %w", strings.Join(targets, " "), err)
	}
	return nil
}

// binStale says whether bin/ needs building, and why.
func binStale(root string) (bool, string) {
	var oldest time.Time
	for _, b := range []string{"getlab", "getvpnd", "getctl", "getlab-wire", "getlab-mrouter", "gm-swarm"} {
		st, err := os.Stat(filepath.Join(root, "bin", b))
		if err != nil {
			return true, "bin/" + b + " is missing"
		}
		if oldest.IsZero() || st.ModTime().Before(oldest) {
			oldest = st.ModTime()
		}
	}
	newer := ""
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if newer != "" {
			return filepath.SkipAll
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "build", "reports", "suites", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if n := d.Name(); !strings.HasSuffix(n, ".go") && n != "go.mod" && n != "go.sum" {
			return nil
		}
		if st, err := d.Info(); err == nil && st.ModTime().After(oldest) {
			newer, _ = filepath.Rel(root, p)
		}
		return nil
	})
	if newer != "" {
		return true, newer + " is newer than bin/"
	}
	return false, ""
}

// printKept says how to get into the labs GETLAB_KEEP left up.
func printKept(reports []types.Report) {
	seen := map[string]bool{}
	for _, r := range reports {
		for _, s := range r.SpecReports {
			for _, e := range s.ReportEntries {
				if e.Name != bundle.KeptLabEntry {
					continue
				}
				var id string
				if json.Unmarshal([]byte(e.Value.AsJSON), &id) != nil || id == "" || seen[id] {
					continue
				}
				seen[id] = true
				node := "NODE"
				if l, err := netns.Open(id, netns.Options{}); err == nil {
					var names []string
					for _, n := range l.Nodes {
						if n.Kind != "bridge" {
							names = append(names, n.Name)
						}
					}
					if len(names) > 0 {
						node = names[0]
						fmt.Printf("\nlab %s left up (--keep), nodes: %s\n", id, strings.Join(names, " "))
					}
				} else {
					fmt.Printf("\nlab %s left up (--keep)\n", id)
				}
				fmt.Printf("  bin/getlab ps --lab %s\n", id)
				fmt.Printf("  bin/getlab exec --lab %s %s -- ip addr    # any node, any command\n", id, node)
				fmt.Printf("  bin/getlab down %s    # when done\n", id)
			}
		}
	}
	if len(seen) == 0 {
		fmt.Println("\n--keep: no lab was left up (did the spec deploy one?)")
	}
}

func quoteArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			out[i] = k + "=" + bundle.ShellQuote(v)
			continue
		}
		out[i] = bundle.ShellQuote(a)
	}
	return out
}
