package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	htmlreport "github.com/getlab/getlab/reports/html"
)

// writeHTML writes the run's HTML report (dir/index.html and a page per
// spec under dir/html/) beside the text summary. It speaks on stderr only:
// the summary on stdout is teed into summary.txt and parsed, and must stay
// as it was. A report that cannot be written is said, not fatal: the
// summary, already printed, is the verdict.
func writeHTML(dir string, reports []types.Report) {
	res, err := htmlreport.Write(dir, reports, htmlreport.Options{Version: getvpndVersion()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "getlab report: HTML report not written: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "HTML report: %s (%d spec pages under %s)\n", res.Index, res.Pages, filepath.Join(dir, htmlreport.PagesDir))
}

// getvpndVersion is what `getvpnd --version` prints for the getvpnd built
// beside this getlab (make build puts bin/ together) or in $GETLAB_BIN;
// "" when there is none to ask.
func getvpndVersion() string {
	var cands []string
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "getvpnd"))
	}
	if d := os.Getenv("GETLAB_BIN"); d != "" {
		cands = append(cands, filepath.Join(d, "getvpnd"))
	}
	for _, c := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, c, "--version").Output()
		cancel()
		if err == nil {
			return strings.TrimSpace(string(out))
		}
	}
	return ""
}
