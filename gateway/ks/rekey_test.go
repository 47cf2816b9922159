package ks

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
)

// gmEnd is a registered GM as the KS sees it from the wire: its rekey
// channel and the policy it holds.
type gmEnd struct {
	addr   netip.AddrPort
	ch     <-chan []byte
	policy *gdoi.Policy
	// protect is the KEK a KEK rekey replaced: the PUSH that brought the
	// new one came under it, and so goes its acknowledgement.
	protect *gdoi.KEK
}

// pushes returns the PUSHes waiting for the GM, each opened with the KEK
// it holds; a PUSH that brings a new KEK makes it the GM's.
func (g *gmEnd) pushes(t *testing.T) []*gdoi.Push {
	t.Helper()
	var out []*gdoi.Push
	for {
		select {
		case pkt := <-g.ch:
			p, err := gdoi.OpenPush(pkt, g.policy.KEK)
			if err != nil {
				t.Fatalf("%s: %v", g.addr, err)
			}
			out = append(out, p)
			if p.SA != nil {
				np, err := gdoi.ParsePolicy(1234, p.SA, p.KD, nil)
				if err != nil {
					t.Fatal(err)
				}
				np.KEK.Dst = g.policy.KEK.Dst
				g.protect = g.policy.KEK
				g.policy = np
			}
		default:
			return out
		}
	}
}

// ack acknowledges p, under the KEK the PUSH came under.
func (g *gmEnd) ack(t *testing.T, k *testKS, p *gdoi.Push) {
	t.Helper()
	kek := g.policy.KEK
	if g.protect != nil && g.protect.SPI == p.Header.Cookies() {
		kek = g.protect
	}
	pkt, err := gdoi.SealAck(kek, p.Seq, g.addr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	k.srv.HandlePacket(g.addr, pkt)
}

func rekeyKS(t *testing.T, extra string, gms int) (*testKS, *clock.Fake, []*gmEnd) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	cfg := ksConfig(t, 19, extra)
	cfg.Groups[0].Rekey.RetransmitInterval, cfg.Groups[0].Rekey.RetransmitCount = 10*time.Second, 2
	k := newTestKSAt(t, cfg, clk.Now)
	var ends []*gmEnd
	for i := range gms {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)}), 848)
		p, err := k.register(addr, "lab-secret", 19, 1234)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, &gmEnd{addr: addr, ch: k.peer(addr), policy: p})
	}
	return k, clk, ends
}

// advanceUntilPush moves the clock in 1 s steps (ticking) until g gets a
// PUSH, at most limit.
func advanceUntilPush(t *testing.T, k *testKS, clk *clock.Fake, g *gmEnd, limit time.Duration) (*gdoi.Push, time.Duration) {
	t.Helper()
	for waited := time.Duration(0); waited <= limit; waited += time.Second {
		clk.Advance(time.Second)
		k.srv.Tick()
		if len(g.ch) > 0 {
			ps := g.pushes(t)
			if len(ps) != 1 {
				t.Fatalf("%d PUSHes in one tick", len(ps))
			}
			return ps[0], waited + time.Second
		}
	}
	t.Fatalf("no PUSH to %s within %v", g.addr, limit)
	return nil, 0
}

