package gm_test

import (
	"io"
	"net/netip"
	"strings"
	"testing"
)

// TestGMRemoval: a GM-removal message from the KS deletes the GM's KEK
// and shortens its TEKs to TEK_SLT (900 s TEKs: MAX(90 s, 45 s) = 90 s),
// with the re-registration before they end (RK-60); the immediate one
// deletes every key, and the GM registers again within MIN(RLT, 2% of
// 900 s) = 18 s (RK-61), after which it has the KS's new keys.
func TestGMRemoval(t *testing.T) {
	for _, now := range []bool{false, true} {
		l := newLab(t)
		before := l.status()
		if _, err := l.ks.RemoveMembers("", now); err != nil {
			t.Fatal(err)
		}
		if !now {
			st := l.wait("the KEK deleted", func(st snap) bool { return st.KEK == "" })
			g := l.gm.GDOI().Groups[0]
			if len(st.TEKs) != 1 || g.TEKs[0].Remaining > 90 || g.TEKs[0].Remaining < 85 {
				t.Errorf("transient: TEKs %v remaining %v, want the old one at 90 s", st.TEKs, g.TEKs)
			}
			if in := g.GM.ReregisterIn; in == nil || *in > 90 || *in < 20 {
				t.Errorf("transient: re-registration in %v, want before the shortened TEKs end", in)
			}
			continue
		}
		st := l.wait("every key deleted", func(st snap) bool { return len(st.TEKs) == 0 && st.KEK == "" })
		if st.State != "registering" {
			t.Errorf("now: state %s", st.State)
		}
		g := l.gm.GDOI().Groups[0]
		if in := g.GM.ReregisterIn; in == nil || *in > 18 {
			t.Errorf("now: re-registration in %v, want at most 18 s", in)
		}
		l.gm.ReregisterNow("GETVPN")
		after := l.wait("registration with the new keys", func(st snap) bool { return st.State == "registered" && len(st.TEKs) > 0 })
		if after.KEK == before.KEK || after.TEKs[0] == before.TEKs[0] {
			t.Errorf("now: registered again with the old keys %+v", after)
		}
	}
}

// TestStagedGMIgnoresRemoval: a GM staged at a GDOI version without
// gm-removal (1.0.2) ignores a removal message it receives anyway (a
// multicast rekey reaches every GM): it keeps its KEK and TEKs, as the
// seeds say old devices do (RK-62), and counts it.
func TestStagedGMIgnoresRemoval(t *testing.T) {
	kyaml := strings.Replace(ksYAML, "rekey: {transport: unicast,", "rekey: {transport: multicast, address: 239.1.1.1,", 1)
	l := startLab(t, 1, kyaml, gmYAML+"gdoi_version: 1.0.2\n", false, "rfc", io.Discard)
	l.net.Attach(netip.MustParseAddrPort("239.1.1.1:848"), func(from netip.AddrPort, b []byte) { l.gm.HandlePacket(from, b) })
	before := l.wait("registration", func(st snap) bool { return st.State == "registered" })
	if _, err := l.ks.RemoveMembers("", true); err != nil {
		t.Fatal(err)
	}
	l.wait("the removal ignored", func(snap) bool { return l.counter("removal_ignored") == 1 })
	if after := l.status(); after.KEK != before.KEK || len(after.TEKs) != len(before.TEKs) {
		t.Errorf("the staged GM acted on the removal: %+v, before %+v", after, before)
	}
}

// TestGMClear: "clear crypto gdoi" on a GM deletes its keys and registers
// it again with a new main mode (the phase-1 SA is dropped), getting the
// KS's current keys.
func TestGMClear(t *testing.T) {
	l := newLab(t)
	if got, err := l.gm.Clear(""); err != nil || len(got) != 1 {
		t.Fatalf("Clear: %v %v", got, err)
	}
	l.wait("registration after the clear", func(st snap) bool { return st.State == "registered" })
	if g := l.gm.GDOI().Groups[0].GM; g.Registrations != 2 || g.Attempts < 2 {
		t.Errorf("registrations %d attempts %d, want a second registration", g.Registrations, g.Attempts)
	}
	if n := l.counter("ike_sa_established"); n != 2 {
		t.Errorf("%d phase-1 SAs established, want a new main mode after the clear", n)
	}
	if _, err := l.gm.Clear("nosuch"); err == nil {
		t.Error("a clear of an unknown group")
	}
}
