package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// TestReportWritesHTML: `getlab report DIR` writes DIR/index.html and a
// page per spec beside its text summary.
func TestReportWritesHTML(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	reports := []types.Report{{
		SuiteDescription: "smoke", SuiteSucceeded: true, StartTime: start, RunTime: time.Second,
		SpecReports: types.SpecReports{{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "comes up", ContainerHierarchyTexts: []string{"basic"},
			State: types.SpecStatePassed, StartTime: start, EndTime: start.Add(time.Second), RunTime: time.Second,
		}},
	}}
	b, err := json.Marshal(reports)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmdReport([]string{dir}); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), "getlab conformance: PASSED") || !strings.Contains(string(index), `href="html/1.html"`) {
		t.Errorf("index.html lacks the verdict or the spec's row")
	}
	if _, err := os.Stat(filepath.Join(dir, "html", "1.html")); err != nil {
		t.Errorf("no spec page: %v", err)
	}
}
