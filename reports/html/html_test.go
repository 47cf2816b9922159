package html

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/pcap/handbuilt"
)

// trow is a timeline row read back from a page.
type trow struct {
	kind, id string
	cells    []string
}

var rowRE = regexp.MustCompile(`<tr data-k="([a-z]+)"([^>]*)>(.*?)</tr>`)
var idRE = regexp.MustCompile(`id="([^"]+)"`)

// timelineRows reads the rows of a page's timeline table.
func timelineRows(t *testing.T, page string) []trow {
	t.Helper()
	i := strings.Index(page, `<table id="tl"`)
	if i < 0 {
		t.Fatalf("page has no timeline table")
	}
	var out []trow
	for _, m := range rowRE.FindAllStringSubmatch(page[i:], -1) {
		r := trow{kind: m[1]}
		if id := idRE.FindStringSubmatch(m[2]); id != nil {
			r.id = id[1]
		}
		cells := strings.Split(m[3], "<td>")[1:]
		for _, c := range cells {
			r.cells = append(r.cells, strings.TrimSuffix(c, "</td>"))
		}
		out = append(out, r)
	}
	return out
}

func readPage(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWrite(t *testing.T) {
	f := newFixture(t)
	res, err := Write(f.dir, f.reports, Options{Version: "getvpnd v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 3 {
		t.Errorf("%d spec pages, want 3 (the spec the label filter left out has none)", res.Pages)
	}
	index := readPage(t, filepath.Join(f.dir, "index.html"))
	for _, want := range []string{
		"getlab conformance: FAILED", "<b>1</b> passed", "<b>1</b> failed", "<b>1</b> skipped", "1 not selected by the label filter",
		"KS getvpnd, GM getvpnd, timer scale 0.1", "getvpnd v1.2.3", "gm v9.9.9",
		`href="./scenario%20one/"`, "a scenario ›", "synthetic_test.go:33",
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// Failures first, then the skip, then what passed.
	failedAt, skippedAt, passedAt := strings.Index(index, `href="html/2.html"`), strings.Index(index, `href="html/3.html"`), strings.Index(index, `href="html/1.html"`)
	if failedAt < 0 || skippedAt < 0 || passedAt < 0 || !(failedAt < skippedAt && skippedAt < passedAt) {
		t.Errorf("index rows not failures first: failed at %d, skipped at %d, passed at %d", failedAt, skippedAt, passedAt)
	}

	page := readPage(t, filepath.Join(f.dir, "html", "2.html"))
	rows := timelineRows(t, page)
	// Every hand-built GDOI message is a row of its own.
	isakmp := 0
	for _, r := range rows {
		if r.kind == kindISAKMP {
			isakmp++
		}
	}
	if n := len(handbuilt.Messages()); isakmp != n {
		t.Errorf("%d ISAKMP rows, want one per message: %d", isakmp, n)
	}
	for _, want := range []string{"MAIN-MODE #1 192.0.2.11→192.0.2.1", "GROUPKEY-PULL #1", "GROUPKEY-PUSH #1"} {
		if !hasRow(rows, kindISAKMP, want) {
			t.Errorf("no ISAKMP row %q", want)
		}
	}
	if !hasDetail(rows, kindISAKMP, "SEQ ") {
		t.Errorf("no ISAKMP row gives its SEQ")
	}
	// The ESP probes, 1.5 s of them, in a row per second or so, decrypted.
	espRE := regexp.MustCompile(`^ESP 198\.51\.100\.10→203\.0\.113\.10 spi 0x00001234 ×(\d+)$`)
	espRows, espPackets := 0, 0
	for _, r := range rows {
		if m := espRE.FindStringSubmatch(r.cells[3]); r.kind == kindData && r.cells[2] == "gm1:eth1" && m != nil {
			espRows++
			n, _ := strconv.Atoi(m[1])
			espPackets += n
			if !strings.Contains(r.cells[4], "all decrypted") || !strings.Contains(r.cells[4], "probes 0xabcd0001") {
				t.Errorf("ESP row not decrypted to the probes: %q", r.cells[4])
			}
		}
	}
	if espRows < 2 || espRows > 3 || espPackets != fixtureProbes {
		t.Errorf("ESP in %d rows holding %d packets, want 2 or 3 rows holding %d", espRows, espPackets, fixtureProbes)
	}
	if !hasRow(rows, kindBad, "MALFORMED ESP") {
		t.Errorf("no row for the truncated ESP frame")
	}
	if hasRow(rows, kindData, "ARP") {
		t.Errorf("ARP has a row; it belongs in the chart only")
	}
	// The node's events, and the log lines that are not events.
	if !hasRow(rows, kindEvent, "GM_REGS_COMPL") || !hasDetail(rows, kindLog, "rekey: nothing from the KS") {
		t.Errorf("events or log lines missing from the timeline")
	}
	if n := countRows(rows, kindEvent, "GM_REGSTER"); n != 1 {
		t.Errorf("GM_REGSTER on %d rows, want 1 (events.json, not again from the log)", n)
	}
	// The spec's own steps.
	if !hasRow(rows, kindStep, "spec starts") || !hasRow(rows, kindStep, "spec ends: failed") {
		t.Errorf("the spec's start and end are not on the timeline")
	}
	// The failure, highlighted, at its moment.
	fi := -1
	for i, r := range rows {
		if r.id == "failure" {
			fi = i
		}
	}
	if fi < 0 {
		t.Fatalf("no failure row")
	}
	fr := rows[fi]
	if fr.kind != kindFail || fr.cells[0] != failAt.Format("15:04:05.000000") || !strings.Contains(fr.cells[3], "synthetic_test.go:33") {
		t.Errorf("failure row %+v, want kind fail at %s naming the location", fr, failAt.Format("15:04:05.000000"))
	}
	before, after := rowTime(t, rows[fi-1]), rowTime(t, rows[fi+1])
	if before.After(failAt) || after.Before(failAt) {
		t.Errorf("failure row not at its time: between %s and %s", before, after)
	}
	for _, want := range []string{
		`class="failbox"`, "Expected\n    &lt;int&gt;: 10", // the message as Gomega wrote it
		`<svg class="chart" id="pps"`, `class="failmark"`, // the chart with the failure's moment
		`data-link="gm1:eth1"`, `data-link="gm1:eth2"`, `data-link="gm2:eth2"`,
		"300 seen on gm1:eth2, 10 of them never on gm2:eth2",              // probe loss from the capture
		"implementations</dt><dd>KS getvpnd, GM getvpnd, timer scale 0.1", // inherited in the Ordered container
		`href="1.html"`, // the scenario's other spec
		"html/wireshark/scenario_one/esp_sa", "tshark -r capture.pcapng",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page 2 lacks %q", want)
		}
	}
	esp, err := os.ReadFile(filepath.Join(f.dir, "html", "wireshark", "scenario_one", "esp_sa"))
	if err != nil || !strings.Contains(string(esp), `"0x00001234"`) {
		t.Errorf("esp_sa for Wireshark: %q, %v", esp, err)
	}
	skipped := readPage(t, filepath.Join(f.dir, "html", "3.html"))
	if !strings.Contains(skipped, "no Docker engine answers") || !strings.Contains(skipped, "left no artifact folder") {
		t.Errorf("the skipped spec's page lacks its reason or the note that it has no artifacts")
	}
	checkLinks(t, f.dir)
}

// checkLinks follows every link of every page: relative, and to a file
// that exists. Nothing is fetched from elsewhere.
func checkLinks(t *testing.T, dir string) {
	t.Helper()
	pages, _ := filepath.Glob(filepath.Join(dir, "html", "*.html"))
	pages = append(pages, filepath.Join(dir, "index.html"))
	ref := regexp.MustCompile(`(?:href|src)="([^"]*)"`)
	n := 0
	for _, p := range pages {
		s := readPage(t, p)
		if strings.Contains(s, "<link") || strings.Contains(s, "<script src") || strings.Contains(s, "@import") || strings.Contains(s, "url(") {
			t.Errorf("%s loads something from outside the page", p)
		}
		for _, m := range ref.FindAllStringSubmatch(s, -1) {
			h, _, _ := strings.Cut(m[1], "#")
			if h == "" {
				continue
			}
			u, err := url.Parse(h)
			if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(h, "/") {
				t.Errorf("%s: link %q is not relative", p, m[1])
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), filepath.FromSlash(u.Path))); err != nil {
				t.Errorf("%s: link %q: %v", p, m[1], err)
			}
			n++
		}
	}
	if n < 20 {
		t.Errorf("only %d links followed", n)
	}
}

