package html

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// specRows are the spec's own steps on the timeline: its start and end,
// its nodes (BeforeAll, It, ...), its By steps, its report entries and its
// failure. None of them is ever cut.
func specRows(s *spec) []*row {
	r := s.r
	var rows []*row
	add := func(t time.Time, kind, what, detail string) *row {
		if t.IsZero() {
			return nil
		}
		x := &row{T: t, Kind: kind, Where: "spec", What: what, Detail: detail, prio: true}
		rows = append(rows, x)
		return x
	}
	add(r.StartTime, kindStep, "spec starts", r.FullText())
	for _, e := range r.SpecEvents {
		t := e.TimelineLocation.Time
		switch e.SpecEventType {
		case types.SpecEventByStart:
			add(t, kindStep, "By: "+e.Message, e.CodeLocation.String())
		case types.SpecEventByEnd:
			add(t, kindStep, fmt.Sprintf("By ends after %v: %s", e.Duration.Round(time.Millisecond), e.Message), "")
		case types.SpecEventNodeStart:
			add(t, kindStep, e.NodeType.String()+" starts", strings.TrimSpace(e.Message+" "+e.CodeLocation.String()))
		case types.SpecEventNodeEnd:
			add(t, kindStep, fmt.Sprintf("%s ends after %v", e.NodeType, e.Duration.Round(time.Millisecond)), e.Message)
		case types.SpecEventSpecRepeat, types.SpecEventSpecRetry:
			add(t, kindStep, fmt.Sprintf("%s, attempt %d", e.SpecEventType, e.Attempt), "")
		}
	}
	for _, e := range r.ReportEntries {
		add(e.Time, kindStep, "report entry: "+e.Name, cut(oneLine(e.StringRepresentation()), 300))
	}
	for _, pr := range r.ProgressReports {
		add(pr.TimelineLocation.Time, kindStep, "progress report", cut(oneLine(pr.Message+" in "+pr.CurrentNodeType.String()+" "+pr.CurrentNodeText+" "+pr.CurrentStepText), 300))
	}
	if r.Failure.Message != "" || s.failed {
		what := "FAILED"
		if !s.failed {
			what = "SKIPPED"
		}
		if x := add(s.failureTime(), kindFail, fmt.Sprintf("%s (%s) at %s", what, s.state, r.Failure.Location), cut(oneLine(r.Failure.Message), 400)); x != nil {
			x.ID = "failure"
			x.Hot = true
		}
		if af := r.Failure.AdditionalFailure; af != nil {
			if x := add(af.Failure.TimelineLocation.Time, kindFail, fmt.Sprintf("then %s at %s", af.State, af.Failure.Location), cut(oneLine(af.Failure.Message), 400)); x != nil {
				x.Hot = true
			}
		}
	}
	add(r.EndTime, kindStep, fmt.Sprintf("spec ends: %s after %v", s.state, r.RunTime.Round(time.Millisecond)), "")
	return rows
}

// capRows keeps every prio row and at most max others: the first third
// from the start, the rest around focus (the failure, else the spec's
// start) — what a reviewer scrolls to. Each run of rows left out becomes
// one row that says what it held.
func capRows(rows []*row, max int, focus time.Time) (out []*row, cutN int) {
	var others []int
	for i, r := range rows {
		if !r.prio {
			others = append(others, i)
		}
	}
	if len(others) <= max {
		return rows, 0
	}
	keep := make([]bool, len(rows))
	for i, r := range rows {
		keep[i] = r.prio
	}
	head := max / 3
	for _, i := range others[:head] {
		keep[i] = true
	}
	rest := max - head
	f := sort.Search(len(others), func(k int) bool { return !rows[others[k]].T.Before(focus) })
	lo := f - rest/2
	if lo < head {
		lo = head
	}
	hi := lo + rest
	if hi > len(others) {
		hi = len(others)
		lo = hi - rest
	}
	for _, i := range others[lo:hi] {
		keep[i] = true
	}
	var gap []*row
	flush := func() {
		if len(gap) == 0 {
			return
		}
		byKind := map[string]int{}
		for _, r := range gap {
			byKind[r.Kind]++
		}
		var parts []string
		for _, k := range sortedKeys(byKind) {
			parts = append(parts, fmt.Sprintf("%d %s", byKind[k], kindNoun(k)))
		}
		out = append(out, &row{T: gap[0].T, Kind: kindCut, Where: "",
			What:   fmt.Sprintf("… %d rows cut here", len(gap)),
			Detail: fmt.Sprintf("%s to %s: %s (the capture and the node logs have them all)", clock(gap[0].T), clock(gap[len(gap)-1].T), strings.Join(parts, ", "))})
		cutN += len(gap)
		gap = nil
	}
	for i, r := range rows {
		if keep[i] {
			flush()
			out = append(out, r)
		} else {
			gap = append(gap, r)
		}
	}
	flush()
	return out, cutN
}

func kindNoun(k string) string {
	switch k {
	case kindISAKMP:
		return "ISAKMP rows"
	case kindData:
		return "packet runs"
	case kindBad:
		return "malformed-frame rows"
	case kindEvent:
		return "events"
	case kindLog:
		return "log lines"
	}
	return k + " rows"
}

// rowView is a row as the template prints it.
type rowView struct {
	Class, K, W, Abs, Rel, What, Detail, ID string
}

