package html

import "github.com/onsi/ginkgo/v2/types"

// SpecFolder is a spec of a run with the artifact folder the HTML report
// links it to: what `getlab bundle` packs for a failed spec.
type SpecFolder struct {
	Suite  string // the suite's description (its RunSpecs name)
	Report types.SpecReport
	// Folder is the spec's artifact folder relative to the report's
	// directory, slash-separated; "" when none exists there.
	Folder string
	// Recorded is the folder the report names (an absolute path of the
	// machine that ran it), "" when it names none.
	Recorded string
	// Implementations is the "implementations" report entry: its own,
	// or its Ordered container's.
	Implementations string
}

// SpecFolders lists the specs of reports as the HTML report shows them —
// every spec that ran and every failed setup node, in the order of the
// run — each with its artifact folder under dir, found as the report
// finds it: the spec's "artifacts" entry, else its "capture" entry's
// folder, else its Ordered container's, else the folder named after its
// full text (suitekit.ArtifactDir).
func SpecFolders(dir string, reports []types.Report) []SpecFolder {
	specs, _, _ := collect(dir, reports)
	out := make([]SpecFolder, 0, len(specs))
	for _, s := range specs {
		f := SpecFolder{Suite: s.suite, Report: s.r, Recorded: s.recorded, Implementations: s.impls}
		if s.folder != nil {
			f.Folder = s.folder.rel
		}
		out = append(out, f)
	}
	return out
}

// ArtifactName is the folder name suitekit.ArtifactDir gives a spec of
// full text fullText: the text made file-safe, at most 120 octets.
func ArtifactName(fullText string) string { return artifactName(fullText) }
