package gm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/internal/syncbuf"
)

// waitFor waits up to 5 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
	}
}

// A GM whose pre-shared key the KS does not share fails phase 1: it
// counts and logs the failure, stays unregistered and holds no SA.
func TestWrongKeyFailsPhase1(t *testing.T) {
	log := &syncbuf.Buffer{}
	l := startLab(t, 1, ksYAML, strings.Replace(gmYAML, "key: lab-secret", "key: not-the-secret", 1), false, "rfc", log)
	waitFor(t, "a failed registration", func() bool { return l.counter("registration_failures") > 0 })
	if st := l.gm.GDOI().Groups[0].GM; st.State == "registered" || st.LastError == "" {
		t.Errorf("GM state %s, last error %q", st.State, st.LastError)
	}
	if l.counter("ike_failed") == 0 && !strings.Contains(log.String(), "REG_FAILED") {
		t.Errorf("no phase-1 failure counted or logged: %v\n%s", l.gm.Counters(), log)
	}
	if sas := l.gm.IKESAs(); len(sas) != 0 {
		t.Errorf("phase-1 SAs after a failed main mode: %+v", sas)
	}
}

// A group the KS does not serve: the KS refuses the PULL with an
// encrypted notification, which the GM reads on its phase-1 SA, logs with
// the notification's text and counts as a failed registration.
func TestRefusedRegistrationSaysWhy(t *testing.T) {
	log := &syncbuf.Buffer{}
	l := startLab(t, 1, ksYAML, strings.Replace(gmYAML, "    id: 1234\n", "    id: 999\n", 1), false, "rfc", log)
	waitFor(t, "a refused registration", func() bool { return strings.Contains(log.String(), "refused the registration") })
	st := l.gm.GDOI().Groups[0].GM
	if st.State == "registered" || !strings.Contains(st.LastError, "INVALID-ID-INFORMATION") {
		t.Errorf("GM state %s, last error %q", st.State, st.LastError)
	}
	// The phase-1 SA stays, with the state an operator knows.
	sas := l.gm.IKESAs()
	if len(sas) != 1 || sas[0].State != "GDOI_IDLE" || sas[0].Peer != testnet.KS(1).String() {
		t.Errorf("phase-1 SAs %+v, want one GDOI_IDLE SA with %s", sas, testnet.KS(1))
	}
	if ms := l.gm.Members(); len(ms) != 0 {
		t.Errorf("a GM lists members: %+v", ms)
	}
}

// runGM moves the lab's clock from the GM's deadline to deadline (at most
// by d) and runs its Timeout at each, letting the network settle.
func (l *lab) runGM(d time.Duration) {
	end := l.now().Add(d)
	for range 1000 {
		next := l.gm.Deadline()
		if next.IsZero() || next.After(end) {
			break
		}
		l.clkMu.Lock()
		l.clk = next
		l.clkMu.Unlock()
		l.gm.Timeout(next)
		l.settle()
	}
	l.clkMu.Lock()
	l.clk = end
	l.clkMu.Unlock()
}

// A GM with ike.keepalive probes its KS: each R-U-THERE answered while
// the KS answers; when it stops, the GM deletes the SA at interval + 5 ×
// retry (the keys it holds stay: DPD is about the phase-1 SA only).
func TestKeepaliveToKS(t *testing.T) {
	log := &syncbuf.Buffer{}
	gy := strings.Replace(gmYAML, "ike:\n", "ike:\n  keepalive: {interval: 15s}\n", 1)
	l := startLab(t, 1, ksYAML, gy, true, "rfc", log)
	l.wait("registration", func(st snap) bool { return st.State == "registered" })
	l.runGM(50 * time.Second)
	if l.counter("dpd_sent") != 3 || l.counter("dpd_acked") != 3 || l.ks.Counters()["dpd_answered"] != 3 {
		t.Fatalf("GM counters %v, KS counters %v", l.gm.Counters(), l.ks.Counters())
	}
	if sas := l.gm.IKESAs(); len(sas) != 1 || !sas[0].Keepalive {
		t.Fatalf("phase-1 SAs %+v", sas)
	}
	l.net.Drop(func(d datagram) bool { return d.From == testnet.KS(1) })
	// The last answer was at 45 s: R-U-THEREs at 60, 62, 64, 66 and 68 s,
	// the peer dead at 45 + 15 + 5 × 2 = 70 s.
	l.runGM(20*time.Second - time.Millisecond)
	if len(l.gm.IKESAs()) != 1 || l.counter("dpd_sent") != 8 {
		t.Fatalf("before 70 s: SAs %+v, counters %v", l.gm.IKESAs(), l.gm.Counters())
	}
	l.runGM(time.Millisecond)
	if len(l.gm.IKESAs()) != 0 || l.counter("dpd_peer_dead") != 1 || !strings.Contains(log.String(), "IKE_PEER_DEAD") {
		t.Errorf("at 70 s: SAs %+v, counters %v\n%s", l.gm.IKESAs(), l.gm.Counters(), log)
	}
	if st := l.status(); st.State != "registered" {
		t.Errorf("GM state %s after its KS's SA died", st.State)
	}
}
