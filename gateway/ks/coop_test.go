package ks

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/coop"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/phase1"
	wire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// coopLab is a group of cooperating KSs on an in-memory network with a
// fake clock: a datagram reaches a KS that is up, unless the network is
// cut between the two.
type coopLab struct {
	t   *testing.T
	clk *clock.Fake
	pem string
	mu  sync.Mutex
	q   []dgram
	ks  map[netip.Addr]*labKS
	// cut reports whether datagrams between a and b are lost.
	cut func(a, b netip.Addr) bool
	// seen are the events each KS logged, stamped with the fake time.
	seen map[netip.Addr][]stamped
	// anns are when each KS's ANNs were delivered; delivered the ANN
	// datagrams themselves.
	anns      map[netip.Addr][]time.Time
	delivered []dgram
}

type dgram struct {
	from, to netip.AddrPort
	pkt      []byte
}

type labKS struct {
	srv  *Server
	ev   *events.Log
	up   bool
	read int
}

type stamped struct {
	at     time.Time
	name   string
	fields map[string]string
}

var labSigningKey = sync.OnceValue(func() string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
})

func newCOOPLab(t *testing.T) *coopLab {
	return &coopLab{t: t, clk: newClock(), pem: labSigningKey(), ks: map[netip.Addr]*labKS{},
		seen: map[netip.Addr][]stamped{}, anns: map[netip.Addr][]time.Time{}}
}

// coopConfig is KS n of the lab (192.0.2.n) with priority pri, the
// others of ns its peers.
func (l *coopLab) coopConfig(n, pri int, ns []int, takeover string) *config.Config {
	var peers []string
	for _, o := range ns {
		if o != n {
			peers = append(peers, testnet.KS(o).Addr().String())
		}
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(l.pem), "\n") {
		b.WriteString("          " + line + "\n")
	}
	y := strings.Replace(testnet.KSYAML(19), "identity: "+testnet.KS(1).Addr().String(), "identity: "+testnet.KS(n).Addr().String(), 1)
	y = strings.Replace(y, "ike:\n", "ike:\n  keepalive: {interval: 15, retry: 2, mode: periodic}\n", 1)
	y += fmt.Sprintf(`    tek_lifetime: 3600
    transforms: [aes128gcm16]
    acl:
      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}
      - {action: permit, protocol: ip, source: 10.2.0.0/16, destination: 10.1.0.0/16}
    coop: {priority: %d, peers: [%s], takeover: %s}
    rekey:
      transport: unicast
      signing_key:
        pem: |
%s`, pri, strings.Join(peers, ", "), takeover, b.String())
	cfg, err := config.Parse([]byte(y), fmt.Sprintf("ks%d.yaml", n))
	if err != nil {
		l.t.Fatal(err)
	}
	return cfg
}

// start starts (or restarts, with a fresh state) KS n.
func (l *coopLab) start(cfg *config.Config) {
	l.t.Helper()
	me := netip.AddrPortFrom(cfg.Identity, 848)
	ev := events.New(io.Discard, "text", "error")
	srv, err := New(cfg, Options{Env: phase1.Env{
		Events: ev, Counters: &events.Counters{}, Local: me, Now: l.clk.Now,
		Send: func(to netip.AddrPort, pkt []byte) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.q = append(l.q, dgram{me, to, pkt})
		},
	}})
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.ks[cfg.Identity] = &labKS{srv: srv, ev: ev, up: true}
	l.mu.Unlock()
	l.collect()
}

// stop stops KS a: it neither sends nor receives any more.
func (l *coopLab) stop(a netip.Addr) { l.ks[a].up = false }

func (l *coopLab) pop() (dgram, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) == 0 {
		return dgram{}, false
	}
	d := l.q[0]
	l.q = l.q[1:]
	return d, true
}

