package dataplane

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/internal/testnet"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// outside is a host in neither site: no policy entry matches it.
var outside = netip.MustParseAddr("192.0.2.99")

// verdict is what came out of the engine for one packet.
func verdict(out [][]byte) string {
	switch {
	case len(out) == 0:
		return "drop"
	case ipv4.Protocol(out[0]) == ipv4.ProtoESP:
		return "esp"
	default:
		return "clear"
	}
}

// TestDirectionTruthTable is S0 Table 5 (GM-60): each packet class on
// each side, in each direction mode.
func TestDirectionTruthTable(t *testing.T) {
	want := map[string][6]string{
		// in: ESP matching, ESP unknown SPI, clear matching, clear not
		// matching; out: clear matching, clear not matching.
		config.DirectionBoth:            {"clear", "drop", "drop", "clear", "esp", "clear"},
		config.DirectionInboundOnly:     {"clear", "drop", "clear", "clear", "clear", "clear"},
		config.DirectionInboundOptional: {"clear", "drop", "clear", "clear", "esp", "clear"},
	}
	for dir, w := range want {
		_, a, b := pair(t, "aes128gcm16")
		b.e.SetDirection("GETVPN", dir)
		matching := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false)
		other := udp(testnet.Host(1), outside, 5000, 6000, 100, false)
		esp := a.run(false, matching)[0]
		unknown := append([]byte(nil), esp...)
		unknown[20] ^= 0xff // SPI
		back := udp(testnet.Host(2), testnet.Host(1), 6000, 5000, 100, false)
		backOther := udp(testnet.Host(2), outside, 6000, 5000, 100, false)
		got := [6]string{
			verdict(b.run(true, esp)), verdict(b.run(true, unknown)),
			verdict(b.run(true, matching)), verdict(b.run(true, other)),
			verdict(b.run(false, back)), verdict(b.run(false, backOther)),
		}
		if got != w {
			t.Errorf("%s: got %v, want %v (in: esp, unknown spi, clear match, clear other; out: match, other)", dir, got, w)
		}
	}
}

// TestPassiveSendsOnReceiveOnlyTEKs: the KS's receive-only TEKs
// (SA_DIRECTION 2) are still sealable, so a passive GM (inbound-optional)
// encrypts on them while receive-only GMs send clear (GM-64).
func TestPassiveSendsOnReceiveOnlyTEKs(t *testing.T) {
	clk, a, _ := pair(t, "aes128gcm16")
	p := groupPolicy(t, "aes128gcm16", 1)
	for i := range p.TEKs {
		p.TEKs[i].Direction = gdoiwire.SADirReceiverOnly
	}
	if err := a.e.Install("GETVPN", p, clk.Now()); err != nil {
		t.Fatal(err)
	}
	pkt := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false)
	for dir, want := range map[string]string{config.DirectionInboundOnly: "clear", config.DirectionInboundOptional: "esp"} {
		a.e.SetDirection("GETVPN", dir)
		if got := verdict(a.run(false, pkt)); got != want {
			t.Errorf("%s on receiver-only TEKs: %s, want %s", dir, got, want)
		}
	}
	if a.e.Count(OutClearInboundOnly) != 1 {
		t.Errorf("out_clear_inbound_only %d, want 1", a.e.Count(OutClearInboundOnly))
	}
}

