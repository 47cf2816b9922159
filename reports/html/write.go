// Package html writes a suite run's HTML report beside its JSON and JUnit
// reports: DIR/index.html, the run's verdict and a row per spec, failures
// first, and a page per spec, DIR/html/<n>.html, with its report entries,
// its failure, links to its artifacts and a timeline of what the lab did —
// the spec's capture decoded by the bench's own pcap package (ESP
// decrypted with the spec's key log), its daemons' events and its own
// steps, interleaved by time, the failure marked at its moment.
//
// It is made to be opened from a CI artifact with file://: one file per
// page, inline CSS, inline SVG charts, a few lines of inline script that
// only add filters, and every link relative.
package html

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/pcap"
)

// DefaultMaxRows caps a timeline: a few thousand rows read in a browser
// at once, and a page of them is still a few hundred kilobytes.
const DefaultMaxRows = 3000

// PagesDir is the folder of the spec pages under the report's directory;
// Write owns it and replaces it.
const PagesDir = "html"

// Options tune Write.
type Options struct {
	// Version is getvpnd's version as `getvpnd --version` prints it; ""
	// leaves it out.
	Version string
	// MaxRows caps each timeline (default DefaultMaxRows).
	MaxRows int
}

// Result says what Write wrote.
type Result struct {
	Index     string // path of index.html
	IndexSize int64
	Pages     int
	// Largest is the largest spec page and its size.
	Largest     string
	LargestSize int64
}

// Write writes dir/index.html and a page per spec under dir/html/ from the
// suites' reports (report.json read into reports), finding each spec's
// artifacts under dir.
func Write(dir string, reports []types.Report, opt Options) (*Result, error) {
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultMaxRows
	}
	specs, folders, c := collect(dir, reports)
	for _, f := range folders {
		if f.rel == PagesDir || strings.HasPrefix(f.rel, PagesDir+"/") {
			return nil, fmt.Errorf("html report: the artifact folder %q is where the spec pages go", f.rel)
		}
	}
	pages := filepath.Join(dir, PagesDir)
	if err := os.RemoveAll(pages); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pages, 0o755); err != nil {
		return nil, err
	}
	res := &Result{}
	wrote := func(path string, n int64) {
		res.Pages++
		if n > res.LargestSize {
			res.Largest, res.LargestSize = path, n
		}
	}
	versions := map[string]bool{}
	wsNames := map[string]bool{}
	for _, f := range folders {
		b := readBase(filepath.Join(dir, filepath.FromSlash(f.rel)))
		ws := wiresharkFor(dir, f, b.keys, wsNames)
		daemonVersions(filepath.Join(dir, filepath.FromSlash(f.rel)), versions)
		for _, s := range f.specs {
			path, n, err := writeSpec(dir, s, b, ws, opt)
			if err != nil {
				return nil, err
			}
			wrote(path, n)
		}
	}
	for _, s := range specs {
		if s.folder == nil {
			path, n, err := writeSpec(dir, s, nil, wireshark{}, opt)
			if err != nil {
				return nil, err
			}
			wrote(path, n)
		}
	}
	res.Index = filepath.Join(dir, "index.html")
	n, err := writeIndex(res.Index, reports, specs, c, opt, versions)
	if err != nil {
		return nil, err
	}
	res.IndexSize = n
	return res, nil
}

// wireshark is a folder's Wireshark profile (or the ESP SA table its
// artifacts already have), relative to the report's directory.
type wireshark struct {
	files  []link
	dir    string // the profile's folder, when Write wrote one
	tshark string // the tshark command that decrypts the capture
}

// wiresharkFor finds the folder's Wireshark key files, or writes a profile
// for it from its key log under html/wireshark/ (pcap's export), so that
// the capture opens decrypted.
func wiresharkFor(dir string, f *folder, keys *pcap.KeyLog, taken map[string]bool) wireshark {
	abs := filepath.Join(dir, filepath.FromSlash(f.rel))
	var ws wireshark
	if keys != nil && len(keys.ESP)+len(keys.IKE) > 0 {
		ws.tshark = "tshark -r capture.pcapng " + ShellQuote(keys.TsharkArgs())
	}
	for _, sub := range []string{"", "wireshark"} {
		if _, err := os.Stat(filepath.Join(abs, sub, "esp_sa")); err == nil {
			ws.files = append(ws.files, link{Href: escapePath(pathJoin(f.rel, sub, "esp_sa")), Name: pathJoin(sub, "esp_sa"), Note: "from the artifacts"})
			return ws
		}
	}
	if keys == nil || len(keys.ESP)+len(keys.IKE) == 0 {
		return ws
	}
	name := artifactName(f.rel)
	for i := 2; taken[name]; i++ {
		name = artifactName(f.rel) + "-" + strconv.Itoa(i)
	}
	taken[name] = true
	rel := PagesDir + "/wireshark/" + name
	if err := keys.WriteWireshark(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
		return ws
	}
	ws.dir = rel
	for _, n := range []string{"esp_sa", "ikev1_decryption_table", "preferences", "decode_as_entries"} {
		ws.files = append(ws.files, link{Href: escapePath(rel + "/" + n), Name: n})
	}
	return ws
}