func hasRow(rows []trow, kind, what string) bool { return countRows(rows, kind, what) > 0 }

func countRows(rows []trow, kind, what string) int {
	n := 0
	for _, r := range rows {
		if r.kind == kind && strings.Contains(r.cells[3], what) {
			n++
		}
	}
	return n
}

func hasDetail(rows []trow, kind, detail string) bool {
	for _, r := range rows {
		if r.kind == kind && strings.Contains(r.cells[4], detail) {
			return true
		}
	}
	return false
}

func rowTime(t *testing.T, r trow) time.Time {
	t.Helper()
	tod, err := time.Parse("15:04:05.000000", r.cells[0])
	if err != nil {
		t.Fatalf("row time %q: %v", r.cells[0], err)
	}
	return time.Date(t0.Year(), t0.Month(), t0.Day(), tod.Hour(), tod.Minute(), tod.Second(), tod.Nanosecond(), time.UTC)
}

// TestCap: a timeline over its cap keeps the spec's own rows, the first
// rows and those around the failure, and says what it left out.
func TestCap(t *testing.T) {
	f := newFixture(t)
	if _, err := Write(f.dir, f.reports, Options{MaxRows: 12}); err != nil {
		t.Fatal(err)
	}
	page := readPage(t, filepath.Join(f.dir, "html", "2.html"))
	rows := timelineRows(t, page)
	others, cuts, failure := 0, 0, false
	for _, r := range rows {
		switch r.kind {
		case kindCut:
			cuts++
			if !strings.Contains(r.cells[3], "rows cut here") {
				t.Errorf("cut row %q", r.cells[3])
			}
		case kindStep:
		case kindFail:
			failure = failure || r.id == "failure"
		default:
			others++
		}
	}
	if others != 12 || cuts < 1 || !failure {
		t.Errorf("%d rows kept, %d cut rows, failure row %v: want 12 kept, the cuts said, the failure kept", others, cuts, failure)
	}
	if !strings.Contains(page, "The timeline is cut at 12 rows") {
		t.Errorf("page does not say the timeline was cut")
	}
	// The rows kept around the failure: the failure's neighbours are not
	// cut rows.
	for i, r := range rows {
		if r.id == "failure" && (rows[i-1].kind == kindCut && rows[i+1].kind == kindCut) {
			t.Errorf("nothing kept around the failure")
		}
	}
}