// failCloseMember is a GM of groups with fail-close activated: SSH
// denied (passes in clear), UDP permitted (dropped). install gives a group
// keys.
func failCloseMember(t *testing.T, groups ...string) (*member, func(string)) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1e9, 0))
	var gs []config.Group
	for _, g := range groups {
		gs = append(gs, config.Group{Name: g})
	}
	ssh := config.ACE{Protocol: ipv4.ProtoTCP, DestinationPort: config.PortRange{Lo: 22, Hi: 22}}
	m := &member{}
	m.e = New(Options{Clock: clock.New(1, clk.Now), Local: testnet.GM(1).Addr(), LocalDenyInbound: "accept-both", Groups: gs,
		FailClose: &config.FailClose{Activate: true, ACL: []config.ACE{ssh, {Permit: true, Protocol: ipv4.ProtoUDP}}}})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	install := func(g string) {
		if err := m.e.Install(g, groupPolicy(t, "aes128gcm16", 1), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return m, install
}

// tcp is a TCP segment to dport (from 40000).
func tcp(src, dst netip.Addr, dport uint16) []byte {
	b := udp(src, dst, 40000, dport, 20, false)
	b[9] = ipv4.ProtoTCP
	b[10], b[11] = 0, 0
	return b
}

// TestFailClose: armed until every group has keys, its ACL's deny entries
// (and nothing else) passing both ways; removed once keyed, armed again by
// a group's removal; a policy without TEKs leaves it armed (GM-51, GM-53).
func TestFailClose(t *testing.T) {
	m, install := failCloseMember(t, "A", "B")
	data := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false)
	ssh := tcp(testnet.Host(1), outside, 22)
	sshBack := tcp(outside, testnet.Host(1), 22)
	sshBack[20], sshBack[21], sshBack[22], sshBack[23] = 0, 22, 0x9c, 0x40 // from port 22 to 40000
	check := func(stage string, want [4]string) {
		t.Helper()
		got := [4]string{verdict(m.run(false, data)), verdict(m.run(true, data)), verdict(m.run(false, ssh)), verdict(m.run(true, sshBack))}
		if got != want {
			t.Errorf("%s: got %v, want %v (data out, data in, ssh out, ssh back in)", stage, got, want)
		}
	}
	check("before registration", [4]string{"drop", "drop", "clear", "clear"})
	// GDOI of another GM forwarded through this one is policy like any
	// traffic: dropped unless the ACL denies it (GM-52); the GM's own
	// never passes through the data plane.
	if got := verdict(m.run(false, udp(testnet.Host(1), outside, 848, 848, 60, false))); got != "drop" {
		t.Errorf("transit GDOI while armed: %s, want drop (no deny udp 848 entry)", got)
	}
	if !m.e.FailCloseArmed() {
		t.Fatal("fail-close not armed before registration")
	}
	install("A")
	// Group A encrypts its traffic; what it does not cover still meets
	// the fail-close ACL, armed until B has keys too.
	check("A registered", [4]string{"esp", "drop", "clear", "clear"})
	if got := verdict(m.run(false, udp(testnet.Host(1), outside, 1, 2, 10, false))); got != "drop" {
		t.Errorf("A registered, B not: traffic outside A's policy %s, want drop", got)
	}
	empty := groupPolicy(t, "aes128gcm16", 1)
	empty.TEKs = nil
	if err := m.e.Install("B", empty, m.e.opt.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if !m.e.FailCloseArmed() {
		t.Error("a policy without TEKs (GM-53) removed fail-close")
	}
	install("B")
	if m.e.FailCloseArmed() {
		t.Fatal("fail-close still armed with every group keyed")
	}
	if got := verdict(m.run(false, udp(testnet.Host(1), outside, 1, 2, 10, false))); got != "clear" {
		t.Errorf("after registration, traffic outside the policy %s, want clear", got)
	}
	m.e.Remove("A")
	if !m.e.FailCloseArmed() {
		t.Error("removing a group's keys (clear, removal now) did not arm fail-close again")
	}
	for _, c := range []Counter{OutDropFailClose, InDropFailClose, OutClearFailClose, InClearFailClose} {
		if m.e.Count(c) == 0 {
			t.Errorf("%s not counted", CounterName(c))
		}
	}
}

// TestFailCloseTransitGDOI: with the seeds' "deny udp any eq 848 any eq
// 848" entry, a downstream GM's registration crosses an unregistered
// fail-close GM (GM-52).
func TestFailCloseTransitGDOI(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := &member{}
	transit := config.ACE{Protocol: ipv4.ProtoUDP, SourcePort: config.PortRange{Lo: 848, Hi: 848}, DestinationPort: config.PortRange{Lo: 848, Hi: 848}}
	m.e = New(Options{Clock: clock.New(1, clk.Now), Local: testnet.GM(1).Addr(), LocalDenyInbound: "ios", Groups: []config.Group{{Name: "A"}},
		FailClose: &config.FailClose{Activate: true, ACL: []config.ACE{transit}}})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	if got := verdict(m.run(false, udp(testnet.Host(1), outside, 848, 848, 60, false))); got != "clear" {
		t.Errorf("transit GDOI out: %s, want clear", got)
	}
	if got := verdict(m.run(true, udp(outside, testnet.Host(1), 848, 848, 60, false))); got != "clear" {
		t.Errorf("transit GDOI back: %s, want clear", got)
	}
	if got := verdict(m.run(false, udp(testnet.Host(1), outside, 848, 9, 60, false))); got != "drop" {
		t.Errorf("other UDP: %s, want drop", got)
	}
}

// TestDeletedSAsGoAtOnce: a policy naming deleted SPIs drops their SAs
// whatever lifetime they had left (replace-now, removal now).
func TestDeletedSAsGoAtOnce(t *testing.T) {
	clk, a, b := pair(t, "aes128gcm16")
	esp := a.run(false, udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false))[0]
	p := groupPolicy(t, "aes128gcm16", 2)
	p.TEKs = p.TEKs[1:]
	p.Deleted = []uint32{0x1001}
	if err := b.e.Install("GETVPN", p, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := verdict(b.run(true, esp)); got != "drop" || b.e.Count(InDropUnknownSPI) != 1 {
		t.Fatalf("ESP on a deleted SPI: %s, unknown-SPI drops %d", got, b.e.Count(InDropUnknownSPI))
	}
	if fmt.Sprint(b.e.state.Load().bySPI[0x2002] != nil) != "true" {
		t.Fatal("the TEK not deleted went too")
	}
}