// daemonVersions adds the versions the folder's daemons reported in their
// status (gdoi.json: "role", "version").
func daemonVersions(dir string, into map[string]bool) {
	ms, _ := filepath.Glob(filepath.Join(dir, "*", "gdoi.json"))
	for _, m := range ms {
		raw, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var st struct{ Role, Version string }
		if json.Unmarshal(raw, &st) == nil && st.Version != "" {
			into[st.Role+" "+st.Version] = true
		}
	}
}

func writeSpec(dir string, s *spec, b *base, ws wireshark, opt Options) (string, int64, error) {
	var rows []*row
	if b != nil {
		rows = append(rows, b.rows...)
	}
	rows = append(rows, specRows(s)...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].T.Before(rows[j].T) })
	var t0 time.Time
	if len(rows) > 0 {
		t0 = rows[0].T
	}
	focus := s.r.StartTime
	if s.r.Failure.Message != "" || s.failed {
		focus = s.failureTime()
	}
	total := len(rows)
	rows, cutN := capRows(rows, opt.MaxRows, focus)
	d := pageData{
		Title:      s.leaf(),
		N:          s.n,
		Suite:      s.suite,
		Containers: s.r.ContainerHierarchyTexts,
		Leaf:       s.leaf(),
		State:      s.state,
		Failed:     s.failed,
		Duration:   s.r.RunTime.Round(time.Millisecond).String(),
		Labels:     s.r.Labels(),
		Location:   s.r.LeafNodeLocation.String(),
		Impls:      s.impls,
		Rows:       viewRows(rows, t0, s.r.StartTime, s.r.EndTime),
		RowsTotal:  total,
		RowsCut:    cutN,
		MaxRows:    opt.MaxRows,
		Failure:    failureOf(s, t0),
		Entries:    entryViews(s.r, t0),
		Generated:  time.Now().UTC().Format(time.DateTime),
	}
	if !s.r.StartTime.IsZero() {
		d.Start = s.r.StartTime.UTC().Format(time.DateTime + " MST")
	}
	if s.folder != nil {
		d.Folder = "../" + escapePath(s.folder.rel) + "/"
		d.FolderName = s.folder.rel
		d.Top, d.Nodes = artifactLinks(dir, s.folder.rel, "../")
		for _, o := range s.folder.specs {
			d.Shared = append(d.Shared, sharedSpec{Href: itoa(o.n) + ".html", Text: o.leaf(), State: o.state, This: o == s})
		}
		if len(d.Shared) == 1 {
			d.Shared = nil
		}
	} else if s.recorded != "" {
		d.Recorded = s.recorded
	}
	for _, f := range ws.files {
		f.Href = "../" + f.Href
		d.Wireshark = append(d.Wireshark, f)
	}
	if ws.dir != "" {
		d.WiresharkTo = ws.dir
	}
	d.Tshark = ws.tshark
	if b != nil {
		d.Packets = b.packets
		d.Notes = b.notes
		d.Chatter = b.chatter
		m := marks{specFrom: s.r.StartTime, specTo: s.r.EndTime, pushes: b.pushes}
		if s.failed {
			m.hasFailure, m.failure, m.failureLabel = true, s.failureTime(), "failure"
		}
		d.Chart, d.Legend = linkChart(b, m)
		d.Probes = probeCharts(b, m)
		if b.packets > 0 {
			d.Bucket = newAxis(b.first, b.last).bucket.String()
			switch {
			case m.hasFailure && m.failure.After(b.last):
				d.ChartNote = fmt.Sprintf("The failure came %s s after the capture's last frame: the spec judged what had been captured.", seconds(m.failure.Sub(b.last)))
			case !s.r.StartTime.IsZero() && s.r.StartTime.After(b.last):
				d.ChartNote = "This spec ran after the capture ended: it judged what the scenario had captured."
			}
		}
	}
	out := s.r.CapturedGinkgoWriterOutput
	if s.r.CapturedStdOutErr != "" {
		out += "\n--- stdout/stderr ---\n" + s.r.CapturedStdOutErr
	}
	if len(out) > 64<<10 {
		out = out[:64<<10] + "\n… (cut at 64 KB; report.json has it all)"
	}
	d.Output = out
	var buf bytes.Buffer
	if err := specTmpl.Execute(&buf, d); err != nil {
		return "", 0, fmt.Errorf("html report: spec %d: %w", s.n, err)
	}
	path := filepath.Join(dir, filepath.FromSlash(s.page()))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", 0, err
	}
	return path, int64(buf.Len()), nil
}