// TestUnicastRekeyRounds follows the seeds' worked example (S0 §3.5.8,
// §3.7.4.2.1): retransmit 10 s × 2; two GMs acknowledge every rekey, one
// only the first, one never. Sequence numbers 1-3, 4-6, 7-9, 10-12 are the
// four rounds with their retransmissions, which reach only the GMs that
// did not acknowledge; just before the fifth rekey the GM that went silent
// after acknowledging once is deleted, and the one that never
// acknowledged is kept (RFC 8263: not gone before a first ack).
func TestUnicastRekeyRounds(t *testing.T) {
	k, clk, gms := rekeyKS(t, "", 4)
	k.srv.cfg.Groups[0].TEKLifetime = 900 * time.Second
	k.srv.mu.Lock()
	k.srv.groups[1234].gens = nil // remake the TEKs with the 900 s lifetime
	k.srv.mu.Unlock()
	k.srv.Tick()
	silent, never := gms[2], gms[3]
	// T=900, 4 GMs: rekey at 900 - (MAX(90, 90) + 2×10 + 5×4/50) = 789.6 s.
	if lead := TEKRekeyLead(900*time.Second, 2, 10*time.Second, 4); lead != 110400*time.Millisecond {
		t.Fatalf("lead %v", lead)
	}
	for round := 1; round <= 4; round++ {
		p, waited := advanceUntilPush(t, k, clk, gms[0], 1000*time.Second)
		if round == 1 && (waited < 789*time.Second || waited > 790*time.Second) {
			t.Fatalf("first rekey after %v, want 789.6 s", waited)
		}
		first := uint32(3*round - 2)
		if p.Seq != first || len(p.SA.SATs()) != 4 {
			t.Fatalf("round %d: seq %d, %d SATs (old and new TEKs)", round, p.Seq, len(p.SA.SATs()))
		}
		gms[1].pushes(t)
		acking := gms[:2]
		if round == 1 {
			acking = gms[:3]
		}
		sp := silent.pushes(t)
		if len(sp) != 1 || sp[0].Seq != first {
			t.Fatalf("round %d: silent GM got %d PUSHes", round, len(sp))
		}
		for _, g := range acking {
			g.ack(t, k, p)
		}
		quiet := []*gmEnd{never}
		if round > 1 {
			quiet = append(quiet, silent)
		}
		for _, g := range quiet {
			if g != silent {
				if sp := g.pushes(t); len(sp) != 1 || sp[0].Seq != first {
					t.Fatalf("round %d: %s got %d PUSHes", round, g.addr, len(sp))
				}
			}
		}
		// Two retransmissions, 10 s apart, to the quiet GMs only.
		for retry := uint32(1); retry <= 2; retry++ {
			clk.Advance(10 * time.Second)
			k.srv.Tick()
			for _, g := range acking {
				if n := len(g.ch); n != 0 {
					t.Fatalf("round %d: %d retransmissions to %s, which acknowledged", round, n, g.addr)
				}
			}
			for _, g := range quiet {
				sp := g.pushes(t)
				if len(sp) != 1 || sp[0].Seq != first+retry {
					t.Fatalf("round %d retransmission %d to %s: %+v", round, retry, g.addr, sp)
				}
			}
		}
	}
	rows := map[netip.Addr]*memberRow{}
	for _, m := range k.srv.Members() {
		rows[netip.MustParseAddr(m.Address)] = &memberRow{m.RekeysSent, m.RekeyRetries, m.AcksReceived, m.SentSeq}
	}
	if r := rows[silent.addr.Addr()]; r == nil || r.sent != 4 || r.retries != 6 || r.acks != 1 ||
		!slices.Equal(r.seqs, []uint32{9, 10, 11, 12}) {
		t.Fatalf("silent GM before deletion: %+v (seeds: Rekeys sent 4, retries 6, acks 1)", r)
	}
	if r := rows[never.addr.Addr()]; r == nil || r.sent != 4 || r.retries != 8 || r.acks != 0 {
		t.Fatalf("GM that never acknowledged: %+v", r)
	}
	if r := rows[gms[0].addr.Addr()]; r == nil || r.sent != 4 || r.retries != 0 || r.acks != 4 {
		t.Fatalf("acknowledging GM: %+v", r)
	}
	// The fifth rekey: the silent GM is deleted first and gets nothing;
	// the one that never acknowledged still gets it.
	p, _ := advanceUntilPush(t, k, clk, gms[0], 1000*time.Second)
	if p.Seq != 13 {
		t.Fatalf("fifth rekey seq %d, want 13", p.Seq)
	}
	if n := len(silent.ch); n != 0 {
		t.Fatalf("deleted GM got %d PUSHes", n)
	}
	if sp := never.pushes(t); len(sp) != 1 || sp[0].Seq != 13 {
		t.Fatalf("GM that never acknowledged got %+v", sp)
	}
	if len(k.srv.Members()) != 3 {
		t.Fatalf("members after deletion: %+v", k.srv.Members())
	}
	var deleted []string
	for _, e := range k.ev.Since(0) {
		if e.Name == "GM_DELETE" {
			deleted = append(deleted, e.Fields["gm"])
		}
	}
	if !slices.Equal(deleted, []string{silent.addr.Addr().String()}) {
		t.Fatalf("GM_DELETE for %v, want only %s", deleted, silent.addr.Addr())
	}
	st := k.srv.GDOI().Groups[0].KS
	if st.RekeysSent != 5 || st.Retransmits != 8 || st.AcksReceived != 9 || st.GMsDeleted != 1 || st.Seq != 13 {
		t.Fatalf("KS status %+v", st)
	}
	// An acknowledgement from the deleted GM is unsolicited.
	silent.ack(t, k, p)
	if k.srv.Counters()["ack_unsolicited"] != 1 {
		t.Fatalf("counters %v", k.srv.Counters())
	}
}

type memberRow struct {
	sent, retries, acks uint64
	seqs                []uint32
}

