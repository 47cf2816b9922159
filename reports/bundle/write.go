package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/probe"
	htmlreport "github.com/getlab/getlab/reports/html"
)

// Meta is what the writer of a bundle knows of the machine and the tree
// beside the run's report.
type Meta struct {
	Getvpnd string
	Git     Git
	Images  map[string]string
	Probe   probe.Result
	// Env is the environment of the process writing the bundle (its
	// GETLAB_ variables): where a spec recorded no environment, `make
	// conformance` ran getlab with the run's.
	Env map[string]string
	// Now is the bundle's time (default time.Now).
	Now time.Time
}

// Name is a bundle's file name for target t: its spec's text made
// file-safe, as its artifact folder is named.
func Name(t Target) string {
	n := htmlreport.ArtifactName(t.Suite.SuiteDescription + " " + t.Spec.Report.FullText())
	if t.Spec.Report.LeafNodeType != types.NodeTypeIt {
		n = htmlreport.ArtifactName(t.Suite.SuiteDescription + " " + t.Spec.Report.LeafNodeType.String())
	}
	if len(n) > 100 {
		n = n[:100]
	}
	return n + ".tar.gz"
}

// entry is a file to archive: its path in the bundle and where its
// content comes from (a file on disk or bytes).
type entry struct {
	name string
	src  string
	data []byte
	file File
}

// Write writes target t's bundle to file out (replacing it) and returns
// its manifest and size.
func Write(out string, t Target, m Meta) (Manifest, int64, error) {
	if m.Now.IsZero() {
		m.Now = time.Now()
	}
	man := manifest(t, m)
	top := strings.TrimSuffix(filepath.Base(out), ".tar.gz")
	var entries []entry

	// The run's report, cut to the spec's suite and the specs a replay
	// runs: `getlab report` reads it as a run.
	excerpt := t.Suite
	excerpt.SpecReports = append(append(types.SpecReports(nil), t.Before...), t.Spec.Report)
	rep, err := json.MarshalIndent([]types.Report{excerpt}, "", "  ")
	if err != nil {
		return man, 0, err
	}
	prb, err := json.MarshalIndent(m.Probe, "", "  ")
	if err != nil {
		return man, 0, err
	}
	entries = append(entries, entry{name: "report.json", data: rep}, entry{name: "probe.json", data: prb})

	if t.Spec.Folder != "" {
		src := filepath.Join(t.Dir, filepath.FromSlash(t.Spec.Folder))
		base := path.Base(t.Spec.Folder)
		man.Artifacts = base
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// Regular files only: a symlink or a socket in an artifact
			// folder is no artifact, and a bundle holds nothing else.
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{name: base + "/" + filepath.ToSlash(rel), src: p})
			return nil
		})
		if err != nil {
			return man, 0, fmt.Errorf("bundle: artifacts %s: %w", src, err)
		}
	}
	for i := range entries {
		e := &entries[i]
		f, err := hashEntry(*e)
		if err != nil {
			return man, 0, err
		}
		e.file = f
	}
	sort.SliceStable(entries[2:], func(i, j int) bool { return entries[2+i].name < entries[2+j].name })
	for _, e := range entries {
		man.Files = append(man.Files, e.file)
		rel, inArtifacts := strings.CutPrefix(e.name, man.Artifacts+"/")
		if !inArtifacts || man.Artifacts == "" {
			continue
		}
		if strings.HasPrefix(rel, "topology/") {
			man.Topology = append(man.Topology, e.name)
		}
		if node, ok := strings.CutSuffix(rel, "/wire-rules.json"); ok && !strings.Contains(node, "/") {
			man.Impairment = append(man.Impairment, wireOf(node, e, entries))
		}
	}
	man.Replay = replayText(man)
	readme := []byte(readmeText(man, filepath.Base(out)))
	re := entry{name: "README.txt", data: readme}
	re.file, _ = hashEntry(re)
	entries = append(entries, re)
	man.Files = append(man.Files, re.file)
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return man, 0, err
	}
	me := entry{name: "manifest.json", data: mb}
	me.file, _ = hashEntry(me)
	entries = append([]entry{me}, entries...)

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return man, 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".bundle-*")
	if err != nil {
		return man, 0, err
	}
	defer os.Remove(tmp.Name())
	if err := writeArchive(tmp, top, entries, m.Now); err != nil {
		tmp.Close()
		return man, 0, fmt.Errorf("bundle: %s: %w", out, err)
	}
	st, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return man, 0, err
	}
	if err := tmp.Close(); err != nil {
		return man, 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return man, 0, err
	}
	return man, st.Size(), os.Rename(tmp.Name(), out)
}

