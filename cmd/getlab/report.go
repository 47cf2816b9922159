package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// cmdReport prints a one-screen summary of a Ginkgo JSON report: per suite
// the counts, then each failure with its location, message and artifacts;
// then the HTML report beside it (htmlreport.go).
func cmdReport(args []string) error {
	path := filepath.Join("reports", "out")
	if len(args) > 0 {
		path = args[0]
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := summarize(os.Stdout, reports, filepath.Dir(path)); err != nil {
		return err
	}
	// The traceability table beside the report (the summary's text stays
	// as it is: scripts read it).
	_, err = writeConformance(filepath.Dir(path), reports)
	// The HTML report last, so that its index links the table above.
	writeHTML(filepath.Dir(path), reports)
	return err
}

func summarize(w io.Writer, reports []types.Report, dir string) error {
	if len(reports) == 0 {
		return errors.New(filepath.Join(dir, "report.json") + ": no suite ran")
	}
	var total struct{ passed, failed, skipped, pending, unselected int }
	var failures, skips []types.SpecReport
	var took time.Duration
	fmt.Fprintf(w, "getlab conformance report (%s)\n", reports[0].StartTime.Format(time.DateTime))
	for _, r := range reports {
		var passed, failed, skipped, pending, unselected int
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				if s.State.Is(types.SpecStateFailureStates) {
					failures = append(failures, s)
					failed++
				}
				continue
			}
			switch {
			case s.State == types.SpecStatePassed:
				passed++
			case s.State.Is(types.SpecStateFailureStates):
				failed++
				failures = append(failures, s)
			case s.State == types.SpecStatePending:
				pending++
			case s.State == types.SpecStateSkipped && s.Failure.Message == "":
				// Left out by the label filter or a focus, not skipped.
				unselected++
			default:
				skipped++
				skips = append(skips, s)
			}
		}
		took += r.RunTime
		total.passed += passed
		total.failed += failed
		total.skipped += skipped
		total.pending += pending
		total.unselected += unselected
		verdict := "PASS"
		if !r.SuiteSucceeded {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  %-4s %-28s %3d passed %3d failed %3d skipped  %v\n",
			verdict, r.SuiteDescription, passed, failed, skipped, r.RunTime.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "%d specs run in %v, %d pending, %d not selected by the label filter\n",
		total.passed+total.failed+total.skipped, took.Round(time.Millisecond), total.pending, total.unselected)
	for _, s := range skips {
		reason, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
		fmt.Fprintf(w, "SKIPPED %s: %s\n", s.FullText(), reason)
	}
	for _, s := range failures {
		msg, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
		fmt.Fprintf(w, "\nFAILED %s\n  at %s\n  %s\n", s.FullText(), s.Failure.Location, msg)
		for _, e := range s.ReportEntries {
			if e.Name == "artifacts" {
				fmt.Fprintf(w, "  artifacts: %s\n", e.StringRepresentation())
			}
		}
	}
	fmt.Fprintf(w, "\nJUnit: %s  JSON: %s  artifacts: %s/<spec>/\n",
		filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json"), dir)
	// Last, alone on its line, in the form CI runners read.
	fmt.Fprintf(w, "conformance: %d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped)
	return nil
}
