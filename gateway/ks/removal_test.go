package ks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TestPolicyReplaceWithheld: with a GM whose version lacks policy-replace
// (1.0.1), a triggered rekey goes without it — the old TEKs keep their
// lifetimes — and the KS warns, naming the GM (RK-51).
func TestPolicyReplaceWithheld(t *testing.T) {
	clk := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, ""), clk.Now)
	k.vendorIDs = current
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	k.vendorIDs = vid(gdoiwire.Version{Major: 1, Minor: 0, Mini: 1})
	if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	g := k.srv.sortedGroups()[0]
	old := g.gens[0].teks[0].SPI
	clk.Advance(100 * time.Second)
	if _, err := k.srv.Rekey("", ReplacePolicy); err != nil {
		t.Fatal(err)
	}
	if kind := g.rekey.last.kind; kind != "tek without policy-replace" {
		t.Errorf("round %q, want a rekey without policy-replace", kind)
	}
	for _, tek := range g.groupPolicy(k.srv.elapsed, g.rekeyDst(testnet.GM(1).Addr())).TEKs {
		if tek.SPI == old && tek.Lifetime < 3400*time.Second {
			t.Errorf("old TEK shortened to %v although gm2 lacks policy-replace", tek.Lifetime)
		}
	}
	ev := k.events("KS_FEATURE_UNSUPPORTED")
	if len(ev) != 1 || ev[0]["feature"] != "POLICY-REPLACE" || ev[0]["devices"] != testnet.GM(2).Addr().String() {
		t.Errorf("KS_FEATURE_UNSUPPORTED %v", ev)
	}
}

// TestGMRemoval: "clear crypto gdoi ks members" sends a PUSH that deletes
// the KEK (and with now every TEK) under the current KEK, withholds it
// from a GM that lacks gm-removal with a warning, and leaves the KS with
// no members and new keys (RK-60…RK-62).
func TestGMRemoval(t *testing.T) {
	for _, now := range []bool{false, true} {
		clk := newClock()
		k := newTestKSAt(t, ksConfig(t, 19, ""), clk.Now)
		k.vendorIDs = current
		if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
			t.Fatal(err)
		}
		k.vendorIDs = vid(gdoiwire.Version{Major: 1, Minor: 0, Mini: 2}, "policy-replace")
		if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
			t.Fatal(err)
		}
		g := k.srv.sortedGroups()[0]
		kek := *g.kek
		teks := countTEKs(g.gens)
		in1, in2 := k.peer(testnet.GM(1)), k.peer(testnet.GM(2))
		res, err := k.srv.RemoveMembers("", now)
		if err != nil || len(res.Removed) != 1 || len(res.Warnings) != 1 {
			t.Fatalf("now=%v: %+v %v", now, res, err)
		}
		if len(in1) != 1 {
			t.Fatalf("now=%v: gm1 got %d datagrams, want the removal message", now, len(in1))
		}
		push := <-in1
		if len(in2) != 0 {
			t.Errorf("now=%v: gm2, which lacks gm-removal, was sent the removal message", now)
		}
		p, err := gdoi.OpenPush(push, &kek)
		if err != nil {
			t.Fatalf("now=%v: %v", now, err)
		}
		var kekDeleted bool
		var tekDeletes int
		for _, d := range p.Deletes {
			switch {
			case d.ProtocolID == isakmp.ProtoISAKMP && d.SPISize == 16 && len(d.SPIs) == 1 && [16]byte(d.SPIs[0]) == kek.SPI:
				kekDeleted = true
			case d.ProtocolID == uint8(gdoiwire.TEKProtoESP):
				tekDeletes += len(d.SPIs)
			}
		}
		want := 0
		if now {
			want = teks
		}
		if !kekDeleted || tekDeletes != want || p.SA != nil {
			t.Errorf("now=%v: KEK deleted %v, %d TEK deletes (want %d), SA %v", now, kekDeleted, tekDeletes, want, p.SA != nil)
		}
		if len(k.srv.Members()) != 0 || g.kek.SPI == kek.SPI {
			t.Errorf("now=%v: %d members left, KEK replaced %v", now, len(k.srv.Members()), g.kek.SPI != kek.SPI)
		}
		if ev := k.events("KS_FEATURE_UNSUPPORTED"); len(ev) != 1 || ev[0]["feature"] != "GM-REMOVAL" {
			t.Errorf("now=%v: warning %v", now, ev)
		}
	}
}

// TestGMRemovalOnlyOnPrimary: a secondary refuses with the seeds' words.
func TestGMRemovalOnlyOnPrimary(t *testing.T) {
	l, _ := threeKS(t, "")
	l.run(30 * time.Second)
	_, err := l.ks[ks2].srv.RemoveMembers("", false)
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Msg != "ERROR for group GETVPN: can only execute this command on Primary KS" {
		t.Errorf("secondary: %v", err)
	}
}

