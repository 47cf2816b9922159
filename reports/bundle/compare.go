package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// SimilarAt is the similarity (Similarity) from which two failure
// messages count as the same failure's: numbers, addresses, lab IDs and
// paths of a run are masked first, so what is left is the words of the
// assertion.
const SimilarAt = 0.6

// Verdict is how a replay's run of a bundle's spec compares with the
// bundle's failure.
type Verdict struct {
	// Reproduced: the spec failed at the bundle's failure location with a
	// similar message.
	Reproduced bool
	// Found: the replay's report has the spec.
	Found bool
	State string // the spec's state in the replay
	// Location and Message are the replay's failure.
	Location     string
	Message      string
	NodeType     string
	SameLocation bool
	Similarity   float64
	// Why is the verdict in one sentence.
	Why string
}

// Compare finds man's spec in a replay's reports and compares its
// failure with man's.
func Compare(man Manifest, reports []types.Report) Verdict {
	var v Verdict
	var got types.SpecReport
	var suitePath string
	for _, r := range reports {
		if r.SuiteDescription != man.Spec.Suite {
			continue
		}
		for _, s := range r.SpecReports {
			if s.FullText() != man.Spec.FullText {
				continue
			}
			// A failed setup node has no text of its own: it is found by
			// its failing.
			if man.Spec.FullText == "" && !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
			if !v.Found || s.State.Is(types.SpecStateFailureStates) {
				got, suitePath, v.Found = s, r.SuitePath, true
			}
		}
	}
	if !v.Found {
		v.Why = "the replay's report has no spec " + quoteSpec(man) + " (did the focus select it?)"
		return v
	}
	v.State = got.State.String()
	if man.Spec.Failure == nil {
		v.Why = "the bundle holds no failure to compare with"
		return v
	}
	if !got.State.Is(types.SpecStateFailureStates) {
		switch got.State {
		case types.SpecStateSkipped:
			msg, _, _ := strings.Cut(strings.TrimSpace(got.Failure.Message), "\n")
			if msg == "" {
				msg = "not run"
			}
			v.Why = "the spec was skipped: " + msg
		default:
			v.Why = "the spec " + v.State + ": the failure did not reproduce"
		}
		return v
	}
	root := moduleRoot(suitePath, got.LeafNodeLocation.FileName)
	v.Location = relLocation(root, got.Failure.Location)
	v.Message = got.Failure.Message
	v.NodeType = got.Failure.FailureNodeType.String()
	v.SameLocation = v.Location == man.Spec.Failure.Location
	v.Similarity = Similarity(man.Spec.Failure.Message, got.Failure.Message)
	switch {
	case v.SameLocation && v.Similarity >= SimilarAt:
		v.Reproduced = true
		v.Why = fmt.Sprintf("failed the same way: at %s, the message %.0f %% alike", v.Location, 100*v.Similarity)
	case v.SameLocation:
		v.Why = fmt.Sprintf("failed at the same location %s, but with another message (%.0f %% alike)", v.Location, 100*v.Similarity)
	default:
		v.Why = fmt.Sprintf("failed elsewhere: at %s, not %s", v.Location, man.Spec.Failure.Location)
	}
	return v
}

func quoteSpec(man Manifest) string {
	if man.Spec.FullText == "" {
		return "(a setup node of " + man.Spec.Suite + ")"
	}
	return fmt.Sprintf("%q", man.Spec.FullText)
}

var (
	maskLab    = regexp.MustCompile(`getlab-[0-9a-f]{6}`)
	maskPath   = regexp.MustCompile(`(/tmp|/var/tmp|/run|/proc)/\S*`)
	maskHex    = regexp.MustCompile(`\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b`)
	maskNumber = regexp.MustCompile(`[0-9]+([.:][0-9]+)*`)
	words      = regexp.MustCompile(`[\p{L}_#]+|[^\s\p{L}\p{N}_#]`)
)

// Similarity is how alike two failure messages are, from 0 to 1: the
// Jaccard index of their words once what differs from run to run —
// numbers, addresses, durations, hex values, lab IDs, temporary paths —
// is masked. Identical messages and messages differing only in such
// values are 1.
func Similarity(a, b string) float64 {
	ta, tb := tokens(a), tokens(b)
	if len(ta) == 0 && len(tb) == 0 {
		return 1
	}
	inter := 0
	for t := range ta {
		if tb[t] {
			inter++
		}
	}
	return float64(inter) / float64(len(ta)+len(tb)-inter)
}

func tokens(s string) map[string]bool {
	if len(s) > 8192 {
		s = s[:8192]
	}
	s = maskLab.ReplaceAllString(s, "#lab")
	s = maskPath.ReplaceAllString(s, "#path")
	s = maskHex.ReplaceAllString(s, "#hex")
	s = maskNumber.ReplaceAllString(s, "#")
	out := map[string]bool{}
	for _, w := range words.FindAllString(strings.ToLower(s), -1) {
		out[w] = true
	}
	return out
}
