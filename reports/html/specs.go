package html

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// spec is one row of the index and one page: a spec (an It) of a suite, or
// a setup or teardown node that failed (a BeforeSuite), which has no It to
// blame.
type spec struct {
	n      int // page number, from 1 in the order of the run
	suite  string
	r      types.SpecReport
	state  string // Ginkgo's name of the state: passed, failed, skipped, panicked, ...
	failed bool
	// folder is the spec's artifact folder, nil when it has none that
	// exists under the report's directory.
	folder *folder
	// recorded is the artifact path the report names, shown when it could
	// not be found under the report's directory.
	recorded string
	impls    string // the "implementations" report entry
}

// leaf is the spec's own text: the It's, or the node type of a setup node.
func (s *spec) leaf() string {
	if s.r.LeafNodeType == types.NodeTypeIt {
		return s.r.LeafNodeText
	}
	t := "[" + s.r.LeafNodeType.String() + "]"
	if s.r.LeafNodeText != "" {
		t += " " + s.r.LeafNodeText
	}
	return t
}

func (s *spec) page() string { return "html/" + itoa(s.n) + ".html" }

// rank orders the index: failures first, then skips and pending specs,
// which a reviewer also wants to see, then the passed ones.
func (s *spec) rank() int {
	switch {
	case s.failed:
		return 0
	case s.state == "skipped":
		return 1
	case s.state == "pending":
		return 2
	}
	return 3
}

// failureTime is when the spec failed or was skipped: Ginkgo's timeline
// time of the failure, else the spec's end.
func (s *spec) failureTime() time.Time {
	if t := s.r.Failure.TimelineLocation.Time; !t.IsZero() {
		return t
	}
	return s.r.EndTime
}

// folder is an artifact folder: a scenario's capture, key log, and a
// folder per node. The specs of an Ordered container share one.
type folder struct {
	rel   string // under the report's directory, slash-separated
	specs []*spec
}

// counts are the run's verdict, counted as `getlab report` counts them.
type counts struct {
	Passed, Failed, Skipped, Pending, Unselected int
}

// collect turns the suites' reports into specs, numbered in the order of
// the run, and finds each one's artifact folder under dir.
func collect(dir string, reports []types.Report) ([]*spec, []*folder, counts) {
	var specs []*spec
	var c counts
	for _, r := range reports {
		for _, sr := range r.SpecReports {
			s := &spec{suite: r.SuiteDescription, r: sr, state: sr.State.String(), failed: sr.State.Is(types.SpecStateFailureStates)}
			if sr.LeafNodeType != types.NodeTypeIt {
				// Setup and teardown nodes are reported on their own;
				// only a failed one is news (the summary counts it).
				if !s.failed {
					continue
				}
				c.Failed++
			} else {
				switch {
				case sr.State == types.SpecStatePassed:
					c.Passed++
				case s.failed:
					c.Failed++
				case sr.State == types.SpecStatePending:
					c.Pending++
				case sr.State == types.SpecStateSkipped && sr.Failure.Message == "":
					// Left out by the label filter: counted, not listed.
					c.Unselected++
					continue
				default:
					c.Skipped++
				}
			}
			s.n = len(specs) + 1
			specs = append(specs, s)
		}
	}
	// A spec's own entries first; the specs of an Ordered container after
	// the one that set the scenario up carry none, and share its folder
	// and implementations.
	type shared struct{ artifacts, impls string }
	groups := map[string]*shared{}
	for _, s := range specs {
		s.recorded, s.impls = entriesOf(s.r)
		if !s.r.IsInOrderedContainer {
			continue
		}
		k := groupKey(s)
		g := groups[k]
		if g == nil {
			g = &shared{}
			groups[k] = g
		}
		if g.artifacts == "" {
			g.artifacts = s.recorded
		}
		if g.impls == "" {
			g.impls = s.impls
		}
	}
	folders := map[string]*folder{}
	var order []*folder
	for _, s := range specs {
		if g := groups[groupKey(s)]; s.r.IsInOrderedContainer && g != nil {
			if s.recorded == "" {
				s.recorded = g.artifacts
			}
			if s.impls == "" {
				s.impls = g.impls
			}
		}
		rel := resolveFolder(dir, s.recorded)
		if rel == "" && s.recorded == "" {
			// No entry: the folder suitekit.ArtifactDir would have made.
			rel = resolveFolder(dir, artifactName(s.r.FullText()))
		}
		if rel == "" {
			continue
		}
		f := folders[rel]
		if f == nil {
			f = &folder{rel: rel}
			folders[rel] = f
			order = append(order, f)
		}
		f.specs = append(f.specs, s)
		s.folder = f
	}
	return specs, order, c
}

func groupKey(s *spec) string {
	return s.suite + "\x00" + s.r.LeafNodeLocation.FileName + "\x00" + strings.Join(s.r.ContainerHierarchyTexts, "\x00")
}

// entriesOf reads the artifact folder (the "artifacts" entry, else the
// "capture" entry's folder, as `getlab matrix` does) and the
// implementations under test from a spec's report entries.
func entriesOf(r types.SpecReport) (artifacts, impls string) {
	var capture string
	for _, e := range r.ReportEntries {
		switch e.Name {
		case "artifacts":
			artifacts = e.StringRepresentation()
		case "capture":
			capture = filepath.Dir(e.StringRepresentation())
		case "implementations":
			impls = e.StringRepresentation()
		}
	}
	if artifacts == "" {
		artifacts = capture
	}
	return artifacts, impls
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// artifactName is the folder name suitekit.ArtifactDir gives a spec.
func artifactName(fullText string) string {
	name := strings.Trim(unsafeName.ReplaceAllString(fullText, "_"), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	return name
}

// resolveFolder finds the folder p names under dir and returns it relative
// to dir ("" when there is none). The report records absolute paths of
// the machine that ran the suites; a report copied or unpacked elsewhere
// (a CI artifact) has the same folder under dir by its last elements.
func resolveFolder(dir, p string) string {
	if p == "" {
		return ""
	}
	var cands []string
	if filepath.IsAbs(p) {
		cands = append(cands, p)
	} else {
		cands = append(cands, filepath.Join(dir, p))
	}
	parts := strings.Split(filepath.ToSlash(filepath.Clean(p)), "/")
	for k := min(4, len(parts)); k >= 1; k-- {
		cands = append(cands, filepath.Join(dir, filepath.FromSlash(path.Join(parts[len(parts)-k:]...))))
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for _, c := range cands {
		st, err := os.Stat(c)
		if err != nil || !st.IsDir() {
			continue
		}
		abs, err := filepath.Abs(c)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(absDir, abs)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		return filepath.ToSlash(rel)
	}
	return ""
}

// sortForIndex orders specs failures first, keeping the run's order
// within each rank.
func sortForIndex(specs []*spec) []*spec {
	out := append([]*spec(nil), specs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank() < out[j].rank() })
	return out
}
