package phase1

import (
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/transport"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// side is one daemon's layer on the test network: what arrives for it
// waits in inbox until the test pumps it.
type side struct {
	l       *Layer
	addr    netip.AddrPort
	inbox   <-chan []byte
	log     *strings.Builder
	dropped []*ikev1.SA
	dead    []*ikev1.SA
}

// pair is a GM-like initiator and a KS-like responder on one fake clock.
type pair struct {
	t      testing.TB
	clk    *clock.Fake
	net    *transport.Net
	gm, ks *side
	// lose drops what the KS sends (its R-U-THERE-ACKs).
	lose bool
}

func testConfig(role config.Role, peer netip.Addr, scale float64, ka config.Keepalive) *config.Config {
	return &config.Config{
		Role:   role,
		Timers: config.Timers{Scale: scale},
		IKE: config.IKE{
			Policies:      []config.IKEPolicy{{Encryption: "aes128", Hash: "sha256", DHGroup: 19, Lifetime: 1200 * time.Second}},
			PreSharedKeys: []config.PSK{{Peer: peer, Key: "lab-secret"}},
			Keepalive:     ka,
		},
		Limits: config.Limits{IKESAsPerPeer: 4, IKESAsGlobal: 100},
		Groups: []config.Group{{Name: "GETVPN", ID: 1234}},
	}
}

func newSide(t testing.TB, n *transport.Net, clk *clock.Fake, addr netip.AddrPort, cfg *config.Config, role Role) *side {
	t.Helper()
	s := &side{addr: addr, log: &strings.Builder{}, inbox: n.Inbox(addr)}
	env := Env{Events: events.New(s.log, "text", "debug"), Counters: &events.Counters{}, Send: n.From(addr), Local: addr, Now: clk.Now}
	l, err := New(cfg, env, clock.New(cfg.Timers.Scale, clk.Now), role)
	if err != nil {
		t.Fatal(err)
	}
	l.OnDrop = func(sa *ikev1.SA) { s.dropped = append(s.dropped, sa) }
	l.OnPeerDead = func(sa *ikev1.SA) { s.dead = append(s.dead, sa) }
	s.l = l
	return s
}

func newPair(t testing.TB, scale float64, ka config.Keepalive) *pair {
	p := &pair{t: t, clk: clock.NewFake(t0), net: transport.NewSyncNet()}
	p.gm = newSide(t, p.net, p.clk, testnet.GM(1), testConfig(config.RoleGM, testnet.KS(1).Addr(), scale, ka), Role{})
	p.ks = newSide(t, p.net, p.clk, testnet.KS(1), testConfig(config.RoleKS, testnet.GM(1).Addr(), scale, config.Keepalive{}), Role{AnswerUnknownSA: true})
	p.net.Drop(func(d transport.Datagram) bool { return p.lose && d.From == testnet.KS(1) })
	return p
}

// mainMode runs main mode from the GM to the KS and enters the SA on both
// sides; it returns the GM's SA.
func (p *pair) mainMode() *ikev1.SA {
	p.t.Helper()
	ini, err := ikev1.NewInitiator(p.gm.l.IKE(), testnet.GM(1), testnet.KS(1))
	if err != nil {
		p.t.Fatal(err)
	}
	res := ikev1.NewResponder(p.ks.l.IKE(), testnet.KS(1), testnet.GM(1))
	msg, err := ini.Start()
	for err == nil && ini.SA() == nil {
		var reply []byte
		if reply, err = res.Handle(msg); err == nil {
			msg, err = ini.Handle(reply)
		}
	}
	if err != nil || res.SA() == nil {
		p.t.Fatalf("main mode: %v", err)
	}
	p.gm.l.Established(ini.SA())
	p.ks.l.Established(res.SA())
	return ini.SA()
}

// pump hands what waits in each inbox to its layer, until none waits.
func (p *pair) pump() {
	for {
		moved := false
		for _, s := range []*side{p.gm, p.ks} {
			for len(s.inbox) > 0 {
				b := <-s.inbox
				moved = true
				h, _, err := isakmp.ParseHeader(b)
				if err != nil {
					p.t.Fatalf("%s got an unparsable datagram: %v", s.addr, err)
				}
				from := testnet.GM(1)
				if s == p.gm {
					from = testnet.KS(1)
				}
				s.l.Informational(from, h, b)
			}
		}
		if !moved {
			return
		}
	}
}

// run steps the GM's layer from deadline to deadline until protocol time
// end (seconds after t0), and returns when (protocol seconds) each
// datagram the GM sent left.
func (p *pair) run(end float64, scale float64) (sent []float64) {
	p.net.Tap(func(d transport.Datagram) {
		if d.From == testnet.GM(1) {
			sent = append(sent, p.protocol(scale))
		}
	})
	for range 1000 {
		d := p.gm.l.Deadline()
		if d.IsZero() || d.Sub(t0).Seconds()/scale > end {
			break
		}
		p.clk.Set(d)
		p.gm.l.Timeout(d)
		p.pump()
	}
	p.clk.Set(t0.Add(time.Duration(end * scale * float64(time.Second))))
	return sent
}

func (p *pair) protocol(scale float64) float64 {
	return float64(p.clk.Now().Sub(t0)) / float64(time.Second) / scale
}

func count(s *side, name string) uint64 { return s.l.env.Counters.Snapshot()[name] }

var seeds = config.Keepalive{Interval: 15 * time.Second, Retry: 2 * time.Second, Periodic: true}

// The seeds' "crypto isakmp keepalive 15 periodic": an R-U-THERE every
// 15 s, each answered, the SA kept; the responder, which initiated
// nothing, sends none.
func TestKeepalivePeriodicAnswered(t *testing.T) {
	for _, scale := range []float64{1, 0.01} {
		p := newPair(t, scale, seeds)
		p.mainMode()
		sent := p.run(100, scale)
		want := []float64{15, 30, 45, 60, 75, 90}
		if !approx(sent, want) {
			t.Errorf("scale %v: R-U-THEREs at %v s, want %v", scale, sent, want)
		}
		if count(p.gm, "dpd_sent") != 6 || count(p.gm, "dpd_acked") != 6 || count(p.ks, "dpd_answered") != 6 {
			t.Errorf("scale %v: counters gm %v ks %v", scale, p.gm.l.env.Counters.Snapshot(), p.ks.l.env.Counters.Snapshot())
		}
		if count(p.ks, "dpd_sent") != 0 || p.gm.l.Len() != 1 || len(p.gm.dead) != 0 {
			t.Errorf("scale %v: the responder probed, or the SA went", scale)
		}
		if s := p.gm.l.Snapshot(); len(s) != 1 || !s[0].Keepalive || s[0].Unanswered != 0 {
			t.Errorf("scale %v: snapshot %+v", scale, s)
		}
	}
}

// Five R-U-THEREs without an answer, 2 s apart, make the peer dead at
// interval + 5 × retry = 25 s (CO-03): the SA goes, with an event.
func TestKeepaliveDeadAfterFiveUnanswered(t *testing.T) {
	p := newPair(t, 1, seeds)
	sa := p.mainMode()
	p.lose = true
	sent := p.run(40, 1)
	if want := []float64{15, 17, 19, 21, 23}; !approx(sent, want) {
		t.Errorf("R-U-THEREs at %v s, want %v", sent, want)
	}
	if len(p.gm.dead) != 1 || p.gm.dead[0] != sa || p.gm.l.Len() != 0 || len(p.gm.dropped) != 1 {
		t.Fatalf("dead %d, SAs %d, dropped %d", len(p.gm.dead), p.gm.l.Len(), len(p.gm.dropped))
	}
	if count(p.gm, "dpd_peer_dead") != 1 || count(p.gm, "dpd_acked") != 0 {
		t.Errorf("counters %v", p.gm.l.env.Counters.Snapshot())
	}
	if !strings.Contains(p.gm.log.String(), "IKE_PEER_DEAD") || !strings.Contains(p.gm.log.String(), "unanswered=5") {
		t.Errorf("log:\n%s", p.gm.log)
	}
	if d := p.gm.l.Deadline(); !d.IsZero() {
		t.Errorf("a deadline %v with no SA left", d)
	}
}

// Answers that come back after two retries keep the peer alive, and the
// periodic schedule goes on from the run's first R-U-THERE.
func TestKeepaliveRetryAnswered(t *testing.T) {
	p := newPair(t, 1, seeds)
	p.mainMode()
	p.lose = true
	early := p.run(19.5, 1) // 15, 17, 19 unanswered
	p.lose = false
	late := p.run(40, 1) // 21 answered; then 30
	if !approx(early, []float64{15, 17, 19}) || !approx(late, []float64{21, 30}) {
		t.Errorf("R-U-THEREs at %v then %v", early, late)
	}
	if p.gm.l.Len() != 1 || count(p.gm, "dpd_acked") != 2 {
		t.Errorf("SAs %d, counters %v", p.gm.l.Len(), p.gm.l.env.Counters.Snapshot())
	}
}

// On demand, an R-U-THERE goes only after an interval without proof of
// life from the peer.
func TestKeepaliveOnDemand(t *testing.T) {
	ka := seeds
	ka.Periodic = false
	p := newPair(t, 1, ka)
	sa := p.mainMode()
	p.clk.Set(t0.Add(10 * time.Second))
	p.gm.l.Heard(sa.Cookies())
	sent := p.run(50, 1)
	if want := []float64{25, 40}; !approx(sent, want) {
		t.Errorf("R-U-THEREs at %v s, want %v", sent, want)
	}
}

// An R-U-THERE-ACK nobody asked for (a replayed one, or for a sequence
// number not sent) proves nothing and is counted.
func TestKeepaliveUnexpectedAck(t *testing.T) {
	p := newPair(t, 1, seeds)
	p.mainMode()
	ksSA := only(t, p.ks.l)
	p.lose = true
	p.run(17.5, 1) // two unanswered
	e := p.gm.l.sas[ksSA.Cookies()]
	ack := ksSA.RUThereAck(e.dpd.first - 1)
	h, _, _ := isakmp.ParseHeader(ack)
	if n := p.gm.l.Informational(testnet.KS(1), h, ack); n != nil {
		t.Errorf("an ACK returned to the role: %+v", n)
	}
	if count(p.gm, "dpd_unexpected") != 1 || e.dpd.unanswered != 2 {
		t.Errorf("counters %v, unanswered %d", p.gm.l.env.Counters.Snapshot(), e.dpd.unanswered)
	}
}

// A peer that did not announce DPD is never probed (RFC 3706 §5.1).
func TestKeepaliveNeedsPeerDPD(t *testing.T) {
	p := newPair(t, 1, seeds)
	p.ks.l.IKE().DPD = false
	p.mainMode()
	if sent := p.run(100, 1); len(sent) != 0 {
		t.Errorf("R-U-THEREs at %v to a peer without DPD", sent)
	}
}

// Notifications other than DPD go to the role, logged; a protected
// message on an unknown SA gets INVALID-COOKIE from a KS-like layer only.
func TestInformational(t *testing.T) {
	p := newPair(t, 1, config.Keepalive{})
	sa := p.mainMode()
	c := sa.Cookies()
	n := sa.Notify(isakmp.NotifyInvalidIDInformation, c[:], []byte("no"))
	h, _, _ := isakmp.ParseHeader(n)
	if got := p.ks.l.Informational(testnet.GM(1), h, n); got == nil || got.MessageType != isakmp.NotifyInvalidIDInformation {
		t.Errorf("notification %+v", got)
	}
	if !strings.Contains(p.ks.log.String(), "IKE_NOTIFY_RECV") {
		t.Errorf("log:\n%s", p.ks.log)
	}
	// Both forget the SA: the KS answers INVALID-COOKIE, the GM nothing.
	p.ks.l.DropPeer(testnet.GM(1))
	p.gm.l.DropPeer(testnet.KS(1))
	p.ks.l.Informational(testnet.GM(1), h, n)
	if count(p.ks, "invalid_cookie_sent") != 1 || len(p.gm.inbox) != 1 {
		t.Errorf("KS counters %v", p.ks.l.env.Counters.Snapshot())
	}
	p.gm.l.Informational(testnet.KS(1), h, n)
	if count(p.gm, "invalid_cookie_sent") != 0 || count(p.gm, "informational_unknown_sa") != 1 || len(p.ks.inbox) != 0 {
		t.Errorf("GM counters %v", p.gm.l.env.Counters.Snapshot())
	}
	// A tampered one, on an SA both have, is malformed.
	p.mainMode()
	sa2 := only(t, p.ks.l)
	bad := sa2.Notify(isakmp.NotifyInvalidIDInformation, c[:], nil)
	bad[len(bad)-1] ^= 1
	h2, _, _ := isakmp.ParseHeader(bad)
	if p.ks.l.Informational(testnet.GM(1), h2, bad); count(p.ks, "malformed_packets") != 1 {
		t.Errorf("KS counters %v", p.ks.l.env.Counters.Snapshot())
	}
}

// SAs leave at the end of their lifetime, counted; Live skips them.
func TestExpiry(t *testing.T) {
	for _, scale := range []float64{1, 0.01} {
		p := newPair(t, scale, config.Keepalive{})
		p.mainMode()
		if p.gm.l.Live(testnet.KS(1)) == nil {
			t.Fatal("no live SA")
		}
		end := t0.Add(time.Duration(1200 * scale * float64(time.Second)))
		if d := p.gm.l.Deadline(); !d.Equal(end) {
			t.Errorf("scale %v: deadline %v, want %v", scale, d, end)
		}
		p.clk.Set(end.Add(-time.Nanosecond))
		p.gm.l.Timeout(p.clk.Now())
		if p.gm.l.Len() != 1 {
			t.Errorf("scale %v: the SA left before its end", scale)
		}
		p.clk.Set(end)
		if p.gm.l.Live(testnet.KS(1)) != nil {
			t.Errorf("scale %v: Live returned an expired SA", scale)
		}
		p.gm.l.Timeout(end)
		if p.gm.l.Len() != 0 || count(p.gm, "ike_sa_expired") != 1 || len(p.gm.dropped) != 1 {
			t.Errorf("scale %v: %d SAs, counters %v", scale, p.gm.l.Len(), p.gm.l.env.Counters.Snapshot())
		}
	}
}

// The caps: a peer's fifth SA replaces its oldest; past the global cap the
// oldest of all goes. The order index stays bounded.
func TestCaps(t *testing.T) {
	p := newPair(t, 1, config.Keepalive{})
	p.ks.l.global = 6
	var first *ikev1.SA
	for i := range 5 {
		p.mainMode()
		if i == 0 {
			first = only(t, p.ks.l)
		}
	}
	if p.ks.l.PeerLen(testnet.GM(1).Addr()) != 4 || p.ks.l.Get(first.Cookies()) != nil || count(p.ks, "ike_sa_replaced") != 1 {
		t.Errorf("per peer: %d SAs, counters %v", p.ks.l.PeerLen(testnet.GM(1).Addr()), p.ks.l.env.Counters.Snapshot())
	}
	if len(p.ks.dropped) != 1 || p.ks.dropped[0] != first {
		t.Errorf("OnDrop got %d SAs", len(p.ks.dropped))
	}
	other := ikev1.SA{ICookie: [8]byte{9}, RCookie: [8]byte{9}, Peer: testnet.Stranger()}
	other.Suite.Lifetime = time.Hour
	for i := range 3 {
		sa := other
		sa.ICookie[1] = byte(i)
		p.ks.l.Established(&sa)
	}
	if p.ks.l.Len() != 6 || count(p.ks, "ike_sa_global_limit") != 1 {
		t.Errorf("global: %d SAs, counters %v", p.ks.l.Len(), p.ks.l.env.Counters.Snapshot())
	}
	if !strings.Contains(p.ks.log.String(), "scope=KS") || !strings.Contains(p.ks.log.String(), "scope=peer") {
		t.Errorf("log:\n%s", p.ks.log)
	}
	for range 200 {
		p.ks.l.Established(&other)
		other.ICookie[2]++
	}
	if len(p.ks.l.order) > 2*p.ks.l.Len()+64 {
		t.Errorf("order index %d for %d SAs", len(p.ks.l.order), p.ks.l.Len())
	}
}

// Failed sorts main-mode failures into their counters.
func TestFailed(t *testing.T) {
	p := newPair(t, 1, config.Keepalive{})
	p.ks.l.Failed(testnet.GM(1), ikev1.ErrNoPreSharedKey)
	p.ks.l.Failed(testnet.GM(1), &ikev1.NotifyError{Type: isakmp.NotifyAuthenticationFailed})
	p.ks.l.Failed(testnet.GM(1), &ikev1.IdentityError{Identity: "gm9"})
	p.ks.l.Failed(testnet.GM(1), io.ErrUnexpectedEOF)
	c := p.ks.l.env.Counters.Snapshot()
	if c["ike_no_psk"] != 1 || c["ike_failed_authentication_failed"] != 1 || c["ike_unauthorized_identity"] != 1 || c["ike_failed"] != 1 {
		t.Errorf("counters %v", c)
	}
	if !strings.Contains(p.ks.log.String(), "group=GETVPN") {
		t.Errorf("UNAUTHORIZED_IDENTITY without the groups:\n%s", p.ks.log)
	}
}

// only is a layer's one SA.
func only(t testing.TB, l *Layer) *ikev1.SA {
	t.Helper()
	if len(l.sas) != 1 {
		t.Fatalf("%d SAs, want one", len(l.sas))
	}
	for _, e := range l.sas {
		return e.sa
	}
	return nil
}

func approx(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-6 || d < -1e-6 {
			return false
		}
	}
	return true
}

// The same cookies twice (a replayed exchange) leave one SA, the newer,
// and the indexes agree.
func TestEstablishedTwice(t *testing.T) {
	p := newPair(t, 1, config.Keepalive{})
	sa := p.mainMode()
	again := *sa
	p.gm.l.Established(&again)
	if p.gm.l.Len() != 1 || p.gm.l.PeerLen(testnet.KS(1).Addr()) != 1 || p.gm.l.Get(sa.Cookies()) != &again {
		t.Errorf("%d SAs, %d by peer", p.gm.l.Len(), p.gm.l.PeerLen(testnet.KS(1).Addr()))
	}
}
