package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/probe"
	"github.com/getlab/getlab/reports/bundle"
)

// cmdBundle writes a failed spec's bug-report bundle (reports/bundle):
//
//	getlab bundle [--report FILE|DIR] [-o FILE] SPEC|DIR
//	getlab bundle --failed [DIR] [-o FOLDER]
//
// SPEC is matched against the run's report.json (its full text, or a
// part of it naming one spec, or the name of its artifact folder there);
// DIR is a spec's artifact folder, whose run is found above it. --failed bundles every failed spec of a run into
// DIR/bundles/ (what `make conformance` does after its report).
func cmdBundle(args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ExitOnError)
	out := fs.String("o", "", "the bundle's file (with --failed: the folder of the bundles); default <run>/bundles/")
	report := fs.String("report", "", "the run's report.json or its folder (default reports/out, or the one above DIR)")
	failed := fs.Bool("failed", false, "bundle every failed spec of the run")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *failed {
		dir := filepath.Join("reports", "out")
		if len(pos) > 0 {
			dir = pos[0]
		}
		return bundleFailed(dir, *out)
	}
	if len(pos) != 1 {
		return errors.New("usage: getlab bundle [--report FILE|DIR] [-o FILE] SPEC|DIR, or getlab bundle --failed [DIR]")
	}
	arg := pos[0]
	var t bundle.Target
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		if _, err := os.Stat(filepath.Join(arg, "report.json")); err == nil {
			return fmt.Errorf("%s is a run's folder, not a spec's: name a spec, or bundle every failed one with --failed", arg)
		}
		rp := *report
		if rp == "" {
			if rp, err = bundle.FindReport(arg); err != nil {
				return err
			}
		}
		dir, reports, err := bundle.ReadReport(rp)
		if err != nil {
			return err
		}
		if t, err = bundle.FindFolder(dir, reports, arg); err != nil {
			return err
		}
	} else {
		rp := *report
		if rp == "" {
			rp = filepath.Join("reports", "out")
		}
		dir, reports, err := bundle.ReadReport(rp)
		if err != nil {
			return err
		}
		if t, err = bundle.FindSpec(dir, reports, arg); err != nil {
			// A folder's name under the run (impair-delay) names its
			// spec too.
			st, serr := os.Stat(filepath.Join(dir, arg))
			if serr != nil || !st.IsDir() || strings.ContainsAny(arg, `/\`) {
				return err
			}
			if t, err = bundle.FindFolder(dir, reports, filepath.Join(dir, arg)); err != nil {
				return err
			}
		}
	}
	file := *out
	if file == "" {
		file = filepath.Join(t.Dir, "bundles", bundle.Name(t))
	}
	man, size, err := bundle.Write(file, t, bundleMeta(bundle.RunRoot(t)))
	if err != nil {
		return err
	}
	printBundle(file, size, man)
	return nil
}

// bundleFailed writes a bundle for every failed spec of the run in dir
// into outDir (default dir/bundles). It speaks on stderr: `make
// conformance` runs it after the summary, which stays as it was.
func bundleFailed(dir, outDir string) error {
	dir, reports, err := bundle.ReadReport(dir)
	if err != nil {
		return err
	}
	targets := bundle.Failed(dir, reports)
	if len(targets) == 0 {
		return nil
	}
	if outDir == "" {
		outDir = filepath.Join(dir, "bundles")
	}
	meta := bundleMeta(bundle.RunRoot(targets[0]))
	var errs []error
	for _, t := range targets {
		file := filepath.Join(outDir, bundle.Name(t))
		_, size, err := bundle.Write(file, t, meta)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "bundle: %s (%s) — replay: bin/getlab repro %s\n", file, humanSize(size), file)
	}
	return errors.Join(errs...)
}

func printBundle(file string, size int64, man bundle.Manifest) {
	fmt.Printf("bundle %s (%s, %d files)\n", file, humanSize(size), len(man.Files)+1)
	fmt.Printf("  spec:    %s › %s [%s]\n", man.Spec.Suite, man.Spec.FullText, man.Spec.State)
	if f := man.Spec.Failure; f != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(f.Message), "\n")
		fmt.Printf("  failure: %s\n           at %s\n", msg, f.Location)
	}
	fmt.Printf("  KS %s, GM %s (%s); getvpnd %s; commit %s\n", man.Implementations.KS, man.Implementations.GM,
		man.Implementations.From, valueOr(man.Getvpnd, "unknown"), valueOr(man.Git.Commit, "unknown"))
	fmt.Printf("  replay:  bin/getlab repro %s\n", file)
}

// bundleMeta is what getlab knows beside the report: getvpnd's version,
// the commit of the tree the run came from (root, when it is on this
// machine; else the one getlab runs in), the images and this machine's
// probe.
func bundleMeta(root string) bundle.Meta {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := bundle.Meta{Probe: probe.Run(ctx), Env: map[string]string{}}
	for _, k := range []string{"GETLAB_KS", "GETLAB_GM", "GETLAB_RUNTIME"} {
		if v := os.Getenv(k); v != "" {
			m.Env[k] = v
		}
	}
	if root == "" {
		root = sourceRoot()
	}
	if root != "" {
		if out, err := exec.CommandContext(ctx, filepath.Join(root, "bin", "getvpnd"), "--version").Output(); err == nil {
			m.Getvpnd = strings.TrimSpace(string(out))
		}
	}
	if m.Getvpnd == "" {
		m.Getvpnd = getvpndVersion()
	}
	if root != "" {
		m.Git = gitState(ctx, root)
	}
	if m.Probe.Docker.State == probe.Yes {
		m.Images = imageIDs(ctx)
	}
	return m
}

// gitState is the tree's commit, and whether it has changes not
// committed. Read-only: status runs without taking the index lock.
func gitState(ctx context.Context, root string) bundle.Git {
	var g bundle.Git
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return g
	}
	g.Commit = strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", root, "status", "--porcelain").Output(); err == nil {
		g.Dirty = len(strings.TrimSpace(string(st))) > 0
	}
	return g
}

// projectImages are the images `make images` builds.
var projectImages = []string{"getlab/getvpnd:dev", "getlab/host:dev", "getlab/gm-swarm:dev", "getlab/wire:dev", "getlab/router:dev"}

// imageIDs are the project's images' IDs, where the engine has them.
func imageIDs(ctx context.Context) map[string]string {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil
	}
	ids := map[string]string{}
	for _, img := range projectImages {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(c, "docker", "image", "inspect", "--format", "{{.Id}}", img).Output()
		cancel()
		if err == nil {
			ids[img] = strings.TrimSpace(string(out))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// sourceRoot is the getlab source tree getlab runs in or was built in:
// the folder above the working directory holding getlab's go.mod, else
// the one above the executable's bin/; "" when neither is.
func sourceRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if isGetlabModule(filepath.Join(d, "go.mod")) {
				return d
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return ""
}

func isGetlabModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/getlab/getlab"
		}
	}
	return false
}

// parseInterspersed parses fs's flags wherever they are among args (the
// flag package stops at the first argument that is not one) and returns
// the other arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func valueOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
