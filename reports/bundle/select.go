package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	htmlreport "github.com/getlab/getlab/reports/html"
)

// Target is a spec chosen for a bundle, with its run.
type Target struct {
	// Dir is the run's report directory (report.json and the artifact
	// folders under it).
	Dir string
	// Suite is the spec's suite report (every spec of it).
	Suite types.Report
	// Spec is the spec and its artifact folder, as the HTML report finds
	// it.
	Spec htmlreport.SpecFolder
	// Before are the specs of its Ordered container that ran before it,
	// in order.
	Before []types.SpecReport
}

// ReadReport reads a Ginkgo JSON report: path is report.json or the
// folder holding it.
func ReadReport(path string) (dir string, reports []types.Report, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	if err := json.Unmarshal(b, &reports); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return filepath.Dir(path), reports, nil
}

// Failed lists the failed specs of a run (failed setup nodes included),
// in the order of the run.
func Failed(dir string, reports []types.Report) []Target {
	var out []Target
	for _, sf := range htmlreport.SpecFolders(dir, reports) {
		if sf.Report.State.Is(types.SpecStateFailureStates) {
			out = append(out, target(dir, reports, sf))
		}
	}
	return out
}

// FindSpec chooses the spec named by name: its full text (with or
// without the suite's description before it), else the specs whose full
// text contains name. Of several, the one that failed; more than one
// failed, or none of several did, is an error listing them.
func FindSpec(dir string, reports []types.Report, name string) (Target, error) {
	all := htmlreport.SpecFolders(dir, reports)
	var exact, partial []htmlreport.SpecFolder
	for _, sf := range all {
		full := sf.Report.FullText()
		switch {
		case full == name || sf.Suite+" "+full == name:
			exact = append(exact, sf)
		case strings.Contains(sf.Suite+" "+full, name):
			partial = append(partial, sf)
		}
	}
	cands := exact
	if len(cands) == 0 {
		cands = partial
	}
	sf, err := pick(cands, fmt.Sprintf("spec %q", name))
	if err != nil {
		return Target{}, err
	}
	return target(dir, reports, sf), nil
}

// FindFolder chooses the spec whose artifact folder is folder: the one
// that failed, or of an Ordered container's folder where none did, the
// last to run.
func FindFolder(dir string, reports []types.Report, folder string) (Target, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return Target{}, err
	}
	absFolder, err := filepath.Abs(folder)
	if err != nil {
		return Target{}, err
	}
	rel, err := filepath.Rel(absDir, absFolder)
	if err != nil || strings.HasPrefix(rel, "..") {
		return Target{}, fmt.Errorf("%s is not under the run's folder %s", folder, dir)
	}
	rel = filepath.ToSlash(rel)
	var cands []htmlreport.SpecFolder
	for _, sf := range htmlreport.SpecFolders(dir, reports) {
		if sf.Folder == rel {
			cands = append(cands, sf)
		}
	}
	if len(cands) == 0 {
		return Target{}, fmt.Errorf("no spec of %s has its artifacts in %s", filepath.Join(dir, "report.json"), folder)
	}
	var failed []htmlreport.SpecFolder
	for _, c := range cands {
		if c.Report.State.Is(types.SpecStateFailureStates) {
			failed = append(failed, c)
		}
	}
	sf := cands[len(cands)-1]
	if len(failed) > 0 {
		// An Ordered container stops at its first failure: the first is
		// the one to replay.
		sf = failed[0]
	}
	return target(dir, reports, sf), nil
}

// FindReport looks for the report.json of the run an artifact folder
// belongs to: in the folder's parent and the two above it.
func FindReport(folder string) (string, error) {
	d, err := filepath.Abs(folder)
	if err != nil {
		return "", err
	}
	for range 3 {
		d = filepath.Dir(d)
		p := filepath.Join(d, "report.json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no report.json above %s: name it with --report", folder)
}

func pick(cands []htmlreport.SpecFolder, what string) (htmlreport.SpecFolder, error) {
	if len(cands) == 1 {
		return cands[0], nil
	}
	if len(cands) == 0 {
		return htmlreport.SpecFolder{}, errors.New("no " + what + " in the report")
	}
	var failed []htmlreport.SpecFolder
	for _, c := range cands {
		if c.Report.State.Is(types.SpecStateFailureStates) {
			failed = append(failed, c)
		}
	}
	if len(failed) == 1 {
		return failed[0], nil
	}
	list := cands
	if len(failed) > 1 {
		list = failed
	}
	var names []string
	for _, c := range list {
		names = append(names, fmt.Sprintf("  %s [%s]", c.Report.FullText(), c.Report.State))
	}
	return htmlreport.SpecFolder{}, fmt.Errorf("%s matches %d specs; name one:\n%s", what, len(list), strings.Join(names, "\n"))
}

// target finds the suite and the Ordered predecessors of sf.
func target(dir string, reports []types.Report, sf htmlreport.SpecFolder) Target {
	t := Target{Dir: dir, Spec: sf}
	for _, r := range reports {
		if r.SuiteDescription != sf.Suite {
			continue
		}
		for _, s := range r.SpecReports {
			if sameSpec(s, sf.Report) {
				t.Suite = r
			}
		}
	}
	s := sf.Report
	if !s.IsInOrderedContainer || s.LeafNodeType != types.NodeTypeIt {
		return t
	}
	for _, o := range t.Suite.SpecReports {
		if o.LeafNodeType != types.NodeTypeIt || !o.IsInOrderedContainer || sameSpec(o, s) ||
			o.LeafNodeLocation.FileName != s.LeafNodeLocation.FileName ||
			strings.Join(o.ContainerHierarchyTexts, "\x00") != strings.Join(s.ContainerHierarchyTexts, "\x00") ||
			!o.StartTime.Before(s.StartTime) {
			continue
		}
		// Only what ran: a spec the label filter left out, or skipped
		// after a failure, did nothing the spec could depend on.
		if o.State == types.SpecStatePending || (o.State == types.SpecStateSkipped && o.Failure.Message == "") {
			continue
		}
		t.Before = append(t.Before, o)
	}
	sort.SliceStable(t.Before, func(i, j int) bool { return t.Before[i].StartTime.Before(t.Before[j].StartTime) })
	return t
}

func sameSpec(a, b types.SpecReport) bool {
	return a.FullText() == b.FullText() && a.LeafNodeType == b.LeafNodeType &&
		a.LeafNodeLocation.FileName == b.LeafNodeLocation.FileName && a.LeafNodeLocation.LineNumber == b.LeafNodeLocation.LineNumber &&
		a.StartTime.Equal(b.StartTime)
}

// FocusOf is the --focus regexp matching spec s of suite alone: Ginkgo
// matches a focus against the suite's description and the spec's texts
// joined by spaces.
func FocusOf(suite string, s types.SpecReport) string {
	return "^" + regexp.QuoteMeta(suite+" "+s.FullText()) + "$"
}

// replayFocus matches the spec and the ones before it in its container.
func replayFocus(suite string, s types.SpecReport, before []types.SpecReport) string {
	if len(before) == 0 {
		return FocusOf(suite, s)
	}
	alts := make([]string, 0, len(before)+1)
	for _, b := range append(append([]types.SpecReport(nil), before...), s) {
		alts = append(alts, regexp.QuoteMeta(suite+" "+b.FullText()))
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}
