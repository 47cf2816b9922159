package html

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestChromium opens the synthetic run's pages in a real browser, headless
// Chromium from file:// as a reviewer opens a CI artifact, and reads back
// the DOM it built: the timeline rows and the SVG chart rendered, and the
// inline script run (it builds the filters and marks them ready).
func TestChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (Debian package chromium)")
	}
	f := newFixture(t)
	if _, err := Write(f.dir, f.reports, Options{}); err != nil {
		t.Fatal(err)
	}
	pagePath := filepath.Join(f.dir, "html", "2.html")
	dom := dumpDOM(t, bin, pagePath)
	if !regexp.MustCompile(`id="filters"[^>]*data-ready="1"`).MatchString(dom) {
		t.Errorf("the page's script did not build the timeline's filters")
	}
	for _, want := range []string{`data-filter="k:isakmp"`, `data-filter="k:data"`, `data-filter="w:gm1:eth1"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks the filter %s", want)
		}
	}
	// As many rows in the browser's table as the page was written with,
	// all of them shown, the failure among them.
	written := len(timelineRows(t, readPage(t, pagePath)))
	if n := strings.Count(dom[strings.Index(dom, `<table id="tl"`):], "<tr data-k="); n != written || written < 20 {
		t.Errorf("the browser's timeline has %d rows, the page %d", n, written)
	}
	if want := strings.Replace("N of N rows shown", "N", itoa(written), 2); !strings.Contains(dom, want) {
		t.Errorf("rendered page does not say %q", want)
	}
	if !strings.Contains(dom, `id="failure"`) {
		t.Errorf("rendered page has no failure row")
	}
	// The chart: a polyline per link and the failure's line.
	if !strings.Contains(dom, `<svg class="chart" id="pps"`) || strings.Count(dom, `<polyline class="series"`) != 3 || !strings.Contains(dom, `class="failmark"`) {
		t.Errorf("rendered page lacks the packets-per-second chart with a line per link and the failure")
	}

	index := dumpDOM(t, bin, filepath.Join(f.dir, "index.html"))
	if !regexp.MustCompile(`id="ifilters"[^>]*data-ready="1"`).MatchString(index) || !strings.Contains(index, "3 of 3 specs shown") {
		t.Errorf("the index's script did not build its filter")
	}
}

// dumpDOM loads path in headless Chromium and returns the DOM after its
// scripts ran.
func dumpDOM(t *testing.T, bin, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := url.URL{Scheme: "file", Path: path}
	// --no-sandbox: tests run as root, where Chromium's sandbox refuses
	// to start; a profile of its own, so that runs never share one.
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", u.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", path, err, stderr.String())
	}
	return string(out)
}