// settle delivers datagrams until none is in flight and no KS has a
// Diffie-Hellman computation running.
func (l *coopLab) settle() {
	for idle := 0; idle < 3; {
		d, ok := l.pop()
		if !ok {
			busy := false
			for _, k := range l.ks {
				busy = busy || !k.srv.dh.idle()
			}
			if busy {
				time.Sleep(100 * time.Microsecond)
			} else {
				idle++
				time.Sleep(50 * time.Microsecond)
			}
			continue
		}
		idle = 0
		src, dst := l.ks[d.from.Addr()], l.ks[d.to.Addr()]
		if src == nil || !src.up || dst == nil || !dst.up || (l.cut != nil && l.cut(d.from.Addr(), d.to.Addr())) {
			continue
		}
		if h, _, err := isakmp.ParseHeader(d.pkt); err == nil && h.Exchange == wire.Exchange {
			l.anns[d.from.Addr()] = append(l.anns[d.from.Addr()], l.clk.Now())
			l.delivered = append(l.delivered, d)
		}
		dst.srv.HandlePacket(d.from, d.pkt)
	}
	l.collect()
}

func (p *dhPool) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running == 0 && len(p.waiting) == 0
}

// collect stamps the events logged since the last call.
func (l *coopLab) collect() {
	for a, k := range l.ks {
		evs := k.ev.Since(0)
		for _, e := range evs[k.read:] {
			l.seen[a] = append(l.seen[a], stamped{l.clk.Now(), e.Name, e.Fields})
		}
		k.read = len(evs)
	}
}

// run runs the lab for d of fake time.
func (l *coopLab) run(d time.Duration) {
	end := l.clk.Now().Add(d)
	l.settle()
	for {
		next := end
		for _, k := range l.ks {
			if k.up {
				next = earliest(next, k.srv.Deadline())
			}
		}
		if next.After(l.clk.Now()) {
			l.clk.Set(next)
		}
		for _, k := range l.ks {
			if k.up && !l.clk.Now().Before(k.srv.Deadline()) {
				k.srv.Timeout(l.clk.Now())
			}
		}
		l.settle()
		if !l.clk.Now().Before(end) {
			return
		}
	}
}

func (l *coopLab) coop(a netip.Addr) *groupView {
	k := l.ks[a]
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	g := k.srv.sortedGroups()[0]
	v := &groupView{primary: g.coop.Primary(), leader: g.coop.Leader(), synced: g.coop.Synced(), seq: g.seq, members: len(g.members)}
	if g.kek != nil {
		v.kek = g.kek.SPI
	}
	for _, gen := range g.gens {
		for _, t := range gen.teks {
			v.teks = append(v.teks, t.SPI)
		}
	}
	return v
}

type groupView struct {
	primary bool
	leader  netip.Addr
	synced  bool
	kek     [16]byte
	teks    []uint32
	seq     uint32
	members int
}

