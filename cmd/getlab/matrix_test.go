package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/impl"
)

// writeReport writes a synthetic Ginkgo JSON report for one pairing.
func writeReport(t *testing.T, dir, pair string, succeeded bool, specs ...types.SpecReport) {
	t.Helper()
	d := filepath.Join(dir, pair)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]types.Report{{
		SuiteDescription: "Registration Suite",
		SuiteSucceeded:   succeeded,
		RunTime:          40 * time.Second,
		SpecReports:      specs,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "report.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func it(container, text string, state types.SpecState, msg string, entries ...types.ReportEntry) types.SpecReport {
	s := types.SpecReport{
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            text,
		ContainerHierarchyTexts: []string{container},
		State:                   state,
		ReportEntries:           entries,
	}
	s.Failure.Message = msg
	if state == types.SpecStateFailed {
		s.Failure.Location = types.CodeLocation{FileName: "registration_test.go", LineNumber: 99}
	}
	return s
}

func entry(name, v string) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v)}
}

func TestMatrix(t *testing.T) {
	dir := t.TempDir()
	abs, _ := filepath.Abs(dir)
	art := filepath.Join(abs, "a__b", "registration-default")
	writeReport(t, dir, "a__b", false,
		it("registration to one key server", "registers gm1", types.SpecStatePassed, "",
			entry("artifacts", art)),
		it("registration to one key server", "decrypts the PULL", types.SpecStateSkipped,
			"GM implementation b does not offer keylog\nmore"),
		it("registration with a wrong pre-shared key", "retries at the seeds' spacing", types.SpecStateFailed,
			"Expected\n    <int>: 1\nto equal\n    <int>: 3 "+strings.Repeat("x", 400), entry("capture", filepath.Join(abs, "a__b", "registration-wrong-psk", "capture.pcapng"))),
		it("registration with a wrong pre-shared key", "other label", types.SpecStateSkipped, ""), // not selected
		types.SpecReport{LeafNodeType: types.NodeTypeBeforeAll, State: types.SpecStatePassed},
	)
	writeReport(t, dir, "a__a", true,
		it("registration to one key server", "registers gm1", types.SpecStatePassed, ""),
		it("registration to one key server", "decrypts the PULL", types.SpecStatePassed, ""),
	)
	writeReport(t, dir, "b__a", false,
		types.SpecReport{LeafNodeType: types.NodeTypeBeforeAll, ContainerHierarchyTexts: []string{"registration to one key server"},
			State: types.SpecStateFailed, Failure: types.Failure{Message: "lab did not come up"}},
	)
	if err := os.MkdirAll(filepath.Join(dir, "b__b"), 0o755); err != nil { // ran nothing
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "not-a-pairing"), 0o755); err != nil {
		t.Fatal(err)
	}

	m, err := ReadMatrix(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.KS, ",") != "a,b" || strings.Join(m.GM, ",") != "a,b" || len(m.Cells) != 4 {
		t.Fatalf("KS %v GM %v cells %d", m.KS, m.GM, len(m.Cells))
	}
	ab := m.Cell("a", "b")
	if ab.Passed != 1 || ab.Failed != 1 || ab.Skipped != 1 || ab.OK() {
		t.Errorf("a×b: %+v", ab)
	}
	if len(ab.Scenarios) != 2 || ab.Scenarios[0].Name != "registration to one key server" ||
		ab.Scenarios[0].Passed != 1 || ab.Scenarios[0].Skipped != 1 || ab.Scenarios[1].Failed != 1 {
		t.Errorf("a×b scenarios: %+v %+v", ab.Scenarios[0], ab.Scenarios[1])
	}
	pass, skip, fail := ab.Scenarios[0].Specs[0], ab.Scenarios[0].Specs[1], ab.Scenarios[1].Specs[0]
	if pass.State != "passed" || pass.Artifacts != "a__b/registration-default" {
		t.Errorf("pass: %+v", pass)
	}
	if skip.State != "skipped" || skip.Message != "GM implementation b does not offer keylog more" ||
		skip.Artifacts != "a__b/registration-default" { // its scenario's

		t.Errorf("skip: %+v", skip)
	}
	if fail.State != "failed" || fail.Message != "Expected <int>: 1 to equal <int>: 3 "+strings.Repeat("x", 300-36)+" …" || fail.Location != "registration_test.go:99" ||
		fail.Artifacts != "a__b/registration-wrong-psk" {
		t.Errorf("fail: %+v", fail)
	}
	// A suite every pairing must report and none did: each pairing fails.
	strict, err := ReadMatrix(dir, "Registration Suite", "rekey")
	if err != nil {
		t.Fatal(err)
	}
	if aa := strict.Cell("a", "a"); aa.OK() || aa.Failed != 1 || !strings.Contains(aa.Scenarios[len(aa.Scenarios)-1].Specs[0].Message, "no report of suite rekey") {
		t.Errorf("a×a without the rekey suite's report: %+v", aa)
	}
	if ab.LeftOut != 1 {
		t.Errorf("a×b: %d specs left out by the label filter, want 1 (\"other label\")", ab.LeftOut)
	}
	if aa := m.Cell("a", "a"); !aa.OK() || aa.Passed != 2 || aa.LeftOut != 0 {
		t.Errorf("a×a: %+v", aa)
	}
	if ba := m.Cell("b", "a"); ba.OK() || ba.Failed != 1 || ba.Scenarios[0].Specs[0].Message != "lab did not come up" {
		t.Errorf("b×a: a failed setup node must fail the cell: %+v", ba)
	}
	if bb := m.Cell("b", "b"); bb.OK() || !strings.Contains(bb.Error, "no report") {
		t.Errorf("b×b: a pairing without a report must fail: %+v", bb)
	}
	if m.Passed != 3 || m.Failed != 2 || m.Skipped != 1 {
		t.Errorf("totals %d/%d/%d", m.Passed, m.Failed, m.Skipped)
	}

	if err := WriteMatrix(dir, m); err != nil {
		t.Fatal(err)
	}
	var back Matrix
	b, err := os.ReadFile(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Cells) != 4 || back.Failed != 2 {
		t.Errorf("matrix.json: %v %+v", err, back)
	}
	h, err := os.ReadFile(filepath.Join(dir, "matrix.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	for _, want := range []string{
		`<th>KS \ GM</th><th>a</th><th>b</th>`, `href="#a__b"`, `id="a__b"`,
		"Expected &lt;int&gt;: 1 to equal &lt;int&gt;: 3", "GM implementation b does not offer keylog",
		`<a href="a__b/registration-default/">registration-default/</a>`, "did not run: no report", "lab did not come up",
		`<td class="cell bad">`, `<td class="cell ok">`, "retries at the seeds&#39; spacing",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("matrix.html lacks %q", want)
		}
	}
	if strings.Contains(html, "other label") || strings.Contains(html, strings.Repeat("x", 301)) {
		t.Errorf("matrix.html shows an unselected spec or a failure past 300 characters")
	}

	var out bytes.Buffer
	printMatrix(&out, m, dir)
	got := out.String()
	for _, want := range []string{
		"PASS KS a × GM a", "FAIL KS a × GM b", "1 passed   1 failed   1 skipped",
		"FAIL KS b × GM b", "did not run",
		"FAILED [a × b] registration with a wrong pre-shared key retries at the seeds' spacing: Expected <int>: 1 to equal <int>: 3 x",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "KS a × GM b") > strings.Index(got, "KS b × GM a") {
		t.Errorf("summary not in KS, GM order:\n%s", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if last := lines[len(lines)-1]; last != "interop: 3 passed, 2 failed, 1 skipped" {
		t.Errorf("last line %q", last)
	}

	if _, err := ReadMatrix(t.TempDir(), "registration"); err == nil {
		t.Errorf("a directory without pairings must be an error")
	}
}

func TestPairings(t *testing.T) {
	dir, err := impl.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := impl.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Pairings(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Every registered implementation plays both roles today.
	n := len(reg.Names())
	if len(ps) != n*n {
		t.Fatalf("%d pairings of %d implementations: %v", len(ps), n, ps)
	}
	for _, want := range []string{"getvpnd__getvpnd", "getvpnd__getvpnd-wire", "getvpnd-wire__getvpnd"} {
		if !strings.Contains(strings.Join(ps, " ")+" ", want+" ") {
			t.Errorf("pairings %v lack %s", ps, want)
		}
	}

	// An implementation playing only GM pairs with every KS, never as one.
	tmp := t.TempDir()
	for name, roles := range map[string]string{"full": "[ks, gm]", "gmonly": "[gm]"} {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(dir, "getvpnd", impl.FileName))
		if err != nil {
			t.Fatal(err)
		}
		y = bytes.Replace(y, []byte("name: getvpnd"), []byte("name: "+name), 1)
		y = bytes.Replace(y, []byte("roles: [ks, gm]"), []byte("roles: "+roles), 1)
		if name == "gmonly" {
			y = bytes.Replace(y, []byte("ks: ks.yaml.tmpl, "), nil, 1)
			y = bytes.Replace(y, []byte("  ks: {udp: 848}\n"), nil, 1)
		}
		if err := os.WriteFile(filepath.Join(d, impl.FileName), y, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"ks.yaml.tmpl", "gm.yaml.tmpl"} {
			b, err := os.ReadFile(filepath.Join(dir, "getvpnd", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	reg, err = impl.Load(tmp)
	if err != nil {
		t.Fatal(err)
	}
	ps, err = Pairings(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ps, " "); got != "full__full full__gmonly" {
		t.Errorf("pairings %q, want full__full full__gmonly", got)
	}
}
