// Package trace ties the bench's specs to what they check: the seed
// behaviours of the feature catalogue (KS-40, RK-31, FS-22, ...; the
// catalogue is ../shared/spec/seed-features.md, kept in this repository as
// catalogue.tsv) and RFC clauses (RFC6407-4.1). A spec names them as
// Ginkgo labels (suitekit.Checks) or in its text; Build lists every
// catalogue entry and every RFC clause named with its specs and their
// verdicts, and the entries no spec checks yet — the requirement → test →
// verdict table of a conformance report.
package trace

import (
	"bufio"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Feature is one catalogue entry.
type Feature struct {
	ID      string `json:"id"`      // "KS-40"
	Title   string `json:"title"`   // its heading
	Section string `json:"section"` // "3.3 Multicast rekey"
}

//go:embed catalogue.tsv
var catalogueTSV string

// Catalogue is the feature catalogue, in its order.
func Catalogue() []Feature {
	fs, err := ParseCatalogueTSV(catalogueTSV)
	if err != nil {
		panic("trace: catalogue.tsv: " + err.Error()) // checked by TestCatalogue
	}
	return fs
}

// ParseCatalogueTSV reads catalogue.tsv: ID, section and title, a tab
// between them, one entry a line.
func ParseCatalogueTSV(s string) ([]Feature, error) {
	var out []Feature
	sc := bufio.NewScanner(strings.NewReader(s))
	for line := 1; sc.Scan(); line++ {
		if sc.Text() == "" {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || !featureID.MatchString(f[0]) {
			return nil, fmt.Errorf("line %d: want ID, section and title", line)
		}
		out = append(out, Feature{ID: f[0], Section: f[1], Title: f[2]})
	}
	return out, sc.Err()
}

var (
	featureID  = regexp.MustCompile(`^[A-Z]{2}-\d{2,3}$`)
	rfcClause  = regexp.MustCompile(`^RFC\d{3,5}(-\d+(\.\d+)*)?$`)
	idInText   = regexp.MustCompile(`\b[A-Z]{2}-\d{2,3}\b`)
	rfcInText  = regexp.MustCompile(`\bRFC ?(\d{3,5})(?: (?:§|section )(\d+(?:\.\d+)*))?`)
	headingSec = regexp.MustCompile(`^#{2,3} (\d+(?:\.\d+)*\.? .*)$`)
	headingID  = regexp.MustCompile(`^#### ([A-Z]{2}-\d{2,3}) (.*)$`)
)

// ParseSeedFeatures reads the catalogue from seed-features.md: each
// "#### XX-NN Title" heading under its "## n" / "### n.m" section.
func ParseSeedFeatures(md string) []Feature {
	var out []Feature
	section := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if m := headingSec.FindStringSubmatch(t); m != nil {
			section = m[1]
			continue
		}
		if m := headingID.FindStringSubmatch(t); m != nil {
			out = append(out, Feature{ID: m[1], Title: strings.TrimSpace(m[2]), Section: section})
		}
	}
	return out
}

// CatalogueTSV writes fs as catalogue.tsv.
func CatalogueTSV(fs []Feature) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", f.ID, clean(f.Section), clean(f.Title))
	}
	return b.String()
}

func clean(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\t", " ")), " ")
}

// IsID reports whether label names a catalogue entry or an RFC clause.
func IsID(label string) bool { return featureID.MatchString(label) || rfcClause.MatchString(label) }

// Spec is one spec as the report has it.
type Spec struct {
	Name   string   `json:"name"`  // containers and leaf, joined
	State  string   `json:"state"` // passed, failed, skipped, ...
	Labels []string `json:"-"`
}

// Ref is a spec that checks an entry, and how it says so: "label"
// (suitekit.Checks) or "text" (the ID in its containers' or its own text).
type Ref struct {
	Spec  string `json:"spec"`
	State string `json:"state"`
	Via   string `json:"via"`
}

// Row is an entry of the conformance table: a catalogue feature or an RFC
// clause, its specs and its verdict.
type Row struct {
	Feature
	Specs []Ref `json:"specs"`
	// Verdict is "failed" if a spec of it failed, else "passed" if one
	// passed, else "skipped" if all skipped, else "untested".
	Verdict string `json:"verdict"`
}

// Table is the conformance table of a run.
type Table struct {
	Features []Row          `json:"features"`
	RFCs     []Row          `json:"rfcs"`
	Counts   map[string]int `json:"counts"` // features by verdict
}

// Build makes the table of specs against the catalogue.
func Build(catalogue []Feature, specs []Spec) Table {
	refs := map[string][]Ref{}
	add := func(id string, s Spec, via string) {
		for _, r := range refs[id] {
			if r.Spec == s.Name {
				return
			}
		}
		refs[id] = append(refs[id], Ref{Spec: s.Name, State: s.State, Via: via})
	}
	for _, s := range specs {
		for _, l := range s.Labels {
			if IsID(l) {
				add(l, s, "label")
			}
		}
		for _, id := range idInText.FindAllString(s.Name, -1) {
			add(id, s, "text")
		}
		for _, m := range rfcInText.FindAllStringSubmatch(s.Name, -1) {
			id := "RFC" + m[1]
			if m[2] != "" {
				id += "-" + m[2]
			}
			add(id, s, "text")
		}
	}
	t := Table{Counts: map[string]int{}}
	known := map[string]bool{}
	for _, f := range catalogue {
		known[f.ID] = true
		r := row(f, refs[f.ID])
		t.Features = append(t.Features, r)
		t.Counts[r.Verdict]++
	}
	var rfcs []string
	for id := range refs {
		if strings.HasPrefix(id, "RFC") {
			rfcs = append(rfcs, id)
		}
	}
	sort.Slice(rfcs, func(i, j int) bool { return rfcLess(rfcs[i], rfcs[j]) })
	for _, id := range rfcs {
		t.RFCs = append(t.RFCs, row(Feature{ID: id}, refs[id]))
	}
	return t
}

func row(f Feature, refs []Ref) Row {
	r := Row{Feature: f, Specs: refs, Verdict: "untested"}
	states := map[string]bool{}
	for _, x := range refs {
		states[x.State] = true
	}
	switch {
	case states["failed"] || states["panicked"] || states["timedout"] || states["interrupted"] || states["aborted"]:
		r.Verdict = "failed"
	case states["passed"]:
		r.Verdict = "passed"
	case len(refs) > 0:
		r.Verdict = "skipped"
	}
	return r
}

// rfcLess orders RFC6407 before RFC6407-4 before RFC6407-4.1 before
// RFC8263, numerically.
func rfcLess(a, b string) bool {
	num := func(s string) []int {
		var out []int
		for _, p := range strings.FieldsFunc(strings.TrimPrefix(s, "RFC"), func(r rune) bool { return r == '-' || r == '.' }) {
			var n int
			fmt.Sscan(p, &n)
			out = append(out, n)
		}
		return out
	}
	return slices.Compare(num(a), num(b)) < 0
}
