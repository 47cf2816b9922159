package trace

import (
	"bytes"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	cat := []Feature{
		{ID: "KS-01", Title: "one", Section: "1.1 A"},
		{ID: "RK-15", Title: "multicast rekey", Section: "3.3 B"},
		{ID: "FS-22", Title: "no multicast", Section: "9.2 C"},
		{ID: "DP-60", Title: "native multicast", Section: "5.7 D"},
	}
	specs := []Spec{
		{Name: "multicast rekeys across a routed core (FS-22) removes state", State: "passed", Labels: []string{"impair", "RK-15", "RFC6407-4.3"}},
		{Name: "a rekey that fails (RK-15)", State: "failed"},
		{Name: "a spec about RFC 8263 §3 acks", State: "skipped"},
		{Name: "DP-60 data", State: "skipped", Labels: []string{"DP-60"}},
	}
	tab := Build(cat, specs)
	got := map[string]Row{}
	for _, r := range tab.Features {
		got[r.ID] = r
	}
	for id, want := range map[string]string{"KS-01": "untested", "RK-15": "failed", "FS-22": "passed", "DP-60": "skipped"} {
		if got[id].Verdict != want {
			t.Errorf("%s: verdict %s, want %s (%+v)", id, got[id].Verdict, want, got[id].Specs)
		}
	}
	if n := len(got["RK-15"].Specs); n != 2 || got["RK-15"].Specs[0].Via != "label" || got["RK-15"].Specs[1].Via != "text" {
		t.Errorf("RK-15's specs %+v", got["RK-15"].Specs)
	}
	if n := len(got["DP-60"].Specs); n != 1 {
		t.Errorf("DP-60 named by label and text counts once: %+v", got["DP-60"].Specs)
	}
	var rfcs []string
	for _, r := range tab.RFCs {
		rfcs = append(rfcs, r.ID+"="+r.Verdict)
	}
	if strings.Join(rfcs, " ") != "RFC6407-4.3=passed RFC8263-3=skipped" {
		t.Errorf("RFC rows %v", rfcs)
	}
	if tab.Counts["untested"] != 1 || tab.Counts["passed"] != 1 || tab.Counts["failed"] != 1 || tab.Counts["skipped"] != 1 {
		t.Errorf("counts %v", tab.Counts)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, tab, "conformance"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr id="RK-15"><td>RK-15</td><td>multicast rekey</td><td class="failed">failed</td>`, `1 with no spec yet`, `<tr class="section"><td colspan="4">3.3 B</td></tr>`, `id="RFC8263-3"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestIsID(t *testing.T) {
	for _, s := range []string{"KS-40", "RK-31", "FS-100", "RFC6407", "RFC6407-4.1", "RFC8263-3"} {
		if !IsID(s) {
			t.Errorf("%s is an ID", s)
		}
	}
	for _, s := range []string{"impair", "slow", "K-40", "RFC", "RFC6407-", "rk-31"} {
		if IsID(s) {
			t.Errorf("%s is not an ID", s)
		}
	}
}

func TestRFCOrder(t *testing.T) {
	if !rfcLess("RFC6407", "RFC6407-4") || !rfcLess("RFC6407-4.1", "RFC6407-4.10") || !rfcLess("RFC6407-9", "RFC8263") {
		t.Error("order")
	}
}
