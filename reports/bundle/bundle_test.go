package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/probe"
)

// A synthetic run, as `make conformance` leaves one: report.json with a
// suite whose Ordered container ran a spec that passed, then one that
// failed (forced, in the top-level AfterEach) and one skipped after it,
// and another suite that passed; the container's artifact folder,
// recorded under the absolute path of another machine, with a capture,
// a key log, the topology and configs as run, an impairment wire's rules
// and decisions, a node's log — and a symbolic link, which is no artifact.

var t0 = time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)

const (
	folderName = "smoke_basic_topology_bring-up"
	failedText = "basic topology: bring-up lets host-a and host-b reach each other through the GMs"
)

func reportEntry(name string, v any) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v), Time: t0}
}

// fixture writes the run into a new folder and returns it: the source
// tree at src/ (a go.mod, as on the machine that ran), the reports at
// out/.
func fixture(t *testing.T) (out string) {
	t.Helper()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	out = filepath.Join(base, "out")
	must(t, os.MkdirAll(filepath.Join(src, "suites", "smoke"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module github.com/getlab/getlab\n"), 0o644))
	file := filepath.Join(src, "suites", "smoke", "smoke_test.go")
	env := map[string]string{"GETLAB_KS": "getvpnd-wire", "GETLAB_GM": "getvpnd", "GETLAB_RUNTIME": "netns", FailSpecEnv: "reach each other"}
	container := []string{"basic topology: bring-up"}
	passed := types.SpecReport{
		ContainerHierarchyTexts: container, LeafNodeType: types.NodeTypeIt, LeafNodeText: "comes up as the topology file describes it",
		LeafNodeLocation: types.CodeLocation{FileName: file, LineNumber: 45}, IsInOrderedContainer: true,
		State: types.SpecStatePassed, StartTime: t0, EndTime: t0.Add(time.Second), RunTime: time.Second,
		ReportEntries: types.ReportEntries{reportEntry("implementations", "KS getvpnd-wire, GM getvpnd, timer scale 1"), reportEntry(EnvironmentEntry, env)},
	}
	failed := types.SpecReport{
		ContainerHierarchyTexts: container, LeafNodeType: types.NodeTypeIt, LeafNodeText: "lets host-a and host-b reach each other through the GMs",
		LeafNodeLocation: types.CodeLocation{FileName: file, LineNumber: 75}, IsInOrderedContainer: true, LeafNodeLabels: []string{"smoke"},
		State: types.SpecStateFailed, StartTime: t0.Add(time.Second), EndTime: t0.Add(3 * time.Second), RunTime: 2 * time.Second,
		Failure: types.Failure{
			Message:         `forced failure: GETLAB_FAIL_SPEC="reach each other" matches this spec`,
			Location:        types.CodeLocation{FileName: filepath.Join(src, "suites", "suitekit", "replay.go"), LineNumber: 112},
			FailureNodeType: types.NodeTypeAfterEach,
		},
		ReportEntries: types.ReportEntries{
			reportEntry("artifacts", "/work/elsewhere/reports/out/"+folderName),
			reportEntry(EnvironmentEntry, env),
		},
	}
	skipped := types.SpecReport{
		ContainerHierarchyTexts: container, LeafNodeType: types.NodeTypeIt, LeafNodeText: "gathers the nodes' key logs next to the capture",
		LeafNodeLocation: types.CodeLocation{FileName: file, LineNumber: 101}, IsInOrderedContainer: true,
		State: types.SpecStateSkipped, StartTime: t0.Add(3 * time.Second),
		Failure: types.Failure{Message: "Spec skipped because an earlier spec in an ordered container failed"},
	}
	reports := []types.Report{
		{SuitePath: filepath.Join(src, "suites", "smoke"), SuiteDescription: "smoke", SuiteSucceeded: false, StartTime: t0,
			SpecReports: types.SpecReports{passed, failed, skipped}},
		{SuitePath: filepath.Join(src, "suites", "dataplane"), SuiteDescription: "dataplane", SuiteSucceeded: true, StartTime: t0,
			SpecReports: types.SpecReports{{ContainerHierarchyTexts: []string{"data plane"}, LeafNodeType: types.NodeTypeIt,
				LeafNodeText: "lets host-a and host-b reach each other in ESP", State: types.SpecStatePassed, StartTime: t0,
				LeafNodeLocation: types.CodeLocation{FileName: filepath.Join(src, "suites", "dataplane", "dataplane_test.go"), LineNumber: 30}}}},
	}
	b, err := json.Marshal(reports)
	must(t, err)
	must(t, os.MkdirAll(out, 0o755))
	must(t, os.WriteFile(filepath.Join(out, "report.json"), b, 0o644))

	art := filepath.Join(out, folderName)
	files := map[string]string{
		"capture.pcapng":              strings.Repeat("\x0a\x0d\x0d\x0a", 1000),
		"keys.log":                    "IKE 0102 0304 ...\n",
		"lab.json":                    `{"id": "getlab-3fa9c1"}`,
		"topology/impair.clab.yml":    "name: impair\n",
		"topology/configs/gm1.yaml":   "role: gm\n",
		"gm1/gm1.log":                 "GM_REGS_COMPL\n",
		"wks/wire-rules.json":         `{"seed": 7, "rules": [{"name": "gdoi", "match": {"proto": "isakmp"}, "delay": "20ms"}]}`,
		"wks/decisions.jsonl":         `{"index": 1, "rule": "gdoi", "action": "delay"}` + "\n",
		"wks/wire-stats.json":         `{}`,
		"gm1/state.txt":               "node gm1\n",
		"topology/binds-outside.txt":  "",
		"gm1/events.json":             "[]",
		"gm1/gdoi.json":               "{}",
		"ks1/ks1.log":                 "KS_REGS_COMPL\n",
		"ks1/exec.log":                "",
		"topology/configs/ks1.yaml":   "role: ks\n",
		"topology/configs/wks.rules":  "",
		"wks/decisions-not-flushed.x": "",
	}
	for name, content := range files {
		p := filepath.Join(art, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	must(t, os.Symlink("/etc/passwd", filepath.Join(art, "passwd")))
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func meta() Meta {
	return Meta{
		Getvpnd: "getvpnd v0.1.0", Git: Git{Commit: "6dc09cc1234", Dirty: true},
		Images: map[string]string{"getlab/getvpnd:dev": "sha256:abc"},
		Probe: probe.Result{Host: "ci", Kernel: "6.18.44-fc-v1300", Netem: probe.Check{State: probe.No},
			MulticastRouting: probe.Check{State: probe.No, Detail: "tried: MRT_INIT on a raw IGMP socket: protocol not available"}},
		Env: map[string]string{"GETLAB_KS": "should-not-win"},
		Now: t0.Add(time.Hour),
	}
}

// A spec named in the report becomes an archive whose manifest says what
// failed, where and with what, and which holds the report excerpt, the
// probe and every regular file of the spec's folder, none else.
func TestWriteAndUnpack(t *testing.T) {
	out := fixture(t)
	dir, reports, err := ReadReport(out)
	must(t, err)
	tg, err := FindSpec(dir, reports, "reach each other through the GMs")
	must(t, err)
	file := filepath.Join(t.TempDir(), Name(tg))
	man, size, err := Write(file, tg, meta())
	must(t, err)
	if size == 0 || !strings.HasPrefix(filepath.Base(file), "smoke_basic_topology_bring-up_lets_host-a") {
		t.Errorf("bundle %s of %d octets", file, size)
	}

	s := man.Spec
	if s.FullText != failedText || s.Suite != "smoke" || s.Package != "./suites/smoke" || s.State != "failed" ||
		s.Location != "suites/smoke/smoke_test.go:75" || len(s.Labels) != 1 || s.Labels[0] != "smoke" {
		t.Errorf("spec %+v", s)
	}
	if s.Failure == nil || s.Failure.Location != "suites/suitekit/replay.go:112" || s.Failure.NodeType != "AfterEach" ||
		!strings.Contains(s.Failure.Message, "forced failure") {
		t.Errorf("failure %+v", s.Failure)
	}
	// The focus is Ginkgo's: it matches the suite's description and the
	// spec's texts joined by spaces, this spec alone; the replay's also
	// the spec of its container that ran before it, not the one skipped
	// after.
	if !regexp.MustCompile(s.Focus).MatchString("smoke "+failedText) ||
		regexp.MustCompile(s.Focus).MatchString("smoke basic topology: bring-up comes up as the topology file describes it") {
		t.Errorf("focus %q", s.Focus)
	}
	rf := regexp.MustCompile(s.ReplayFocus)
	if !rf.MatchString("smoke "+failedText) || !rf.MatchString("smoke basic topology: bring-up comes up as the topology file describes it") ||
		rf.MatchString("smoke basic topology: bring-up gathers the nodes' key logs next to the capture") ||
		len(s.Before) != 1 {
		t.Errorf("replay focus %q, before %q", s.ReplayFocus, s.Before)
	}
	// The run's environment as the spec recorded it, not getlab's own.
	if man.Implementations.KS != "getvpnd-wire" || man.Implementations.GM != "getvpnd" || man.Implementations.From != "environment entry" ||
		man.Environment[FailSpecEnv] != "reach each other" || man.Environment["GETLAB_RUNTIME"] != "netns" ||
		man.Implementations.Entry != "KS getvpnd-wire, GM getvpnd, timer scale 1" {
		t.Errorf("implementations %+v, environment %v", man.Implementations, man.Environment)
	}
	if man.Getvpnd != "getvpnd v0.1.0" || man.Git.Commit != "6dc09cc1234" || !man.Git.Dirty || man.Images["getlab/getvpnd:dev"] != "sha256:abc" ||
		man.Probe.Kernel != "6.18.44-fc-v1300" {
		t.Errorf("meta %+v %+v %v %+v", man.Getvpnd, man.Git, man.Images, man.Probe)
	}
	if man.Artifacts != folderName || len(man.Topology) != 5 {
		t.Errorf("artifacts %q, topology %q", man.Artifacts, man.Topology)
	}
	if len(man.Impairment) != 1 || man.Impairment[0] != (Wire{Node: "wks", Seed: 7, RuleCount: 1, Rules: folderName + "/wks/wire-rules.json", Decisions: folderName + "/wks/decisions.jsonl"}) {
		t.Errorf("impairment %+v", man.Impairment)
	}
	for _, want := range []string{"wks (1 rule, seed 7)", "sets its wires' rules and seeds itself", FailSpecEnv, "Ordered container", "./suites/smoke", "GETLAB_KS=getvpnd-wire"} {
		if !strings.Contains(man.Replay, want) {
			t.Errorf("replay %q says nothing of %q", man.Replay, want)
		}
	}

	// What the archive holds: one top folder, folders and regular files.
	names := list(t, file)
	top := strings.TrimSuffix(filepath.Base(file), ".tar.gz")
	for _, want := range []string{"manifest.json", "report.json", "probe.json", "README.txt", folderName + "/capture.pcapng",
		folderName + "/topology/configs/gm1.yaml", folderName + "/wks/decisions.jsonl", folderName + "/gm1/gm1.log"} {
		if !names[top+"/"+want] {
			t.Errorf("no %s in the bundle", want)
		}
	}
	if names[top+"/"+folderName+"/passwd"] {
		t.Error("the symbolic link was bundled")
	}
	if len(man.Files) != 18+3 { // the folder's regular files, report.json, probe.json, README.txt
		t.Errorf("%d files listed", len(man.Files))
	}

	// Back: the same manifest, every file as listed, and a report
	// excerpt that is a run of the spec and its predecessor.
	dest := filepath.Join(t.TempDir(), "x")
	got, root, err := Unpack(file, dest)
	must(t, err)
	if root != filepath.Join(dest, top) || got.Spec.FullText != failedText || got.Spec.ReplayFocus != s.ReplayFocus || len(got.Files) != len(man.Files) {
		t.Errorf("unpacked %s: %+v", root, got.Spec)
	}
	b, err := os.ReadFile(filepath.Join(root, folderName, "capture.pcapng"))
	must(t, err)
	if len(b) != 4000 {
		t.Errorf("capture of %d octets", len(b))
	}
	_, rep, err := ReadReport(root)
	must(t, err)
	if len(rep) != 1 || rep[0].SuiteDescription != "smoke" || len(rep[0].SpecReports) != 2 || rep[0].SpecReports[1].FullText() != failedText {
		t.Errorf("report excerpt: %+v", rep)
	}
	// The unpacked bundle is a run its own artifacts resolve in.
	again, err := FindSpec(root, rep, failedText)
	must(t, err)
	if again.Spec.Folder != folderName {
		t.Errorf("the excerpt's spec finds folder %q in the bundle", again.Spec.Folder)
	}
}

// A spec's artifact folder names the spec: the one that failed of its
// Ordered container.
func TestFindFolder(t *testing.T) {
	out := fixture(t)
	rp, err := FindReport(filepath.Join(out, folderName))
	must(t, err)
	dir, reports, err := ReadReport(rp)
	must(t, err)
	tg, err := FindFolder(dir, reports, filepath.Join(out, folderName))
	must(t, err)
	if tg.Spec.Report.FullText() != failedText || len(tg.Before) != 1 {
		t.Errorf("folder names %q (before %d)", tg.Spec.Report.FullText(), len(tg.Before))
	}
	if _, err := FindFolder(dir, reports, t.TempDir()); err == nil {
		t.Error("a folder outside the run was taken")
	}
	// Several specs match: the failed one is chosen; none by that name,
	// an error.
	tg, err = FindSpec(dir, reports, "reach each other")
	must(t, err)
	if tg.Spec.Report.FullText() != failedText {
		t.Errorf("chose %q", tg.Spec.Report.FullText())
	}
	if _, err := FindSpec(dir, reports, "no such spec"); err == nil {
		t.Error("a spec no report has was found")
	}
	if fs := Failed(dir, reports); len(fs) != 1 || fs[0].Spec.Report.FullText() != failedText {
		t.Errorf("failed: %d", len(fs))
	}
}

func list(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(z)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			t.Errorf("%s: type %q in the bundle", h.Name, h.Typeflag)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
	}
	return names
}

// hostile writes an archive of entries (name → content; a name ending in
// "@link" is a symbolic link to the content).
func hostile(t *testing.T, entries [][2]string) string {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	tw := tar.NewWriter(z)
	for _, e := range entries {
		name, body := e[0], e[1]
		if n, ok := strings.CutSuffix(name, "@link"); ok {
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: n, Linkname: body}))
			continue
		}
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, z.Close())
	p := filepath.Join(t.TempDir(), "hostile.tar.gz")
	must(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

// A hostile archive's entries that would land outside the folder
// unpacked into, or that are not plain files, are refused, and nothing
// lands outside it.
func TestUnpackRefusesHostileEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries [][2]string
		want    string
	}{
		{"parent", [][2]string{{"b/manifest.json", "{}"}, {"b/../../escaped", "x"}}, `".." element`},
		{"parent first", [][2]string{{"../escaped", "x"}}, `".." element`},
		{"absolute", [][2]string{{"/tmp/escaped", "x"}}, "absolute"},
		{"symlink", [][2]string{{"b/link@link", "/etc"}, {"b/link/passwd", "x"}}, "symbolic link"},
		{"second top folder", [][2]string{{"b/manifest.json", "{}"}, {"c/escaped", "x"}}, "outside the bundle's folder"},
		{"dot", [][2]string{{"b/./x", "x"}}, "not a clean path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "a", "dest")
			_, _, err := Unpack(hostile(t, tc.entries), dest)
			if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("unpacked with %v, want refused: %s", err, tc.want)
			}
			for _, p := range []string{filepath.Join(base, "escaped"), filepath.Join(base, "a", "escaped"), "/tmp/escaped"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// A file changed after the bundle was written is said, not replayed.
func TestUnpackChecksFiles(t *testing.T) {
	man := Manifest{Format: Format, Files: []File{{Path: "report.json", Size: 2, SHA256: "00"}}}
	mb, _ := json.Marshal(man)
	p := hostile(t, [][2]string{{"b/manifest.json", string(mb)}, {"b/report.json", "[]"}})
	if _, _, err := Unpack(p, filepath.Join(t.TempDir(), "d")); err == nil || !strings.Contains(err.Error(), "not as the manifest lists it") {
		t.Fatalf("unpacked a damaged bundle: %v", err)
	}
	if _, _, err := Unpack(p, t.TempDir()+"/"); err == nil {
		// The folder exists and is empty: allowed; the damage is what fails.
		t.Fatal("unpacked a damaged bundle into an empty folder")
	}
}

// The replay's failure is the bundle's when it is at the same location
// with a message alike but for the run's numbers and names.
func TestCompare(t *testing.T) {
	out := fixture(t)
	dir, reports, err := ReadReport(out)
	must(t, err)
	tg, err := FindSpec(dir, reports, failedText)
	must(t, err)
	man := manifest(tg, meta())

	replay := func(state types.SpecState, loc types.CodeLocation, msg string) []types.Report {
		r := reports[0]
		s := tg.Spec.Report
		s.State, s.Failure.Location, s.Failure.Message = state, loc, msg
		r.SpecReports = types.SpecReports{s}
		// Another machine's tree: the location is compared relative to it.
		r.SuitePath = "/home/someone/getlab/suites/smoke"
		return []types.Report{r}
	}
	here := types.CodeLocation{FileName: "/home/someone/getlab/suites/suitekit/replay.go", LineNumber: 112}
	if v := Compare(man, replay(types.SpecStateFailed, here, man.Spec.Failure.Message)); !v.Reproduced || !v.SameLocation || v.Similarity != 1 {
		t.Errorf("the same failure: %+v", v)
	}
	if v := Compare(man, replay(types.SpecStatePassed, types.CodeLocation{}, "")); v.Reproduced || !strings.Contains(v.Why, "passed") {
		t.Errorf("passed: %+v", v)
	}
	elsewhere := types.CodeLocation{FileName: "/home/someone/getlab/suites/smoke/smoke_test.go", LineNumber: 90}
	if v := Compare(man, replay(types.SpecStateFailed, elsewhere, man.Spec.Failure.Message)); v.Reproduced || !strings.Contains(v.Why, "elsewhere") {
		t.Errorf("elsewhere: %+v", v)
	}
	if v := Compare(man, replay(types.SpecStateFailed, here, "Timed out after 10.000s: ks1 up")); v.Reproduced || v.SameLocation != true {
		t.Errorf("another message: %+v", v)
	}
	if v := Compare(man, replay(types.SpecStateSkipped, types.CodeLocation{}, "needs root")); v.Reproduced || !strings.Contains(v.Why, "skipped: needs root") {
		t.Errorf("skipped: %+v", v)
	}
	if v := Compare(man, nil); v.Found || v.Reproduced {
		t.Errorf("no report: %+v", v)
	}
}

func TestSimilarity(t *testing.T) {
	a := "the capture lost 12 frames on gm2:eth1 in lab getlab-3fa9c1 (/tmp/getlab/getlab-3fa9c1/x)\nExpected\n    <int>: 12\nto be zero"
	b := "the capture lost 3 frames on gm2:eth1 in lab getlab-77aa01 (/tmp/getlab/getlab-77aa01/y)\nExpected\n    <int>: 3\nto be zero"
	if s := Similarity(a, b); s != 1 {
		t.Errorf("messages differing in the run's values: %.2f", s)
	}
	if s := Similarity(a, "Timed out after 10.001s.\nks1 up\nExpected success, but got an error"); s >= SimilarAt {
		t.Errorf("different failures: %.2f", s)
	}
}
