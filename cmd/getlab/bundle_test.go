package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// Flags after the spec's name are flags, as a user types them.
func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	out := fs.String("o", "", "")
	failed := fs.Bool("failed", false, "")
	pos, err := parseInterspersed(fs, []string{"lets host-a reach host-b", "-o", "x.tar.gz", "--failed", "--", "-not-a-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if *out != "x.tar.gz" || !*failed || !slices.Equal(pos, []string{"lets host-a reach host-b", "-not-a-flag"}) {
		t.Errorf("o %q failed %t pos %q", *out, *failed, pos)
	}
}

// A replay runs with the bundle's environment, never with the GETLAB_
// variables of the shell it is started from: a GETLAB_FAIL_SPEC left set
// there would fail a spec the bundle's run did not.
func TestReplayEnv(t *testing.T) {
	base := []string{"PATH=/usr/bin", "GETLAB_FAIL_SPEC=other", "GETLAB_KS=mine", "GETLAB_KEEP=1", "GETLAB_LABS=/srv/labs"}
	env := replayEnv(base, map[string]string{"GETLAB_KS": "getvpnd-wire", "GETLAB_GM": "getvpnd"}, map[string]string{"GETLAB_REPORTS": "/r"})
	want := []string{"PATH=/usr/bin", "GETLAB_LABS=/srv/labs", "GETLAB_KS=getvpnd-wire", "GETLAB_GM=getvpnd", "GETLAB_REPORTS=/r"}
	slices.Sort(env)
	slices.Sort(want)
	if !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
}

func TestQuoteArgs(t *testing.T) {
	got := strings.Join(quoteArgs([]string{"tool", "ginkgo", "--focus=^smoke a: b$", "./suites/smoke"}), " ")
	if got != `tool ginkgo --focus='^smoke a: b$' ./suites/smoke` {
		t.Errorf("%s", got)
	}
}
