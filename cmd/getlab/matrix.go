package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/impl"
)

// pairSep joins a pairing's KS and GM names in its report directory's name
// (reports/out/interop/<ks>__<gm>/); names holding it are refused.
const pairSep = "__"

// Matrix is matrix.json: every pairing's results, KSs as rows and GMs as
// columns.
type Matrix struct {
	Generated time.Time `json:"generated"`
	KS        []string  `json:"ks"`
	GM        []string  `json:"gm"`
	Cells     []*Cell   `json:"cells"`
	Passed    int       `json:"passed"`
	Failed    int       `json:"failed"`
	Skipped   int       `json:"skipped"`
}

// Cell is one pairing: its counts and its scenarios.
type Cell struct {
	KS      string  `json:"ks"`
	GM      string  `json:"gm"`
	Report  string  `json:"report"`
	Error   string  `json:"error,omitempty"` // no report to read: the pairing did not run
	Seconds float64 `json:"seconds"`
	Passed  int     `json:"passed"`
	Failed  int     `json:"failed"`
	Skipped int     `json:"skipped"`
	// LeftOut counts the specs the run's label filter (LabelFilter) left
	// out, e.g. the slow ones of a quick run: no verdict, but not hidden.
	LeftOut     int         `json:"left_out,omitempty"`
	LabelFilter string      `json:"label_filter,omitempty"`
	Scenarios   []*Scenario `json:"scenarios"`
}

// Scenario is the specs under one container (a Describe and the containers
// in it), in the order they ran.
type Scenario struct {
	Name      string  `json:"name"`
	Artifacts string  `json:"artifacts,omitempty"` // the first of its specs' artifact directories
	Passed    int     `json:"passed"`
	Failed    int     `json:"failed"`
	Skipped   int     `json:"skipped"`
	Specs     []*Spec `json:"specs"`
}

// Spec is one spec's verdict. Message is a failure's message or a skip's
// reason on one line (cut at 300 characters); Artifacts the spec's artifact directory, relative to the
// matrix where it lies under it.
type Spec struct {
	Text      string  `json:"text"`
	State     string  `json:"state"` // passed, failed, skipped
	Message   string  `json:"message,omitempty"`
	Location  string  `json:"location,omitempty"`
	Artifacts string  `json:"artifacts,omitempty"`
	Seconds   float64 `json:"seconds"`
}

// OK reports whether the pairing ran and nothing failed.
func (c *Cell) OK() bool { return c.Error == "" && c.Failed == 0 }

// cmdMatrix writes DIR/matrix.json and DIR/matrix.html from the Ginkgo JSON
// reports of DIR/<ks>__<gm>/report.json and prints a one-screen summary;
// it fails when a spec failed or a pairing has no report. With --pairings
// it prints instead every KS__GM pairing of the registered implementations,
// one a line, for `make interop`.
func cmdMatrix(args []string) error {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	pairings := fs.Bool("pairings", false, "print every registered KS"+pairSep+"GM pairing, one a line")
	images := fs.String("images", "", "the implementations' directory (default images/ of the source tree)")
	suites := fs.String("suites", "", "the suites every pairing must have reported (comma-separated Ginkgo suite names); a pairing missing one fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pairings {
		dir := *images
		if dir == "" {
			d, err := impl.DefaultDir()
			if err != nil {
				return err
			}
			dir = d
		}
		reg, err := impl.Load(dir)
		if err != nil {
			return err
		}
		ps, err := Pairings(reg)
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Println(p)
		}
		return nil
	}
	dir := filepath.Join("reports", "out", "interop")
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	var want []string
	if *suites != "" {
		want = strings.Split(*suites, ",")
	}
	m, err := ReadMatrix(dir, want...)
	if err != nil {
		return err
	}
	if err := WriteMatrix(dir, m); err != nil {
		return err
	}
	printMatrix(os.Stdout, m, dir)
	bad := 0
	for _, c := range m.Cells {
		if !c.OK() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d pairings failed or did not run", bad, len(m.Cells))
	}
	return nil
}