func (l *coopLab) events(a netip.Addr, name string) []stamped {
	var out []stamped
	for _, e := range l.seen[a] {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

// addMember makes KS a register GM gm (what registered does after a
// GROUPKEY-PULL).
func (l *coopLab) addMember(a, gm netip.Addr) {
	k := l.ks[a]
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	g := k.srv.sortedGroups()[0]
	g.members[gm] = &member{address: gm, identity: gm.String(), local: true, registeredAt: l.clk.Now(), registrations: 1}
	g.coop.MembersChanged(l.clk.Now())
}

var ks1, ks2, ks3 = testnet.KS(1).Addr(), testnet.KS(2).Addr(), testnet.KS(3).Addr()

// threeKS starts KSs 1-3 with priorities 100, 75, 50.
func threeKS(t *testing.T, takeover string) (*coopLab, []*config.Config) {
	l := newCOOPLab(t)
	all := []int{1, 2, 3}
	cfgs := []*config.Config{l.coopConfig(1, 100, all, takeover), l.coopConfig(2, 75, all, takeover), l.coopConfig(3, 50, all, takeover)}
	for _, c := range cfgs {
		l.start(c)
	}
	return l, cfgs
}

// TestCOOPElection: three KSs booting together elect the one of highest
// priority (CO-11); every KS logs the election and the new primary, and
// the secondaries hold the primary's keys.
func TestCOOPElection(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	v1, v2, v3 := l.coop(ks1), l.coop(ks2), l.coop(ks3)
	if !v1.primary || v2.primary || v3.primary {
		t.Fatalf("primaries: ks1 %v ks2 %v ks3 %v, want ks1 alone", v1.primary, v2.primary, v3.primary)
	}
	for _, a := range []netip.Addr{ks1, ks2, ks3} {
		if n := len(l.events(a, "COOP_KS_ELECTION")); n != 1 {
			t.Errorf("%s logged COOP_KS_ELECTION %d times", a, n)
		}
		tr := l.events(a, "COOP_KS_TRANS_TO_PRI")
		if len(tr) != 1 || tr[0].fields["ks"] != ks1.String() || tr[0].fields["previous"] != "NONE" {
			t.Errorf("%s: COOP_KS_TRANS_TO_PRI %v, want one naming %s, previous NONE", a, tr, ks1)
		}
		if v := l.coop(a); v.leader != ks1 || !v.synced {
			t.Errorf("%s: leader %s synced %v", a, v.leader, v.synced)
		}
	}
	if v2.kek != v1.kek || v3.kek != v1.kek || fmt.Sprint(v2.teks) != fmt.Sprint(v1.teks) || len(v1.teks) == 0 {
		t.Errorf("keys differ: ks1 %x %v, ks2 %x %v, ks3 %x %v", v1.kek[:4], v1.teks, v2.kek[:4], v2.teks, v3.kek[:4], v3.teks)
	}
	// The primary announces every refresh (20 s) and only then: over
	// 100 s it sends 5 more to each of 2 peers.
	before, quiet := len(l.anns[ks1]), len(l.anns[ks2])+len(l.anns[ks3])
	l.run(100 * time.Second)
	if n := len(l.anns[ks1]) - before; n != 10 {
		t.Errorf("primary sent %d ANNs in 100 s, want 10 (every 20 s to each of 2 peers)", n)
	}
	if n := len(l.anns[ks2]) + len(l.anns[ks3]) - quiet; n != 0 {
		t.Errorf("secondaries sent %d ANNs in steady state, want none (CO-05: \"Ann msgs sent: 0\")", n)
	}
}

// TestCOOPTieBreak: equal priorities elect the highest address.
func TestCOOPTieBreak(t *testing.T) {
	l := newCOOPLab(t)
	all := []int{1, 2, 3}
	for _, n := range all {
		l.start(l.coopConfig(n, 10, all, config.TakeoverPreserveKeys))
	}
	l.run(30 * time.Second)
	if !l.coop(ks3).primary || l.coop(ks1).primary || l.coop(ks2).primary {
		t.Errorf("with equal priorities ks3 (the highest address) is not the only primary")
	}
}

// TestCOOPFailover: the primary dies; the next in priority takes over
// Periodic × (1 + Retransmit) = 90 s after the primary's last ANN
// (CO-16), with the group's keys and members, rekeys every GM at once
// with the sequence number continuing, and logs the old primary
// unreachable every 20 s (CO-18).
func TestCOOPFailover(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	gm := netip.MustParseAddr("192.0.2.11")
	l.addMember(ks2, gm) // registered at a secondary
	l.run(10 * time.Second)
	if n := l.coop(ks1).members; n != 1 {
		t.Fatalf("the primary has %d members 10 s after a secondary registered one, want 1 (5 s batch)", n)
	}
	before := l.coop(ks1)
	lastANN := l.anns[ks1][len(l.anns[ks1])-1]
	l.stop(ks1)
	l.run(120 * time.Second)
	v2 := l.coop(ks2)
	if !v2.primary || l.coop(ks3).primary {
		t.Fatalf("after the primary died: ks2 primary %v, ks3 primary %v", v2.primary, l.coop(ks3).primary)
	}
	tr := l.events(ks2, "COOP_KS_TRANS_TO_PRI")
	last := tr[len(tr)-1]
	if last.fields["ks"] != ks2.String() || last.fields["previous"] != ks1.String() {
		t.Errorf("takeover event %v", last.fields)
	}
	if took := last.at.Sub(lastANN); took < 89*time.Second || took > 91*time.Second {
		t.Errorf("ks2 took over %v after ks1's last ANN, want 90 s", took)
	}
	if v2.kek != before.kek || fmt.Sprint(v2.teks) != fmt.Sprint(before.teks) {
		t.Errorf("preserve-keys takeover changed the keys: %x %v, were %x %v", v2.kek[:4], v2.teks, before.kek[:4], before.teks)
	}
	rk := l.events(ks2, "KS_SEND_UNICAST_REKEY")
	if len(rk) == 0 || rk[0].at.Sub(last.at) > time.Second || rk[0].fields["gms"] != "1" {
		t.Fatalf("no takeover rekey to the GM at once: %v", rk)
	}
	if seq := rk[0].fields["seq"]; seq != fmt.Sprint(before.seq+1) {
		t.Errorf("takeover rekey seq %s, want %d (continuing)", seq, before.seq+1)
	}
	un := l.events(ks2, "COOP_KS_UNREACH")
	if len(un) < 2 || un[1].at.Sub(un[0].at) != 20*time.Second {
		t.Errorf("COOP_KS_UNREACH for the dead primary: %v, want one every 20 s", un)
	}
	for _, e := range l.events(ks3, "COOP_KS_TRANS_TO_PRI") {
		if e.fields["ks"] == ks3.String() {
			t.Errorf("ks3 became primary too")
		}
	}
}

// TestCOOPRestartRejoins: a restarted KS takes the group's keys from its
// peers instead of making new ones, and does not take the primary role
// back though its priority is the highest (no pre-emption, CO-41).
func TestCOOPRestartRejoins(t *testing.T) {
	l, cfgs := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	l.stop(ks1)
	l.run(120 * time.Second) // ks2 takes over
	keys := l.coop(ks2)
	l.start(cfgs[0])
	l.run(60 * time.Second)
	v1 := l.coop(ks1)
	if v1.primary || !l.coop(ks2).primary {
		t.Fatalf("after ks1's restart: ks1 primary %v, ks2 primary %v (want no pre-emption)", v1.primary, l.coop(ks2).primary)
	}
	if v1.kek != keys.kek || fmt.Sprint(v1.teks) != fmt.Sprint(keys.teks) || !v1.synced {
		t.Errorf("restarted ks1 holds %x %v (synced %v), the group %x %v", v1.kek[:4], v1.teks, v1.synced, keys.kek[:4], keys.teks)
	}
	if l.coop(ks2).kek != keys.kek {
		t.Errorf("the group's KEK changed when ks1 came back")
	}
	if len(l.events(ks2, "COOP_KS_REACH")) == 0 {
		t.Errorf("ks2 logged no COOP_KS_REACH for ks1")
	}
}

// TestCOOPSplitAndMerge: a partition elects a primary on each side, each
// rekeying its own GMs; when it heals the lower-priority primary demotes,
// hands its GMs over to the winner's KEK, and every KS ends with one KEK
// and both sides' TEKs (CO-50, CO-51).
func TestCOOPSplitAndMerge(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	l.addMember(ks1, netip.MustParseAddr("192.0.2.11"))
	l.addMember(ks2, netip.MustParseAddr("192.0.2.12"))
	l.run(10 * time.Second)
	l.cut = func(a, b netip.Addr) bool { return (a == ks1) != (b == ks1) }
	l.run(120 * time.Second)
	if !l.coop(ks1).primary || !l.coop(ks2).primary {
		t.Fatalf("split: ks1 primary %v, ks2 primary %v, want both", l.coop(ks1).primary, l.coop(ks2).primary)
	}
	// A TEK rollover on both sides during the split.
	l.ks[ks1].srv.mu.Lock()
	l.ks[ks1].srv.startRound(l.ks[ks1].srv.sortedGroups()[0], l.clk.Now(), true, true)
	l.ks[ks1].srv.mu.Unlock()
	l.run(time.Second)
	a, b := l.coop(ks1), l.coop(ks2)
	if a.kek == b.kek {
		t.Fatalf("the sides share a KEK after ks1's KEK rekey")
	}
	l.cut = nil
	l.run(60 * time.Second)
	a, b, c := l.coop(ks1), l.coop(ks2), l.coop(ks3)
	if !a.primary || b.primary || c.primary {
		t.Fatalf("after the merge: primaries ks1 %v ks2 %v ks3 %v, want ks1", a.primary, b.primary, c.primary)
	}
	if b.kek != a.kek || c.kek != a.kek {
		t.Errorf("after the merge the KEKs differ: %x %x %x", a.kek[:4], b.kek[:4], c.kek[:4])
	}
	if fmt.Sprint(b.teks) != fmt.Sprint(a.teks) || fmt.Sprint(c.teks) != fmt.Sprint(a.teks) {
		t.Errorf("after the merge the TEKs differ: %v %v %v", a.teks, b.teks, c.teks)
	}
	if len(a.teks) < 4 {
		t.Errorf("the winner holds %d TEKs, want both sides' (4 or more)", len(a.teks))
	}
	if d := l.events(ks2, "KS_SEND_UNICAST_REKEY"); len(d) == 0 || !strings.HasPrefix(d[len(d)-1].fields["kind"], "kek") {
		t.Errorf("the demoted primary sent no hand-over rekey: %v", d)
	}
}

// TestCOOPUnauthorizedPeer: an ANN from a KS that is not a peer is
// dropped before decryption and logged (CO-62).
func TestCOOPUnauthorizedPeer(t *testing.T) {
	l := newCOOPLab(t)
	l.start(l.coopConfig(1, 100, []int{1, 2}, config.TakeoverPreserveKeys))
	l.start(l.coopConfig(2, 50, []int{1, 2}, config.TakeoverPreserveKeys))
	l.start(l.coopConfig(3, 50, []int{1, 3}, config.TakeoverPreserveKeys)) // ks1 does not list ks3
	l.run(30 * time.Second)
	if len(l.events(ks1, "COOP_KS_UNAUTH")) == 0 {
		t.Errorf("ks1 logged no COOP_KS_UNAUTH for ks3")
	}
	if l.coop(ks1).members != 0 || !l.coop(ks1).primary {
		t.Errorf("ks1 state changed by ks3's ANNs")
	}
}

// TestANNSizes: an ANN grows by 12 octets per member (MEMBERS, CO-04):
// the sizes for 10, 100, 1000 and 2000 GMs, sealed under a phase-1 SA,
// against the seeds' "about 25 KB for 2000 GMs". The largest group that
// fits maxANN is what COOP_PACKET_DROPPED guards.
func TestANNSizes(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	k := l.ks[ks1].srv
	k.mu.Lock()
	defer k.mu.Unlock()
	g := k.sortedGroups()[0]
	sa := k.p1.Live(k.peerEndpoint(ks2))
	if sa == nil {
		t.Fatal("no phase-1 SA with ks2")
	}
	size := func(n int) int {
		g.members = map[netip.Addr]*member{}
		for i := range n {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			g.members[a] = &member{address: a, registeredAt: l.clk.Now(), registrations: 1}
		}
		pkt, err := coop.Seal(sa, k.annFor(g, 0))
		if err != nil {
			t.Fatal(err)
		}
		return len(pkt)
	}
	base := size(0)
	for _, n := range []int{10, 100, 1000, 2000} {
		got := size(n)
		t.Logf("ANN with %d members: %d octets (UDP payload), %d IP fragments at MTU 1500", n, got, (got+8+1479)/1480)
		if d := got - base - wire.MemberLen*n; d < -16 || d > 16 {
			t.Errorf("%d members: %d octets, want %d + 12 × %d (+ CBC padding)", n, got, base, n)
		}
	}
	if n := (maxANN - base) / wire.MemberLen; n < 5000 {
		t.Errorf("an ANN holds only %d members", n)
	}
}

// TestCOOPReplayDropped: an ANN delivered again is dropped by its
// anti-replay number and counted as a receive drop; the state it carried
// (an old primary's, say) is not applied again.
func TestCOOPReplayDropped(t *testing.T) {
	l, _ := threeKS(t, config.TakeoverPreserveKeys)
	l.run(30 * time.Second)
	var old dgram
	for _, d := range l.delivered {
		if d.from.Addr() == ks1 && d.to.Addr() == ks2 {
			old = d
			break
		}
	}
	if old.pkt == nil {
		t.Fatal("no ANN from ks1 to ks2")
	}
	drops := func() uint64 {
		for _, g := range l.ks[ks2].srv.COOP() {
			for _, p := range g.Peers {
				if p.Address == ks1.String() {
					return p.PacketRecvDrops
				}
			}
		}
		return 0
	}
	before := drops()
	l.ks[ks2].srv.HandlePacket(old.from, old.pkt)
	if got := drops(); got != before+1 {
		t.Errorf("replayed ANN: receive drops %d, want %d", got, before+1)
	}
	if !l.coop(ks1).primary || l.coop(ks2).primary || l.coop(ks2).leader != ks1 {
		t.Errorf("the replay changed the roles: ks1 %+v ks2 %+v", *l.coop(ks1), *l.coop(ks2))
		for _, e := range l.seen[ks2] {
			t.Log(e.at.Format("05.000"), e.name, e.fields)
		}
	}
}
