package suitekit

import (
	"fmt"

	"github.com/getlab/getlab/reports/trace"
	. "github.com/onsi/ginkgo/v2"
)

// Checks labels a container or spec with what it checks: feature
// catalogue IDs ("RK-15") and RFC clauses ("RFC6407-4.3"). The conformance
// table (conformance.html and .json beside the report) lists each with
// its specs and verdicts, and `LABELS=RK-15` runs them. A malformed ID
// panics when the tree is built: a typo must not drop a spec from the
// table silently.
func Checks(ids ...string) Labels {
	for _, id := range ids {
		if !trace.IsID(id) {
			panic(fmt.Sprintf("suitekit.Checks: %q is neither a catalogue ID (KS-40) nor an RFC clause (RFC6407-4.3)", id))
		}
	}
	return Label(ids...)
}
