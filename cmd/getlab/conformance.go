package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/reports/trace"
)

// writeConformance writes conformance.json and conformance.html into dir:
// every entry of the feature catalogue and every RFC clause the specs
// name, with the specs that check it and their verdicts in this run, and
// the entries no spec checks yet.
func writeConformance(dir string, reports []types.Report) (trace.Table, error) {
	var specs []trace.Spec
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			name := strings.Join(append(append([]string{r.SuiteDescription}, s.ContainerHierarchyTexts...), s.LeafNodeText), " › ")
			specs = append(specs, trace.Spec{Name: name, State: s.State.String(), Labels: s.Labels()})
		}
	}
	t := trace.Build(trace.Catalogue(), specs)
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return t, err
	}
	if err := os.WriteFile(filepath.Join(dir, "conformance.json"), b, 0o644); err != nil {
		return t, err
	}
	var h bytes.Buffer
	if err := trace.WriteHTML(&h, t, "getlab conformance: seed behaviours and RFC clauses"); err != nil {
		return t, err
	}
	return t, os.WriteFile(filepath.Join(dir, "conformance.html"), h.Bytes(), 0o644)
}
