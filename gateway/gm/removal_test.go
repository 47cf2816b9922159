package gm_test

import (
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