// reloadLab is a KS of the test configuration with extra top-level YAML
// and gm1 registered (announcing GDOI 1.0.3), the inbox of what the KS
// sends gm1 from then on, and the configuration Reload rereads: a fresh
// copy for the test to edit (reassign *next for another).
func reloadLab(t *testing.T, extra string) (*testKS, <-chan []byte, *config.Config) {
	t.Helper()
	clk := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, extra), clk.Now)
	next := ksConfig(t, 19, extra)
	k.srv.opt.LoadConfig = func() (*config.Config, error) { return next, nil }
	k.vendorIDs = current
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	return k, k.peer(testnet.GM(1)), next
}

// TestReload: a reread configuration's policy change is logged
// (POLICY_CHANGE) and sent nowhere until a rekey, whose new TEKs carry it
// (receive-only here, KS_CONV_SAS_INGRESS); a change that needs a restart
// is refused and changes nothing; a removed pre-shared key drops the
// peer's phase-1 SAs.
func TestReload(t *testing.T) {
	k, in1, next := reloadLab(t, "")
	next.Groups[0].ReceiveOnly = true
	next.Groups[0].ACL = append([]config.ACE{{Protocol: 17, DestinationPort: config.PortRange{Lo: 848, Hi: 848}}}, next.Groups[0].ACL...)
	res, err := k.srv.Reload()
	if err != nil || len(res.PolicyChanged) != 1 {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if len(k.events("POLICY_CHANGE")) != 1 || len(in1) != 0 {
		t.Errorf("POLICY_CHANGE %v, %d datagrams sent to the GM (want none before a rekey)", k.events("POLICY_CHANGE"), len(in1))
	}
	g := k.srv.sortedGroups()[0]
	if d := g.groupPolicy(k.srv.elapsed, g.rekeyDst(testnet.GM(1).Addr())).Deny; len(d) != 0 {
		t.Errorf("the reloaded deny entry went out before a rekey: %v", d)
	}
	if _, err := k.srv.Rekey("", ReplacePolicy); err != nil {
		t.Fatal(err)
	}
	if d := g.groupPolicy(k.srv.elapsed, g.rekeyDst(testnet.GM(1).Addr())).Deny; len(d) != 1 {
		t.Errorf("deny entries after the rekey: %v, want the reloaded one", d)
	}
	if d := g.newest().teks[0].Direction; d != gdoiwire.SADirReceiverOnly || len(k.events("KS_CONV_SAS_INGRESS")) != 1 {
		t.Errorf("new TEKs %v, KS_CONV_SAS_INGRESS %v", d, k.events("KS_CONV_SAS_INGRESS"))
	}
	*next = *ksConfig(t, 19, "")
	next.Groups[0].ReceiveOnly = true
	next.Groups[0].ACL = g.cfg.ACL
	next.Groups[0].TEKLifetime = 7 * time.Hour
	if _, err := k.srv.Reload(); err == nil || !strings.Contains(err.Error(), "TEKLifetime changed: restart") {
		t.Errorf("a lifetime change: %v", err)
	}
	if !k.srv.cfg.Groups[0].ReceiveOnly {
		t.Error("the refused reload changed the running configuration")
	}
	*next = *ksConfig(t, 19, "")
	next.Groups[0].ReceiveOnly = true
	next.Groups[0].ACL = g.cfg.ACL
	next.IKE.PreSharedKeys = nil
	if res, err := k.srv.Reload(); err != nil || len(res.Changed) != 1 {
		t.Fatalf("key removal: %+v %v", res, err)
	}
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err == nil {
		t.Error("a GM whose key was removed registered")
	}
}

// TestReloadImmediate: under policy_change: immediate (S0 Table 4, the
// method before triggered rekeys) a reloaded policy goes out at once, in
// a rekey with new TEKs, and no POLICY_CHANGE is logged.
func TestReloadImmediate(t *testing.T) {
	k, in1, next := reloadLab(t, "policy_change: immediate\n")
	next.Groups[0].ReceiveOnly = true
	if _, err := k.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	g := k.srv.sortedGroups()[0]
	if len(in1) != 1 || len(g.gens) != 2 || g.newest().teks[0].Direction != gdoiwire.SADirReceiverOnly {
		t.Errorf("%d datagrams to the GM, %d TEK generations: want a rekey with receive-only TEKs at once", len(in1), len(g.gens))
	}
	if len(k.events("POLICY_CHANGE")) != 0 {
		t.Error("POLICY_CHANGE logged under the old method")
	}
}
