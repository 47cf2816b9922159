package ks

import (
	"errors"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TestTriggeredRekey: "crypto gdoi ks rekey" sends new TEKs at once and
// shortens the old ones to TEK_SLT in the PUSH and for later
// registrations; replace-now deletes them, with a Delete payload.
func TestTriggeredRekey(t *testing.T) {
	clk := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, ""), clk.Now)
	k.vendorIDs = current
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	g := k.srv.sortedGroups()[0]
	old := g.gens[0].teks[0].SPI
	clk.Advance(100 * time.Second)
	if got, err := k.srv.Rekey("", ReplacePolicy); err != nil || len(got) != 1 {
		t.Fatalf("Rekey: %v %v", got, err)
	}
	if g.rekey.scheduled != 1 || g.rekey.last == nil || g.rekey.last.kind != "tek policy-replace" {
		t.Fatalf("no policy-replace round: %+v", g.rekey.last)
	}
	p := g.groupPolicy(k.srv.elapsed, g.rekeyDst(testnet.GM(1).Addr()))
	var oldLife time.Duration
	for _, tek := range p.TEKs {
		if tek.SPI == old {
			oldLife = tek.Lifetime
		}
	}
	// The test group's TEKs live 3600 s: TEK_SLT = max(90 s, 180 s).
	if oldLife < 179*time.Second || oldLife > 180*time.Second || len(p.TEKs) != 4 {
		t.Errorf("old TEK lifetime %v (want 180 s) among %d TEKs", oldLife, len(p.TEKs))
	}
	if _, err := k.srv.Rekey("GETVPN", ReplaceNow); err != nil {
		t.Fatal(err)
	}
	if n := countTEKs(g.gens); n != 2 {
		t.Errorf("%d TEKs after replace-now, want the 2 new ones", n)
	}
	body := g.rekey.last.body
	if d, ok := body[0].(*isakmp.Delete); !ok || len(d.SPIs) != 4 {
		t.Errorf("replace-now PUSH starts with %T, want a Delete of the 4 old TEKs", body[0])
	}
	if _, err := k.srv.Rekey("nosuch", ReplaceNow); err == nil {
		t.Error("a rekey of an unknown group")
	}
}

// TestRekeyOnlyOnPrimary: a secondary refuses the command with the
// seeds' words and sends nothing (KS-72).
func TestRekeyOnlyOnPrimary(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	before := len(l.events(ks2, "KS_SEND_UNICAST_REKEY"))
	_, err := l.ks[ks2].srv.Rekey("", ReplacePolicy)
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Msg != "ERROR for group GETVPN: This command must be executed on Primary-KS" {
		t.Errorf("secondary: %v", err)
	}
	l.collect()
	if len(l.events(ks2, "KS_SEND_UNICAST_REKEY")) != before {
		t.Error("the secondary sent a rekey")
	}
	if _, err := l.ks[ks1].srv.Rekey("", ReplacePolicy); err != nil {
		t.Errorf("primary: %v", err)
	}
}

// TestClear: "clear crypto gdoi" on a KS serving its group alone empties
// the member table and replaces the keys without sending anything
// (KS-53); on a cooperating secondary it re-elects and takes the group's
// keys back from the primary.
func TestClear(t *testing.T) {
	clk := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, ""), clk.Now)
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	g := k.srv.sortedGroups()[0]
	kek := g.kek.SPI
	k.drain(testnet.GM(1))
	if got, err := k.srv.Clear(""); err != nil || len(got) != 1 {
		t.Fatalf("Clear: %v %v", got, err)
	}
	if len(g.members) != 0 || g.kek == nil || g.kek.SPI == kek || len(g.gens) == 0 {
		t.Errorf("after clear: %d members, KEK changed %v", len(g.members), g.kek != nil && g.kek.SPI != kek)
	}
	if n := len(k.peer(testnet.GM(1))); n != 0 {
		t.Errorf("clear sent the GM %d datagrams", n)
	}
	if len(k.events("KS_CLEAR_REGISTER")) != 1 {
		t.Error("no KS_CLEAR_REGISTER")
	}
	if _, err := k.srv.Clear("nosuch"); err == nil {
		t.Error("cleared an unknown group")
	}

	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	before := l.coop(ks1)
	if _, err := l.ks[ks2].srv.Clear(""); err != nil {
		t.Fatal(err)
	}
	l.run(30 * time.Second)
	v2 := l.coop(ks2)
	if v2.primary || !l.coop(ks1).primary || v2.kek != before.kek || !v2.synced {
		t.Errorf("ks2 after clear: primary %v synced %v, KEK kept %v; ks1 primary %v", v2.primary, v2.synced, v2.kek == before.kek, l.coop(ks1).primary)
	}
	if n := len(l.events(ks2, "COOP_KS_ELECTION")); n != 2 {
		t.Errorf("ks2 logged COOP_KS_ELECTION %d times, want 2 (start, clear)", n)
	}
}