func hashEntry(e entry) (File, error) {
	h := sha256.New()
	var n int64
	if e.src == "" {
		n, _ = io.Copy(h, bytes.NewReader(e.data))
	} else {
		f, err := os.Open(e.src)
		if err != nil {
			return File{}, err
		}
		n, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return File{}, err
		}
	}
	return File{Path: e.name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeArchive writes entries under folder top as a gzipped tar: folders
// and regular files only, the sizes the manifest lists (a file that
// changed since it was hashed fails the bundle rather than lie).
func writeArchive(w io.Writer, top string, entries []entry, now time.Time) error {
	z := gzip.NewWriter(w)
	tw := tar.NewWriter(z)
	dirs := map[string]bool{}
	mkdir := func(d string) error {
		var parts []string
		for ; d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			dirs[parts[i]] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: parts[i] + "/", Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range entries {
		name := top + "/" + e.name
		if err := mkdir(path.Dir(name)); err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: e.file.Size, ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := copyEntry(tw, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return z.Close()
}

// copyEntry writes e's content, the size the manifest lists.
func copyEntry(w io.Writer, e entry) error {
	var r io.Reader = bytes.NewReader(e.data)
	if e.src != "" {
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	n, err := io.Copy(w, io.LimitReader(r, e.file.Size))
	if err != nil {
		return err
	}
	if n != e.file.Size {
		return fmt.Errorf("%s shrank while bundled (%d of %d octets)", e.name, n, e.file.Size)
	}
	return nil
}

// wireOf reads a wire node's schedule from its artifacts.
func wireOf(node string, rules entry, all []entry) Wire {
	w := Wire{Node: node, Rules: rules.name}
	if b, err := os.ReadFile(rules.src); err == nil {
		var r struct {
			Seed  uint64            `json:"seed"`
			Rules []json.RawMessage `json:"rules"`
		}
		_ = json.Unmarshal(b, &r)
		w.Seed, w.RuleCount = r.Seed, len(r.Rules)
	}
	dec := path.Dir(rules.name) + "/decisions.jsonl"
	for _, e := range all {
		if e.name == dec {
			w.Decisions = dec
		}
	}
	return w
}

// manifest fills in what the report and meta say.
func manifest(t Target, m Meta) Manifest {
	s := t.Spec.Report
	root := moduleRoot(t.Suite.SuitePath, s.LeafNodeLocation.FileName)
	man := Manifest{
		Format:  Format,
		Created: m.Now.UTC(),
		Getvpnd: m.Getvpnd,
		Git:     m.Git,
		Images:  m.Images,
		Probe:   m.Probe,
		Spec: Spec{
			FullText: s.FullText(),
			Suite:    t.Suite.SuiteDescription,
			Package:  suitePackage(root, t.Suite.SuitePath, s.LeafNodeLocation.FileName),
			Labels:   s.Labels(),
			State:    s.State.String(),
			Location: relLocation(root, s.LeafNodeLocation),
			RunTime:  s.RunTime,
		},
	}
	if s.LeafNodeType == types.NodeTypeIt {
		man.Spec.Focus = FocusOf(t.Suite.SuiteDescription, s)
		man.Spec.ReplayFocus = replayFocus(t.Suite.SuiteDescription, s, t.Before)
		for _, b := range t.Before {
			man.Spec.Before = append(man.Spec.Before, b.FullText())
		}
	}
	if s.State.Is(types.SpecStateFailureStates) || s.Failure.Message != "" {
		man.Spec.Failure = &Failure{
			Message:        s.Failure.Message,
			Location:       relLocation(root, s.Failure.Location),
			NodeType:       s.Failure.FailureNodeType.String(),
			ForwardedPanic: s.Failure.ForwardedPanic,
		}
	}
	man.Environment, man.Implementations = environment(t, m.Env)
	return man
}

var implsEntry = regexp.MustCompile(`^KS ([^\s,]+), GM ([^\s,]+)`)

// environment is what a replay sets, and the implementations: the run's
// GETLAB_ variables as the spec recorded them, else the implementations
// its entry names, else those of the process writing the bundle, else the
// default (getvpnd both).
func environment(t Target, env map[string]string) (map[string]string, Implementations) {
	out := map[string]string{}
	impls := Implementations{Entry: t.Spec.Implementations}
	for _, s := range append([]types.SpecReport{t.Spec.Report}, t.Before...) {
		for _, e := range s.ReportEntries {
			if e.Name != EnvironmentEntry || len(out) > 0 {
				continue
			}
			if err := json.Unmarshal([]byte(e.Value.AsJSON), &out); err == nil && len(out) > 0 {
				impls.From = "environment entry"
			}
		}
	}
	if impls.From == "" {
		out = map[string]string{}
		if mm := implsEntry.FindStringSubmatch(t.Spec.Implementations); mm != nil {
			out["GETLAB_KS"], out["GETLAB_GM"] = mm[1], mm[2]
			impls.From = "implementations entry"
		} else if env["GETLAB_KS"] != "" || env["GETLAB_GM"] != "" {
			out["GETLAB_KS"], out["GETLAB_GM"] = env["GETLAB_KS"], env["GETLAB_GM"]
			impls.From = "getlab's environment"
		} else {
			impls.From = "default"
		}
		if r := env["GETLAB_RUNTIME"]; r != "" {
			out["GETLAB_RUNTIME"] = r
		}
	}
	for _, k := range []string{"GETLAB_KS", "GETLAB_GM"} {
		if out[k] == "" {
			out[k] = "getvpnd"
		}
	}
	if out["GETLAB_RUNTIME"] == "" {
		out["GETLAB_RUNTIME"] = "netns"
	}
	impls.KS, impls.GM = out["GETLAB_KS"], out["GETLAB_GM"]
	return out, impls
}

// moduleRoot is the source tree the run's paths are in: the folder above
// the suite's holding go.mod (on the machine that ran it), else what
// precedes suites/<name> (or build/suites/<name>, make interop's) in the
// suite's path, else the last "/suites/" of the spec's file.
func moduleRoot(suitePath, file string) string {
	for d := suitePath; d != "" && d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	for _, anchor := range []string{"/build/suites/", "/suites/"} {
		if i := strings.LastIndex(suitePath, anchor); i >= 0 {
			return suitePath[:i]
		}
	}
	if i := strings.LastIndex(file, "/suites/"); i >= 0 {
		return file[:i]
	}
	return ""
}

// relLocation is loc relative to the module root, file:line.
func relLocation(root string, loc types.CodeLocation) string {
	if loc.FileName == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", relTo(root, loc.FileName), loc.LineNumber)
}

func relTo(root, file string) string {
	if root != "" {
		if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(file)
}

// suitePackage is the suite's package as the ginkgo command takes it:
// the folder of the spec's file, else the suite's path; a suite compiled
// into build/suites/<name> (make interop) is ./suites/<name>.
func suitePackage(root, suitePath, file string) string {
	p := ""
	if strings.Contains(file, "/suites/") {
		p = relTo(root, filepath.Dir(file))
	} else if suitePath != "" {
		p = relTo(root, suitePath)
		if rest, ok := strings.CutPrefix(p, "build/suites/"); ok {
			p = "suites/" + rest
		}
	}
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return "./" + p
}

// replayText is the manifest's "replay": how the spec runs again.
func replayText(m Manifest) string {
	var b strings.Builder
	focus := m.Spec.ReplayFocus
	fmt.Fprintf(&b, "getlab repro BUNDLE runs, in a getlab source tree (make build first if needed), %s go tool ginkgo", envLine(m.Environment))
	if focus != "" {
		fmt.Fprintf(&b, " --focus=%s", ShellQuote(focus))
	}
	fmt.Fprintf(&b, " %s with GETLAB_REPORTS on a fresh folder, and compares the failure with this one (location, then message).", m.Spec.Package)
	if len(m.Spec.Before) > 0 {
		what := fmt.Sprintf("the %d specs", len(m.Spec.Before))
		if len(m.Spec.Before) == 1 {
			what = "the spec"
		}
		fmt.Fprintf(&b, " The spec is in an Ordered container: the focus also runs %s that ran before it there, in order (--only: the spec alone).", what)
	}
	if focus == "" {
		b.WriteString(" A failed setup node runs with the suite's specs: the whole suite runs.")
	}
	if _, ok := m.Environment[FailSpecEnv]; ok {
		fmt.Fprintf(&b, " %s is set: the failure was forced on purpose and replays with it.", FailSpecEnv)
	}
	if len(m.Impairment) > 0 {
		var ws []string
		for _, w := range m.Impairment {
			if w.RuleCount == 0 {
				ws = append(ws, w.Node+" (no rules: it only forwarded)")
				continue
			}
			rules := fmt.Sprintf("%d rules", w.RuleCount)
			if w.RuleCount == 1 {
				rules = "1 rule"
			}
			ws = append(ws, fmt.Sprintf("%s (%s, seed %d)", w.Node, rules, w.Seed))
		}
		fmt.Fprintf(&b, " The impairment schedule of %s replays because the spec sets its wires' rules and seeds itself, through their control sockets, at the same moments; %s are the rules the spec set last and what they decided frame by frame in this run, to compare with the replay's, not a script fed back (the same rules and seed give the same decisions for the same frames in the same order).",
			strings.Join(ws, ", "), "wire-rules.json and decisions.jsonl")
	}
	return b.String()
}

// envLine is env as a shell sets it, in name order.
func envLine(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+ShellQuote(env[k]))
	}
	return strings.Join(parts, " ")
}

// EnvLine is env as a shell sets it, in name order.
func EnvLine(env map[string]string) string { return envLine(env) }

// ShellQuote quotes s for a POSIX shell where it needs it.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$\\*?[]()|&;<>`^{}~#!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RunRoot is the source tree the run of t came from when it is on this
// machine (its go.mod is there), else "": the tree whose commit and
// getvpnd the bundle names.
func RunRoot(t Target) string {
	r := moduleRoot(t.Suite.SuitePath, t.Spec.Report.LeafNodeLocation.FileName)
	if r == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(r, "go.mod")); err != nil {
		return ""
	}
	return r
}

func readmeText(m Manifest, file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "getlab bug-report bundle (%s)\n\n", m.Format)
	fmt.Fprintf(&b, "spec:     %s › %s\n", m.Spec.Suite, m.Spec.FullText)
	fmt.Fprintf(&b, "package:  %s   (%s)\n", m.Spec.Package, m.Spec.Location)
	fmt.Fprintf(&b, "state:    %s\n", m.Spec.State)
	if m.Spec.Failure != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(m.Spec.Failure.Message), "\n")
		fmt.Fprintf(&b, "failure:  %s\n  at %s (%s)\n", msg, m.Spec.Failure.Location, m.Spec.Failure.NodeType)
	}
	fmt.Fprintf(&b, "KS %s, GM %s; getvpnd %s; commit %s", m.Implementations.KS, m.Implementations.GM, orNone(m.Getvpnd), orNone(m.Git.Commit))
	if m.Git.Dirty {
		b.WriteString(" (with changes not committed)")
	}
	fmt.Fprintf(&b, "\n\nReplay it, as root, in a getlab source tree:\n\n  bin/getlab repro %s          # --keep leaves the lab up\n\n", file)
	fmt.Fprintf(&b, "%s\n\nRead it: manifest.json (all of the above), report.json (`getlab report .` writes its HTML page),\n", m.Replay)
	if m.Artifacts != "" {
		fmt.Fprintf(&b, "%s/ (capture.pcapng: `getlab pcap %s/capture.pcapng --keys %s/keys.log`; topology/ as run; per node logs and state),\n", m.Artifacts, m.Artifacts, m.Artifacts)
	}
	b.WriteString("probe.json (what the machine that ran it offers).\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