// TestKEKRekey: the KEK rekey comes at T_KEK - (200 + 2×10 + 5×(1+1/50))
// s, travels under the old KEK and is acknowledged under it; the next PUSH
// uses the new KEK.
func TestKEKRekey(t *testing.T) {
	k, clk, gms := rekeyKS(t, "", 1)
	g := gms[0]
	k.srv.cfg.Groups[0].KEKLifetime = 1500 * time.Second
	k.srv.mu.Lock()
	k.srv.groups[1234].kek = nil
	k.srv.mu.Unlock()
	k.srv.Tick()
	// The GM re-registers to get the new short-lived KEK.
	p0, err := k.register(g.addr, "lab-secret", 19, 1234)
	if err != nil {
		t.Fatal(err)
	}
	g.policy = p0
	g.ch = k.peer(g.addr)
	old := p0.KEK.SPI
	p, waited := advanceUntilPush(t, k, clk, g, 1500*time.Second)
	// KEK: 1500 - 225.1 = 1274.9 s; the TEK rekey of the default 3600 s
	// TEKs is much later.
	if waited < 1274*time.Second || waited > 1276*time.Second {
		t.Fatalf("KEK rekey after %v, want 1274.9 s", waited)
	}
	if p.Header.Cookies() != old || g.policy.KEK.SPI == old {
		t.Fatalf("KEK rekey under %x brings %x (old %x)", p.Header.Cookies(), g.policy.KEK.SPI, old)
	}
	g.ack(t, k, p)
	if st := k.srv.GDOI().Groups[0].KS; st.KEKRekeys != 1 || st.LastRekey.Acked != 1 || st.LastRekey.Kind != "kek" {
		t.Fatalf("status %+v", st)
	}
	second := g.policy.KEK.SPI
	next, _ := advanceUntilPush(t, k, clk, g, 3600*time.Second)
	if next.Header.Cookies() != second {
		t.Fatalf("next PUSH under %x, not the new KEK %x", next.Header.Cookies(), second)
	}
}

// TestMulticastRekey: one copy per transmission to the group address, no
// acknowledgement requested, retransmitted blindly count times.
func TestMulticastRekey(t *testing.T) {
	k, clk, gms := rekeyKS(t, "", 1)
	grp := netip.MustParseAddrPort("239.192.0.1:848")
	k.srv.cfg.Groups[0].Rekey.Transport = "multicast"
	k.srv.cfg.Groups[0].Rekey.Address = grp.Addr()
	k.srv.cfg.Groups[0].Rekey.Port = 848
	k.srv.cfg.Groups[0].Rekey.Ack = config.AckNone // the multicast default
	k.srv.mu.Lock()
	k.srv.groups[1234].kek = nil
	k.srv.mu.Unlock()
	k.srv.Tick()
	p0, err := k.register(gms[0].addr, "lab-secret", 19, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if p0.KEK.Dst != grp || p0.KEK.Ack != 0 {
		t.Fatalf("multicast KEK %v ack %v", p0.KEK.Dst, p0.KEK.Ack)
	}
	m := &gmEnd{addr: grp, ch: k.peer(grp), policy: p0}
	p, _ := advanceUntilPush(t, k, clk, m, 3600*time.Second)
	seqs := []uint32{p.Seq}
	for range 4 {
		clk.Advance(10 * time.Second)
		k.srv.Tick()
		for _, p := range m.pushes(t) {
			seqs = append(seqs, p.Seq)
		}
	}
	if !slices.Equal(seqs, []uint32{1, 2, 3}) {
		t.Fatalf("multicast transmissions %v, want 1 2 3", seqs)
	}
	if n := len(gms[0].ch); n != 0 {
		t.Fatalf("%d unicast copies in a multicast group", n)
	}
}

// The KS's one timer: driven only at its Deadline, it sends the first
// rekey exactly at the seeds' point, then a retransmission every 10 s
// (the GMs do not acknowledge), and runs its housekeeping every second in
// between; a registration asks Drive to read the deadline again.
func TestDeadlineDrivesRekeysAndHousekeeping(t *testing.T) {
	k, clk, gms := rekeyKS(t, "", 1)
	t0 := clk.Now()
	select {
	case <-k.srv.Wake():
	default:
		t.Error("the registration did not wake the timer")
	}
	lifetime := k.srv.cfg.Groups[0].TEKLifetime
	created := k.srv.groups[1234].newest().created
	point := created.Add(lifetime - TEKRekeyLead(lifetime, 2, 10*time.Second, 1))
	var at []time.Time
	runs := 0
	for len(at) < 3 {
		d := k.srv.Deadline()
		if d.IsZero() || d.Before(clk.Now()) {
			t.Fatalf("deadline %v at %v", d, clk.Now())
		}
		if d.Sub(t0) > 2*lifetime {
			t.Fatalf("no third PUSH by %v", d.Sub(t0))
		}
		if d.Before(point) && d.Sub(clk.Now()) != housekeeping {
			t.Fatalf("before the rekey point, a deadline %v after the last: only housekeeping (1 s) is due", d.Sub(clk.Now()))
		}
		clk.Set(d)
		k.srv.Timeout(d)
		if d.Before(point) {
			runs++
		}
		if ps := gms[0].pushes(t); len(ps) > 0 {
			at = append(at, d)
		}
	}
	if !at[0].Equal(point) {
		t.Errorf("first PUSH at %v after the TEKs, want %v (the seeds' point)", at[0].Sub(created), point.Sub(created))
	}
	for i := 1; i < 3; i++ {
		if got := at[i].Sub(at[i-1]); got != 10*time.Second {
			t.Errorf("retransmission %d %v after the one before, want 10 s", i, got)
		}
	}
	if want := int(point.Sub(t0) / time.Second); runs < want-1 || runs > want+1 {
		t.Errorf("%d housekeeping runs before the rekey, want one a second (%d)", runs, want)
	}
}
