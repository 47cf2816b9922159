package gm_test

import (
	"slices"
	"testing"

	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// restartKS replaces the lab's KS with a new one: new keys, no phase-1
// SAs, no members.
func (l *lab) restartKS() {
	srv := l.newKS(ksYAML)
	l.mu.Lock()
	l.ks = srv
	l.mu.Unlock()
}

func (l *lab) setDrop(f func(datagram) bool) { l.net.Drop(f) }

func (l *lab) ksCounter(name string) uint64 {
	l.mu.Lock()
	srv := l.ks
	l.mu.Unlock()
	return srv.Counters()[name]
}

// lastPull is the header of the last GROUPKEY-PULL message the GM sent.
func (l *lab) lastPull() isakmp.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pulls[len(l.pulls)-1]
}

func isInformational(d datagram) bool {
	h, _, err := isakmp.ParseHeader(d.B)
	return err == nil && h.Exchange == isakmp.ExchangeInformational
}

func TestGMRecoversAtOnceWhenTheRestartedKSAnswersInvalidCookie(t *testing.T) {
	l := newLab(t) // the GM's timers never fire: only packets drive it
	before := l.status()
	l.restartKS()
	l.gm.ReregisterNow("GETVPN")
	l.wait("registration to the restarted KS", func(snap) bool { return l.counter("registrations") == 2 })
	// Read after the counter moved: the snapshot wait passes the
	// condition was taken before it (the GM installs, then counts).
	st := l.status()
	if l.ksCounter("invalid_cookie_sent") != 1 || l.counter("invalid_cookie_received") != 1 || l.counter("ike_sa_stale") != 1 {
		t.Errorf("KS %v, GM %v", l.ksCounter("invalid_cookie_sent"), l.gm.Counters())
	}
	// No retransmission, no timer: the INVALID-COOKIE started the main
	// mode, and the new policy (the new KS's keys) is installed.
	if l.counter("retransmits") != 0 || st.State != "registered" || slices.Equal(st.TEKs, before.TEKs) {
		t.Errorf("after: %+v (before %+v), counters %v", st, before, l.gm.Counters())
	}
}

func TestGMStartsMainModeWhenItsPULLOnAnOldSAGetsNoAnswer(t *testing.T) {
	l := newLabScaled(t, 0.01) // a retry interval of 100 ms
	before := l.status()
	// A KS that lost the SA and says nothing (or whose answers are lost).
	l.setDrop(isInformational)
	l.restartKS()
	l.gm.ReregisterNow("GETVPN")
	l.wait("registration to the restarted KS", func(snap) bool { return l.counter("registrations") == 2 })
	// Read after the counter moved: the snapshot wait passes the
	// condition was taken before it (the GM installs, then counts).
	st := l.status()
	// The first retry is a main mode, not the same PULL again.
	if l.counter("ike_sa_stale") != 1 || l.counter("retransmits") != 0 || l.counter("invalid_cookie_received") != 0 {
		t.Errorf("counters %v", l.gm.Counters())
	}
	if slices.Equal(st.TEKs, before.TEKs) {
		t.Errorf("the restarted KS's keys were not installed: %+v", st)
	}
}

func TestForgedInvalidCookieDeletesNoKey(t *testing.T) {
	l := newLab(t)
	reg := l.status()
	sa := l.lastPull()
	forged := ikev1.InvalidCookie(sa)
	other := testnet.Stranger()
	unchanged := func(stage string) {
		t.Helper()
		if st := l.status(); st.State != "registered" || !slices.Equal(st.TEKs, reg.TEKs) || st.KEK != reg.KEK {
			t.Errorf("%s: %+v, registered with %+v", stage, st, reg)
		}
		if l.counter("registrations") != 1 {
			t.Errorf("%s: re-registered", stage)
		}
	}

	// Registered, nothing in flight: from the KS or from elsewhere, it is
	// counted and ignored.
	l.gm.HandlePacket(testnet.KS(1), forged)
	l.gm.HandlePacket(other, forged)
	unchanged("registered")
	if l.counter("invalid_cookie_ignored") != 2 || l.counter("ike_sa_stale") != 0 {
		t.Errorf("counters %v", l.gm.Counters())
	}

	// A re-registration whose PULL is lost: from another address it
	// changes nothing either.
	l.setDrop(func(d datagram) bool { return d.To == testnet.KS(1) })
	l.gm.ReregisterNow("GETVPN")
	l.wait("the PULL", func(snap) bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.pulls) == 2 })
	if l.lastPull().Cookies() != sa.Cookies() {
		t.Fatal("the re-registration did not reuse the phase-1 SA")
	}
	l.gm.HandlePacket(other, forged)
	unchanged("re-registering, forged from elsewhere")
	if l.counter("invalid_cookie_ignored") != 3 || l.counter("ike_sa_stale") != 0 {
		t.Errorf("counters %v", l.gm.Counters())
	}

	// From the KS's address it is taken as the hint it is: a main mode
	// starts, the keys stay until the new registration replaces them.
	l.gm.HandlePacket(testnet.KS(1), forged)
	unchanged("re-registering, hinted")
	if l.counter("ike_sa_stale") != 1 {
		t.Errorf("counters %v", l.gm.Counters())
	}
	l.gm.HandlePacket(testnet.KS(1), forged) // the SA is gone: nothing to act on
	if l.counter("ike_sa_stale") != 1 {
		t.Errorf("a second hint was taken: %v", l.gm.Counters())
	}
	l.setDrop(nil)
	l.gm.ReregisterNow("GETVPN")
	l.wait("re-registration", func(snap) bool { return l.counter("registrations") == 2 })
	if l.lastPull().Cookies() == sa.Cookies() {
		t.Error("the re-registration ran on the dropped phase-1 SA")
	}
}