// TestResolveFolder: a report read where it was not written (a CI
// artifact) finds its folders by their last path elements, and never
// outside its directory.
func TestResolveFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "interop", "a__b", "spec x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"/ci/reports/out/interop/a__b/spec x": "interop/a__b/spec x",
		"interop/a__b/spec x":                 "interop/a__b/spec x",
		filepath.Join(dir, "interop"):         "interop",
		"/ci/reports/out/missing":             "",
		filepath.Dir(dir):                     "",
		"":                                    "",
	} {
		if got := resolveFolder(dir, p); got != want {
			t.Errorf("resolveFolder(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestFlood: a flood of ISAKMP messages gets the first of each window a
// row each and the rest one row that counts them, whether it comes from
// spoofed sources or is a fuzzer's every exchange type.
func TestFlood(t *testing.T) {
	ks := netip.MustParseAddr("192.0.2.1")
	var pkts []pcap.Packet
	for i := 0; i < 1000; i++ { // half-open main modes from 1000 sources in 0.5 s
		src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		pkts = append(pkts, pcap.Packet{Index: i + 1, Time: t0.Add(time.Duration(i) * 500 * time.Microsecond), Link: "ks1:eth1",
			Src: src, Dst: ks, Proto: "ISAKMP", ISAKMP: &pcap.ISAKMPInfo{Exchange: "MAIN-MODE", Type: 2, Message: 1}})
	}
	for i := 0; i < 300; i++ { // a fuzzer's 300 exchange types, a second later
		pkts = append(pkts, pcap.Packet{Index: 1001 + i, Time: t0.Add(2*time.Second + time.Duration(i)*time.Millisecond), Link: "ks1:eth1",
			Src: netip.MustParseAddr("192.0.2.66"), Dst: ks, Proto: "ISAKMP", ISAKMP: &pcap.ISAKMPInfo{Exchange: "EXCHANGE-" + itoa(i), Type: uint8(i), Message: 1}})
	}
	b := &base{perLink: map[string][]time.Time{}}
	b.addPackets(pkts)
	var single, folded []string
	for _, r := range b.rows {
		if strings.HasPrefix(r.What, "more ") {
			folded = append(folded, r.What)
		} else {
			single = append(single, r.What)
		}
	}
	want := []string{"more MAIN-MODE #1 ×950 950 sources→192.0.2.1", "more ISAKMP messages and malformed frames ×100 192.0.2.66→192.0.2.1"}
	if len(single) != linkBurst+linkAllBurst || strings.Join(folded, "|") != strings.Join(want, "|") {
		t.Errorf("%d rows of their own (want %d), folded %q (want %q)", len(single), linkBurst+linkAllBurst, folded, want)
	}
}