// indexData is what the index template prints.
type indexData struct {
	Failed    bool
	Counts    counts
	Run       int
	Start     string
	Took      string
	Suites    []suiteView
	Impls     []implView
	Version   string
	Daemons   string
	Specs     []specRow
	Generated string
	// Others are the run's other reports beside index.html (the
	// traceability table, JUnit, JSON), linked where they exist.
	Others []link
}

type suiteView struct {
	Name                     string
	OK                       bool
	Passed, Failed, Skipped  int
	Took                     string
	SpecialFailure, Location string
}

type implView struct {
	Text  string
	Specs int
}

type specRow struct {
	N                                  int
	Page, Suite, Containers, Leaf      string
	Labels                             []string
	State, Duration, Message, Location string
	Failed                             bool
	Folder, FolderName, Recorded       string
}

func writeIndex(path string, reports []types.Report, specs []*spec, c counts, opt Options, versions map[string]bool) (int64, error) {
	d := indexData{Counts: c, Run: c.Passed + c.Failed + c.Skipped, Version: opt.Version, Generated: time.Now().UTC().Format(time.DateTime + " MST")}
	var took time.Duration
	for i, r := range reports {
		if i == 0 {
			d.Start = r.StartTime.UTC().Format(time.DateTime + " MST")
		}
		took += r.RunTime
		sv := suiteView{Name: r.SuiteDescription, OK: r.SuiteSucceeded, Took: r.RunTime.Round(time.Millisecond).String()}
		for _, s := range r.SpecReports {
			switch {
			case s.LeafNodeType != types.NodeTypeIt:
				if s.State.Is(types.SpecStateFailureStates) {
					sv.Failed++
				}
			case s.State == types.SpecStatePassed:
				sv.Passed++
			case s.State.Is(types.SpecStateFailureStates):
				sv.Failed++
			case s.State == types.SpecStateSkipped && s.Failure.Message != "":
				sv.Skipped++
			}
		}
		if !r.SuiteSucceeded && len(r.SpecialSuiteFailureReasons) > 0 {
			sv.SpecialFailure = strings.Join(r.SpecialSuiteFailureReasons, "; ")
		}
		if !r.SuiteSucceeded {
			d.Failed = true
		}
		d.Suites = append(d.Suites, sv)
	}
	if c.Failed > 0 {
		d.Failed = true
	}
	d.Took = took.Round(time.Millisecond).String()
	for _, o := range []link{{Href: "conformance.html", Name: "seed behaviours and RFC clauses"}, {Href: "summary.txt", Name: "summary.txt"},
		{Href: "junit.xml", Name: "junit.xml"}, {Href: "report.json", Name: "report.json"},
		{Href: "docker/index.html", Name: "the docker runtime's report"}, {Href: "interop/matrix.html", Name: "the interop matrix"}} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), o.Href)); err == nil {
			d.Others = append(d.Others, o)
		}
	}
	count := map[string]int{}
	var order []string
	for _, s := range specs {
		if s.impls == "" {
			continue
		}
		if count[s.impls] == 0 {
			order = append(order, s.impls)
		}
		count[s.impls]++
	}
	for _, t := range order {
		d.Impls = append(d.Impls, implView{Text: t, Specs: count[t]})
	}
	d.Daemons = strings.Join(sortedKeys(versions), ", ")
	for _, s := range sortForIndex(specs) {
		sr := specRow{N: s.n, Page: s.page(), Suite: s.suite, Containers: strings.Join(s.r.ContainerHierarchyTexts, " › "),
			Leaf: s.leaf(), Labels: s.r.Labels(), State: s.state, Failed: s.failed,
			Duration: s.r.RunTime.Round(time.Millisecond).String(), Message: cut(oneLine(s.r.Failure.Message), 240)}
		if s.r.Failure.Message != "" {
			sr.Location = s.r.Failure.Location.String()
		}
		if s.folder != nil {
			// "./": a folder name with a colon is not a URL scheme.
			sr.Folder, sr.FolderName = "./"+escapePath(s.folder.rel)+"/", s.folder.rel
		} else {
			sr.Recorded = s.recorded
		}
		d.Specs = append(d.Specs, sr)
	}
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, d); err != nil {
		return 0, fmt.Errorf("html report: index: %w", err)
	}
	return int64(buf.Len()), os.WriteFile(path, buf.Bytes(), 0o644)
}

// escapePath escapes each element of a slash-separated relative path for
// an href: artifact folders are named after spec texts, spaces included.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func pathJoin(elems ...string) string {
	var kept []string
	for _, e := range elems {
		if e != "" {
			kept = append(kept, e)
		}
	}
	return strings.Join(kept, "/")
}

func itoa(n int) string { return strconv.Itoa(n) }

// ShellQuote quotes the arguments a shell would split, glob or expand,
// for a command line a person copies (the tshark command that decrypts a
// capture).
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'*[]()$`\\;&|<>") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