func viewRows(rows []*row, t0 time.Time, from, to time.Time) []rowView {
	out := make([]rowView, 0, len(rows))
	for _, r := range rows {
		var cls []string
		if r.Hot {
			cls = append(cls, "hot")
		}
		if !from.IsZero() && !r.T.Before(from) && !r.T.After(to) {
			cls = append(cls, "in")
		}
		out = append(out, rowView{Class: strings.Join(cls, " "), K: r.Kind, W: r.Where, Abs: r.T.UTC().Format("15:04:05.000000"),
			Rel: seconds(r.T.Sub(t0)), What: r.What, Detail: r.Detail, ID: r.ID})
	}
	return out
}

// link is an artifact the page links to.
type link struct {
	Href, Name, Note string
}

// nodeFiles is a node's folder: its logs and state snapshots.
type nodeFiles struct {
	Node  string
	Files []link
}

// artifactLinks lists a folder's files: the capture and key log first,
// then each node's logs and snapshots. prefix leads from the page to the
// report's directory ("../").
func artifactLinks(dir, rel, prefix string) (top []link, nodes []nodeFiles) {
	abs := filepath.Join(dir, filepath.FromSlash(rel))
	ents, err := os.ReadDir(abs)
	if err != nil {
		return nil, nil
	}
	first := map[string]int{"capture.pcapng": 0, "keys.log": 1, "esp_sa": 2, "lab.json": 3}
	for _, e := range ents {
		if e.IsDir() {
			nf := nodeFiles{Node: e.Name()}
			sub, _ := os.ReadDir(filepath.Join(abs, e.Name()))
			for _, f := range sub {
				if f.IsDir() {
					continue
				}
				nf.Files = append(nf.Files, link{Href: prefix + escapePath(rel+"/"+e.Name()+"/"+f.Name()), Name: f.Name(), Note: size(f)})
			}
			sort.SliceStable(nf.Files, func(i, j int) bool { return fileRank(nf.Files[i].Name) < fileRank(nf.Files[j].Name) })
			nodes = append(nodes, nf)
			continue
		}
		top = append(top, link{Href: prefix + escapePath(rel+"/"+e.Name()), Name: e.Name(), Note: size(e)})
	}
	sort.SliceStable(top, func(i, j int) bool {
		ri, oki := first[top[i].Name]
		rj, okj := first[top[j].Name]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return top[i].Name < top[j].Name
	})
	return top, nodes
}

// fileRank puts a node's log first, then its state, then the rest.
func fileRank(name string) int {
	switch {
	case strings.HasSuffix(name, ".log"):
		return 0
	case name == "state.txt":
		return 1
	}
	return 2
}

func size(e os.DirEntry) string {
	info, err := e.Info()
	if err != nil {
		return ""
	}
	n := info.Size()
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// entryView is a report entry on a spec's page.
type entryView struct {
	Abs, Rel, Name, Value, Location string
	Multi                           bool
}

func entryViews(r types.SpecReport, t0 time.Time) []entryView {
	var out []entryView
	for _, e := range r.ReportEntries {
		v := e.StringRepresentation()
		out = append(out, entryView{Abs: clock(e.Time), Rel: "+" + seconds(e.Time.Sub(t0)), Name: e.Name, Value: v,
			Location: e.Location.String(), Multi: strings.Contains(v, "\n") || len(v) > 160})
	}
	return out
}

// pageData is what the spec page template prints.
type pageData struct {
	Title       string
	N           int
	Suite       string
	Containers  []string
	Leaf        string
	State       string
	Failed      bool
	Duration    string
	Labels      []string
	Location    string
	Impls       string
	Start       string
	Folder      string // href of the artifact folder ("" none)
	FolderName  string
	Recorded    string // the artifact path the report names, when not found
	Shared      []sharedSpec
	Failure     *failureView
	Top         []link
	Nodes       []nodeFiles
	Wireshark   []link
	WiresharkTo string
	Tshark      string
	Entries     []entryView
	Chart       template.HTML
	Legend      []legendItem
	Bucket      string
	Probes      []probeChart
	ChartNote   string
	Rows        []rowView
	RowsTotal   int
	RowsCut     int
	MaxRows     int
	Packets     int
	Chatter     int
	Notes       []string
	Output      string
	Generated   string
}

type sharedSpec struct {
	Href, Text, State string
	This              bool
}

type failureView struct {
	What, Message, Location, Node, At, Stack string
	Additional                               string
	Progress                                 string
}

func failureOf(s *spec, t0 time.Time) *failureView {
	f := s.r.Failure
	if f.Message == "" && !s.failed {
		return nil
	}
	fv := &failureView{What: strings.ToUpper(s.state), Message: f.Message, Location: f.Location.String(), Stack: f.Location.FullStackTrace}
	if t := s.failureTime(); !t.IsZero() {
		fv.At = fmt.Sprintf("%s (+%s s on the timeline)", clock(t), seconds(t.Sub(t0)))
	}
	if f.ForwardedPanic != "" {
		fv.Message = "panic: " + f.ForwardedPanic + "\n" + fv.Message
	}
	if f.FailureNodeType != types.NodeTypeInvalid && f.FailureNodeType != types.NodeTypeIt {
		fv.Node = fmt.Sprintf("in %s at %s", f.FailureNodeType, f.FailureNodeLocation)
	}
	if af := f.AdditionalFailure; af != nil {
		fv.Additional = fmt.Sprintf("then %s at %s:\n%s", af.State, af.Failure.Location, af.Failure.Message)
	}
	if pr := f.ProgressReport; !pr.IsZero() {
		fv.Progress = fmt.Sprintf("in %s %q at %s", pr.CurrentNodeType, pr.CurrentNodeText, pr.CurrentNodeLocation)
		if pr.CurrentStepText != "" {
			fv.Progress += fmt.Sprintf(", step %q at %s", pr.CurrentStepText, pr.CurrentStepLocation)
		}
	}
	return fv
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + " …"
	}
	return s
}