// Pairings is every KS implementation with every GM implementation, as
// <ks>__<gm>, sorted.
func Pairings(reg *impl.Registry) ([]string, error) {
	var kss, gms []string
	for _, n := range reg.Names() {
		if strings.Contains(n, pairSep) {
			return nil, fmt.Errorf("implementation %q: a name holding %q cannot name a pairing's directory", n, pairSep)
		}
		im, err := reg.Get(n)
		if err != nil {
			return nil, err
		}
		if im.Plays(impl.KS) {
			kss = append(kss, n)
		}
		if im.Plays(impl.GM) {
			gms = append(gms, n)
		}
	}
	var out []string
	for _, k := range kss {
		for _, g := range gms {
			out = append(out, k+pairSep+g)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no implementation plays KS and GM: nothing to pair")
	}
	return out, nil
}

// ReadMatrix reads every DIR/<ks>__<gm>/report.json. A pairing directory
// without a readable report is a cell with an error, not the end of the
// matrix: the others still tell what they tell.
//
// suites are the Ginkgo suites (by description) every pairing must have
// reported: a pairing whose report lacks one gets a failed "<suite>
// suite" scenario, so that a suite that did not start (or whose report
// was lost) cannot pass unseen.
func ReadMatrix(dir string, suites ...string) (*Matrix, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := &Matrix{Generated: time.Now().UTC()}
	for _, e := range ents {
		ks, gm, ok := strings.Cut(e.Name(), pairSep)
		if !e.IsDir() || !ok || ks == "" || gm == "" {
			continue
		}
		c := &Cell{KS: ks, GM: gm, Report: filepath.Join(e.Name(), "report.json")}
		if err := c.read(dir, suites); err != nil {
			c.Error = err.Error()
		}
		m.Cells = append(m.Cells, c)
		if !slices.Contains(m.KS, ks) {
			m.KS = append(m.KS, ks)
		}
		if !slices.Contains(m.GM, gm) {
			m.GM = append(m.GM, gm)
		}
		m.Passed += c.Passed
		m.Failed += c.Failed
		m.Skipped += c.Skipped
	}
	if len(m.Cells) == 0 {
		return nil, fmt.Errorf("%s: no <ks>%s<gm> pairing directories", dir, pairSep)
	}
	slices.Sort(m.KS)
	slices.Sort(m.GM)
	// By KS, then GM: the directories sort "a-b" before "a__", names don't.
	slices.SortStableFunc(m.Cells, func(a, b *Cell) int {
		if c := strings.Compare(a.KS, b.KS); c != 0 {
			return c
		}
		return strings.Compare(a.GM, b.GM)
	})
	return m, nil
}

func (c *Cell) read(dir string, suites []string) error {
	path := filepath.Join(dir, c.Report)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("no report (what ran is in %s): %w", filepath.Join(filepath.Dir(path), "ginkgo.log"), err)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(reports) == 0 {
		return fmt.Errorf("%s: no suite ran", path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	byName := map[string]*Scenario{}
	for _, r := range reports {
		c.Seconds += r.RunTime.Seconds()
		if f := r.SuiteConfig.LabelFilter; f != "" {
			c.LabelFilter = f
		}
		for _, s := range r.SpecReports {
			sp := specOf(s, abs)
			if sp == nil {
				if filteredOut(s) {
					c.LeftOut++
				}
				continue
			}
			name := strings.Join(s.ContainerHierarchyTexts, " / ")
			if name == "" {
				name = r.SuiteDescription + " suite"
			}
			sc := byName[name]
			if sc == nil {
				sc = &Scenario{Name: name}
				byName[name] = sc
				c.Scenarios = append(c.Scenarios, sc)
			}
			sc.Specs = append(sc.Specs, sp)
			switch sp.State {
			case "passed":
				sc.Passed++
				c.Passed++
			case "failed":
				sc.Failed++
				c.Failed++
			default:
				sc.Skipped++
				c.Skipped++
			}
		}
		if !r.SuiteSucceeded && c.Failed == 0 {
			// A suite can fail outside any spec (it did not build, or
			// timed out): the cell must not read as a pass.
			msg := strings.Join(r.SpecialSuiteFailureReasons, "; ")
			if msg == "" {
				msg = "the suite failed outside its specs"
			}
			c.Scenarios = append(c.Scenarios, &Scenario{Name: r.SuiteDescription + " suite", Failed: 1,
				Specs: []*Spec{{Text: "suite", State: "failed", Message: msg}}})
			c.Failed++
		}
	}
	reported := map[string]bool{}
	for _, r := range reports {
		reported[r.SuiteDescription] = true
	}
	for _, name := range suites {
		if !reported[name] {
			c.Scenarios = append(c.Scenarios, &Scenario{Name: name + " suite", Failed: 1,
				Specs: []*Spec{{Text: "report", State: "failed", Message: "no report of suite " + name + ": it did not run (see ginkgo.log)"}}})
			c.Failed++
		}
	}
	// The same order in every cell, whichever order the processes ran them.
	slices.SortStableFunc(c.Scenarios, func(a, b *Scenario) int { return strings.Compare(a.Name, b.Name) })
	// An ordered scenario records its artifacts once, in one spec: each
	// of its specs links to them.
	for _, sc := range c.Scenarios {
		for _, sp := range sc.Specs {
			if sc.Artifacts == "" {
				sc.Artifacts = sp.Artifacts
			}
		}
		for _, sp := range sc.Specs {
			if sp.Artifacts == "" {
				sp.Artifacts = sc.Artifacts
			}
		}
	}
	return nil
}

// specOf turns one Ginkgo spec report into a verdict, or nil for what is
// no verdict: a spec left out by the label filter (skipped without a
// reason), a pending one, a setup node that passed.
func specOf(s types.SpecReport, dir string) *Spec {
	sp := &Spec{Text: s.LeafNodeText, Seconds: s.RunTime.Seconds()}
	if s.LeafNodeType != types.NodeTypeIt {
		sp.Text = "[" + s.LeafNodeType.String() + "]"
		if s.LeafNodeText != "" {
			sp.Text += " " + s.LeafNodeText
		}
	}
	switch {
	case s.State.Is(types.SpecStateFailureStates):
		sp.State = "failed"
		sp.Location = s.Failure.Location.String()
	case s.LeafNodeType != types.NodeTypeIt:
		return nil
	case s.State == types.SpecStatePassed:
		sp.State = "passed"
	case s.State == types.SpecStateSkipped && s.Failure.Message != "":
		sp.State = "skipped"
	default:
		return nil
	}
	sp.Message = oneLine(s.Failure.Message, 300)
	sp.Artifacts = artifactsOf(s, dir)
	return sp
}

// filteredOut reports whether s is a spec the label filter left out: an
// It skipped with no reason given.
func filteredOut(s types.SpecReport) bool {
	return s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStateSkipped && s.Failure.Message == ""
}

// oneLine is msg on one line, cut at max runes: Gomega's messages spread
// one sentence ("Expected / <int>: 1 / to equal / <int>: 3") over lines.
func oneLine(msg string, max int) string {
	r := []rune(strings.Join(strings.Fields(msg), " "))
	if len(r) > max {
		return string(r[:max]) + " …"
	}
	return string(r)
}

// artifactsOf is the spec's artifact directory: its "artifacts" report
// entry, else the directory of its "capture", made relative to dir (where
// matrix.html lies) when it lies under it, so the matrix moves with it.
func artifactsOf(s types.SpecReport, dir string) string {
	var p string
	for _, e := range s.ReportEntries {
		switch e.Name {
		case "artifacts":
			p = e.StringRepresentation()
		case "capture":
			if p == "" {
				p = filepath.Dir(e.StringRepresentation())
			}
		}
	}
	if p == "" || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return p
}

// Cell returns the KS × GM cell, or nil where that pairing did not run.
func (m *Matrix) Cell(ks, gm string) *Cell {
	for _, c := range m.Cells {
		if c.KS == ks && c.GM == gm {
			return c
		}
	}
	return nil
}

// WriteMatrix writes dir/matrix.json and dir/matrix.html.
func WriteMatrix(dir string, m *Matrix) error {
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "matrix.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var h bytes.Buffer
	if err := matrixHTML.Execute(&h, m); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "matrix.html"), h.Bytes(), 0o644)
}

// leftOut says, after a pairing's counts, how many specs its label filter
// left out; "" when none.
func (c *Cell) LeftOutText() string { return c.leftOut() }

func (c *Cell) leftOut() string {
	if c.LeftOut == 0 {
		return ""
	}
	return fmt.Sprintf("  (%d left out by the label filter %s)", c.LeftOut, c.LabelFilter)
}

// printMatrix is the one-screen summary: a line per pairing, then each
// failure on one line.
func printMatrix(w io.Writer, m *Matrix, dir string) {
	fmt.Fprintf(w, "getlab interop matrix (%d pairings)\n", len(m.Cells))
	for _, c := range m.Cells {
		verdict := "PASS"
		if !c.OK() {
			verdict = "FAIL"
		}
		pair := fmt.Sprintf("KS %s × GM %s", c.KS, c.GM)
		if c.Error != "" {
			fmt.Fprintf(w, "  %-4s %-36s did not run: %s\n", verdict, pair, c.Error)
			continue
		}
		fmt.Fprintf(w, "  %-4s %-36s %3d passed %3d failed %3d skipped  %v%s\n",
			verdict, pair, c.Passed, c.Failed, c.Skipped, (time.Duration(c.Seconds * float64(time.Second))).Round(time.Second), c.leftOut())
	}
	for _, c := range m.Cells {
		for _, sc := range c.Scenarios {
			for _, s := range sc.Specs {
				if s.State == "failed" {
					fmt.Fprintf(w, "FAILED [%s × %s] %s %s: %s\n", c.KS, c.GM, sc.Name, s.Text, oneLine(s.Message, 160))
				}
			}
		}
	}
	fmt.Fprintf(w, "matrix: %s  %s\n", filepath.Join(dir, "matrix.html"), filepath.Join(dir, "matrix.json"))
	fmt.Fprintf(w, "interop: %d passed, %d failed, %d skipped\n", m.Passed, m.Failed, m.Skipped)
}

var matrixHTML = template.Must(template.New("matrix").Funcs(template.FuncMap{
	"base":   filepath.Base,
	"anchor": func(c *Cell) string { return c.KS + pairSep + c.GM },
	"secs": func(f float64) string {
		return (time.Duration(f * float64(time.Second))).Round(100 * time.Millisecond).String()
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>getlab interop matrix</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #bbb; padding: .3em .6em; vertical-align: top; text-align: left; }
th { background: #eee; }
td.cell.ok { background: #e6f4e6; } td.cell.bad { background: #fbe3e3; } td.cell.none { background: #f4f4f4; color: #777; }
.passed { color: #1a7f1a; } .failed { color: #b00020; font-weight: bold; } .skipped { color: #8a6d00; }
.counts { font-weight: bold; white-space: nowrap; }
ul.sc { margin: .3em 0 0 0; padding-left: 1.1em; font-size: 90%; }
td.msg { font-family: monospace; font-size: 90%; max-width: 60em; }
h2 { margin-top: 1.5em; } h3 { margin-bottom: .3em; font-size: 105%; }
</style></head><body>
<h1>getlab interop matrix</h1>
<p>{{len .Cells}} pairings, generated {{.Generated.Format "2006-01-02 15:04:05 UTC"}}:
<span class="passed">{{.Passed}} passed</span>, <span class="failed">{{.Failed}} failed</span>,
<span class="skipped">{{.Skipped}} skipped</span>.
Rows: the key server's implementation; columns: the group member's. A skip names what the pairing lacks.</p>
<table>
<tr><th>KS \ GM</th>{{range .GM}}<th>{{.}}</th>{{end}}</tr>
{{- $m := .}}
{{- range $ks := .KS}}
<tr><th>{{$ks}}</th>
{{- range $gm := $m.GM}}{{with $m.Cell $ks $gm}}
<td class="cell {{if .OK}}ok{{else}}bad{{end}}"><a href="#{{anchor .}}" class="counts">
{{- if .Error}}did not run{{else}}<span class="passed">{{.Passed}} passed</span> · <span class="failed">{{.Failed}} failed</span> · <span class="skipped">{{.Skipped}} skipped</span>{{end}}</a>
<ul class="sc">{{range .Scenarios}}<li>{{.Name}}: <span class="passed">{{.Passed}}</span>/<span class="failed">{{.Failed}}</span>/<span class="skipped">{{.Skipped}}</span></li>{{end}}</ul></td>
{{- else}}<td class="cell none">not run</td>{{end}}{{end}}
</tr>
{{- end}}
</table>
<p>Counts per scenario: passed/failed/skipped.</p>
{{range .Cells}}
<h2 id="{{anchor .}}">KS {{.KS}} × GM {{.GM}}</h2>
<p>{{if .Error}}<span class="failed">did not run: {{.Error}}</span>{{else}}<span class="passed">{{.Passed}} passed</span>, <span class="failed">{{.Failed}} failed</span>, <span class="skipped">{{.Skipped}} skipped</span> in {{secs .Seconds}}{{end}}{{.LeftOutText}} — <a href="{{.Report}}">report.json</a></p>
{{range .Scenarios}}
<h3>{{.Name}}{{if .Artifacts}} — <a href="{{.Artifacts}}/">artifacts</a>{{end}}</h3>
<table>
<tr><th>spec</th><th>verdict</th><th>failure / skip reason</th><th>artifacts</th></tr>
{{range .Specs}}<tr><td>{{.Text}}</td><td class="{{.State}}">{{.State}}</td><td class="msg">{{.Message}}{{if .Location}}<br>at {{.Location}}{{end}}</td><td>{{if .Artifacts}}<a href="{{.Artifacts}}/">{{base .Artifacts}}/</a>{{end}}</td></tr>
{{end}}</table>
{{end}}{{end}}
</body></html>
`))
