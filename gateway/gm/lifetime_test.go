package gm_test

import (
	"strings"
	"testing"
	"time"
)

// gdoidYAML is a KS with gdoid's lifetimes: KEK_KEY_LIFETIME 25 s, TEKs of
// 60 s, both far below the GM's re-registration leads.
var gdoidYAML = strings.Replace(strings.Replace(ksYAML, "tek_lifetime: 900", "tek_lifetime: 60", 1), "kek_lifetime: 1500", "kek_lifetime: 25", 1)

// TestReregistrationSanityWithTinyLifetimes: on the test's clock, the GM
// schedules its re-registration at half the remaining lifetime, never
// sooner, and never within a retry interval (10 s) of the attempt before.
func TestReregistrationSanityWithTinyLifetimes(t *testing.T) {
	l := newLabWith(t, 1, gdoidYAML, true, "rfc")
	in := func() (float64, string) {
		g := l.gm.GDOI().Groups[0].GM
		if g.ReregisterIn == nil {
			t.Fatal("no re-registration scheduled")
		}
		return *g.ReregisterIn, g.ReregisterFor
	}
	// KEK 25 s: 25 - (40..190 s) is in the past; half of 25 s instead.
	if s, what := in(); s != 12.5 || what != "kek" {
		t.Fatalf("re-registration in %v s for the %s, want 12.5 s for the KEK", s, what)
	}
	// 20 s later 5 s of the KEK are left: half of it is 2.5 s, but the
	// attempt that got it started just now, so not before 10 s.
	l.clkMu.Lock()
	l.clk = l.clk.Add(20 * time.Second)
	l.clkMu.Unlock()
	l.gm.ReregisterNow("GETVPN")
	l.wait("re-registration", func(snap) bool { return l.gm.GDOI().Groups[0].GM.Registrations == 2 })
	if s, _ := in(); s != 10 {
		t.Fatalf("re-registration in %v s, want the retry interval (10 s)", s)
	}
	if n := l.counter("reregistration_clamped"); n != 2 {
		t.Fatalf("reregistration_clamped %d, want 2", n)
	}
}
