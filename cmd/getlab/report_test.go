package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func TestSummarize(t *testing.T) {
	spec := func(text string, state types.SpecState) types.SpecReport {
		return types.SpecReport{
			LeafNodeType:            types.NodeTypeIt,
			LeafNodeText:            text,
			ContainerHierarchyTexts: []string{"basic"},
			State:                   state,
		}
	}
	skipped := spec("needs docker", types.SpecStateSkipped)
	skipped.Failure.Message = "no Docker engine answers"
	failed := spec("reaches host-b", types.SpecStateFailed)
	failed.Failure = types.Failure{Message: "Expected 0 to equal 3\nmore", Location: types.CodeLocation{FileName: "smoke_test.go", LineNumber: 42}}
	failed.ReportEntries = types.ReportEntries{{Name: "artifacts", Value: types.WrapEntryValue("reports/out/x")}}
	reports := []types.Report{{
		SuiteDescription: "smoke",
		RunTime:          1500 * time.Millisecond,
		SpecReports: types.SpecReports{
			spec("comes up", types.SpecStatePassed),
			failed,
			skipped,
			spec("other label", types.SpecStateSkipped),
			{LeafNodeType: types.NodeTypeBeforeAll, State: types.SpecStatePassed},
		},
	}}
	var out bytes.Buffer
	if err := summarize(&out, reports, "reports/out"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"FAIL smoke", "1 passed", "1 failed", "1 skipped",
		"FAILED basic reaches host-b", "SKIPPED basic needs docker: no Docker engine answers", "1 not selected", "smoke_test.go:42", "Expected 0 to equal 3", "artifacts: reports/out/x",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "more") {
		t.Errorf("summary prints more than the failure's first line:\n%s", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if last := lines[len(lines)-1]; last != "conformance: 1 passed, 1 failed, 1 skipped" {
		t.Errorf("last line %q", last)
	}
	if err := summarize(&out, nil, "x"); err == nil {
		t.Errorf("a run with no suite must be an error")
	}
}
