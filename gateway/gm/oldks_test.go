package gm_test

import (
	"strings"
	"testing"
	"time"
)

// runBoth moves the lab's clock to each deadline of the GM and the KS in
// turn, for d: the GM's steps first at a common time (a GM deletes a KEK at
// its expiry before the KS's rekey at that expiry reaches it).
func (l *lab) runBoth(d time.Duration) {
	l.t.Helper()
	end := l.now().Add(d)
	for range 10000 {
		next := l.ks.Deadline()
		if g := l.gm.Deadline(); !g.IsZero() && g.Before(next) {
			next = g
		}
		if next.After(end) {
			break
		}
		l.clkMu.Lock()
		l.clk = next
		l.clkMu.Unlock()
		if g := l.gm.Deadline(); !g.IsZero() && !g.After(next) {
			l.gm.Timeout(next)
			l.settle()
		}
		l.ks.Timeout(next)
		l.settle()
	}
	l.clkMu.Lock()
	l.clk = end
	l.clkMu.Unlock()
}

// TestGMWithAnOldKS: a KS of old sends the KEK rekey only at the KEK's
// expiry (rekey.kek_at_expiry). The GM re-registers 190 to 40 s before the
// expiry as with any KS, gets the same KEK back with less than 190 s left,
// takes the KS for an old one, deletes the KEK at its expiry
// (GM_DELETE_EXPIRED_KEK), so that the KS's rekey then finds it without
// it, and registers again within 80 s after it: two registrations per KEK
// lifetime (S0 §3.6.6.3, GM-86).
func TestGMWithAnOldKS(t *testing.T) {
	kyaml := strings.Replace(ksYAML, "rekey: {transport: unicast,", "rekey: {transport: unicast, kek_at_expiry: true,", 1)
	var log strings.Builder
	l := startLab(t, 1, kyaml, gmYAML, true, "rfc", &log)
	l.wait("registration", func(st snap) bool { return st.State == "registered" })
	start := l.now()
	first := l.status().KEK
	var regs []float64 // protocol seconds after the start
	seen := 1
	for range 1700 {
		l.runBoth(time.Second)
		if n := int(l.gm.GDOI().Groups[0].GM.Registrations); n > seen {
			seen = n
			regs = append(regs, l.now().Sub(start).Seconds())
		}
	}
	if len(regs) != 2 {
		t.Fatalf("registrations after the first at %v s, want two in the KEK's 1,500 s", regs)
	}
	if regs[0] < 1310 || regs[0] > 1460 {
		t.Errorf("first re-registration at %.0f s, want 190 to 40 s before the KEK's expiry (1,310-1,460 s)", regs[0])
	}
	if regs[1] <= 1500 || regs[1] > 1581 {
		t.Errorf("second re-registration at %.0f s, want within 80 s after the expiry", regs[1])
	}
	// Logged at both: the first re-registration is GM-85's (no KEK rekey
	// 200 s ahead), the second GM-86's at the expiry.
	if n := strings.Count(log.String(), "GM_DELETE_EXPIRED_KEK"); n != 2 {
		t.Errorf("GM_DELETE_EXPIRED_KEK logged %d times, want twice", n)
	}
	if l.counter("rekey_unknown_kek") == 0 {
		t.Error("the KS's KEK rekey at the expiry was not sent, or the GM still held the KEK")
	}
	if st := l.status(); st.KEK == first || st.KEK == "" {
		t.Errorf("KEK %s after the cycle, want a new one (was %s)", st.KEK, first)
	}
}
