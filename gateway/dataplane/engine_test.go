package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

var anyNet = netip.MustParsePrefix("0.0.0.0/0")

// groupPolicy is what a KS would hand out: deny UDP 848, two permits
// (site A <-> site B) on transform tr, lifetime 3600 s, Sender-ID sid.
func groupPolicy(t *testing.T, tr string, sid uint32) *gdoi.Policy {
	t.Helper()
	x, err := espwire.ParseTransform(tr)
	if err != nil {
		t.Fatal(err)
	}
	tek := func(spi uint32, src, dst netip.Prefix) gdoi.TEK {
		return gdoi.TEK{SPI: spi, Transform: x, Selector: gdoi.Selector{Src: src, Dst: dst}, Lifetime: time.Hour,
			EncKey: bytes.Repeat([]byte{byte(spi)}, x.EncKeyLen()), AuthKey: bytes.Repeat([]byte{byte(spi >> 8)}, x.AuthKeyLen()),
			AddrPreserve: gdoiwire.AddrPreserveSrcDst, Direction: gdoiwire.SADirSymmetric}
	}
	return &gdoi.Policy{
		GroupID: 1234,
		TEKs:    []gdoi.TEK{tek(0x1001, testnet.Site(1), testnet.Site(2)), tek(0x2002, testnet.Site(2), testnet.Site(1))},
		Deny:    []gdoi.Selector{{Protocol: 17, Src: anyNet, Dst: anyNet, DstPort: 848}},
		SIDs:    []uint32{sid}, SIDBits: 16,
	}
}

// member is one GM's engine and a worker that records what it emits.
type member struct {
	e   *Engine
	w   *Worker
	out [][]byte
}

func newMember(t *testing.T, clk *clock.Fake, local netip.Addr, localACL []config.ACE, inbound string) *member {
	m := &member{}
	m.e = New(Options{Clock: clock.New(1, clk.Now), Local: local, MTU: 1500, LocalDenyInbound: inbound,
		Groups: []config.Group{{Name: "GETVPN", LocalACL: localACL}}})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	return m
}

// send runs pkt through Outbound (or Inbound) in a buffer with headroom and
// returns what came out.
func (m *member) run(inbound bool, pkt []byte) [][]byte {
	m.out = nil
	buf := make([]byte, Headroom+len(pkt)+Tailroom)
	copy(buf[Headroom:], pkt)
	if inbound {
		m.w.Inbound(buf, Headroom, len(pkt))
	} else {
		m.w.Outbound(buf, Headroom, len(pkt))
	}
	return m.out
}

func udp(src, dst netip.Addr, sport, dport uint16, n int, df bool) []byte {
	b := make([]byte, 28+n)
	ipv4.WriteHeader(b, &ipv4.Header{TOS: 0xb8, TotalLen: len(b), ID: 1, DF: df, TTL: 63, Protocol: ipv4.ProtoUDP, Src: src, Dst: dst})
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	binary.BigEndian.PutUint16(b[24:], uint16(8+n))
	for i := range n {
		b[28+i] = byte(i * 7)
	}
	return b
}

func pair(t *testing.T, tr string) (*clock.Fake, *member, *member) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	a, b := newMember(t, clk, testnet.GM(1).Addr(), nil, "ios"), newMember(t, clk, testnet.GM(2).Addr(), nil, "ios")
	if err := a.e.Install("GETVPN", groupPolicy(t, tr, 1), clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.e.Install("GETVPN", groupPolicy(t, tr, 2), clk.Now()); err != nil {
		t.Fatal(err)
	}
	return clk, a, b
}

func TestEncryptDecryptBetweenTwoGMs(t *testing.T) {
	for _, tr := range []string{"aes256gcm16", "aes128gcm16", "aes128-sha1", "aes256-sha256", "3des-sha1"} {
		_, a, b := pair(t, tr)
		in := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 1000, true)
		out := a.run(false, in)
		if len(out) != 1 {
			t.Fatalf("%s: outbound emitted %d packets", tr, len(out))
		}
		esp := out[0]
		if ipv4.Protocol(esp) != ipv4.ProtoESP || ipv4.Src(esp) != testnet.Host(1) || ipv4.Dst(esp) != testnet.Host(2) || ipv4.TOS(esp) != 0xb8 {
			t.Fatalf("%s: outer header proto %d %v > %v tos %#x", tr, ipv4.Protocol(esp), ipv4.Src(esp), ipv4.Dst(esp), ipv4.TOS(esp))
		}
		if spi := binary.BigEndian.Uint32(esp[20:]); spi != 0x1001 {
			t.Fatalf("%s: SPI %#x, want the A->B TEK 0x1001", tr, spi)
		}
		if ipv4.TTL(esp) != 64 {
			t.Fatalf("%s: outer TTL %d, want inner 63 + 1 (the kernel takes one off on the way out)", tr, ipv4.TTL(esp))
		}
		got := b.run(true, esp)
		if len(got) != 1 || !bytes.Equal(got[0], in) {
			t.Fatalf("%s: testnet.GM(2).Addr() did not give back the inner packet", tr)
		}
		if a.e.Count(OutEncrypted) != 1 || b.e.Count(InDecrypted) != 1 {
			t.Fatalf("%s: counters %v / %v", tr, a.e.Counters(), b.e.Counters())
		}
		// The reverse direction uses the other TEK.
		back := b.run(false, udp(testnet.Host(2), testnet.Host(1), 6000, 5000, 10, false))
		if len(back) != 1 || binary.BigEndian.Uint32(back[0][20:]) != 0x2002 {
			t.Fatalf("%s: B->A not on TEK 0x2002", tr)
		}
		if got := a.run(true, back[0]); len(got) != 1 {
			t.Fatalf("%s: testnet.GM(1).Addr() dropped B->A", tr)
		}
	}
}

func TestGCMIVCarriesSenderID(t *testing.T) {
	_, a, b := pair(t, "aes128gcm16")
	ivA := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false))[0][28:36]
	ivB := b.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false))[0][28:36]
	if binary.BigEndian.Uint16(ivA) != 1 || binary.BigEndian.Uint16(ivB) != 2 {
		t.Fatalf("IVs %x and %x: want Sender-IDs 1 and 2 in the leftmost 16 bits", ivA, ivB)
	}
	if bytes.Equal(ivA, ivB) {
		t.Fatal("two GMs used the same IV under the shared key")
	}
}

func TestFailOpenBeforeRegistration(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := newMember(t, clk, testnet.GM(1).Addr(), nil, "ios")
	in := udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false)
	if out := m.run(false, in); len(out) != 1 || !bytes.Equal(out[0], in) {
		t.Fatal("unregistered GM did not pass clear traffic")
	}
	if out := m.run(true, in); len(out) != 1 {
		t.Fatal("unregistered GM dropped clear inbound traffic")
	}
	if m.e.Count(OutClearNoMatch) != 1 || m.e.Count(InClearNoMatch) != 1 {
		t.Fatalf("counters %v", m.e.Counters())
	}
}

func TestPolicyVerdicts(t *testing.T) {
	clk, a, _ := pair(t, "aes256gcm16")
	other := netip.MustParseAddr("192.0.2.99")
	for _, tc := range []struct {
		name    string
		inbound bool
		pkt     []byte
		pass    bool // emitted unchanged
		counter Counter
	}{
		{"KS deny out", false, udp(testnet.Host(1), testnet.Host(2), 1, 848, 10, false), true, OutClearDeny},
		{"KS deny in", true, udp(testnet.Host(2), testnet.Host(1), 1, 848, 10, false), true, InClearDeny},
		{"no match out", false, udp(testnet.Host(1), other, 1, 2, 10, false), true, OutClearNoMatch},
		{"no match in", true, udp(other, testnet.Host(1), 1, 2, 10, false), true, InClearNoMatch},
		{"clear matching a permit in", true, udp(testnet.Host(2), testnet.Host(1), 1, 2, 10, false), false, InDropClearPermit},
		{"malformed", false, []byte{0x45, 0, 0, 99}, false, DropMalformed},
		{"IPv6 (the TUN's own router solicitation)", false, append([]byte{0x60}, make([]byte, 47)...), false, DropNotIPv4},
	} {
		before := a.e.Count(tc.counter)
		out := a.run(tc.inbound, tc.pkt)
		if tc.pass != (len(out) == 1 && bytes.Equal(out[0], tc.pkt)) {
			t.Errorf("%s: emitted %d packets, want pass=%v", tc.name, len(out), tc.pass)
		}
		if a.e.Count(tc.counter) != before+1 {
			t.Errorf("%s: %s did not count", tc.name, CounterName(tc.counter))
		}
	}
	// Every TEK expired: permits still match, and drop (fail-closed).
	clk.Advance(2 * time.Hour)
	if out := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false)); len(out) != 0 || a.e.Count(OutDropNoSA) != 1 {
		t.Fatalf("expired TEKs: emitted %d, no-SA drops %d", len(out), a.e.Count(OutDropNoSA))
	}
}

func TestBadESPIsDroppedAndKeysKept(t *testing.T) {
	_, a, b := pair(t, "aes128-sha1")
	esp := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false))[0]

	tampered := bytes.Clone(esp)
	tampered[len(tampered)-1] ^= 0x80
	if out := b.run(true, tampered); len(out) != 0 || b.e.Count(InDropAuth) != 1 {
		t.Fatalf("tampered ESP: emitted %d, auth drops %d", len(out), b.e.Count(InDropAuth))
	}
	unknown := bytes.Clone(esp)
	binary.BigEndian.PutUint32(unknown[20:], 0xdead)
	if out := b.run(true, unknown); len(out) != 0 || b.e.Count(InDropUnknownSPI) != 1 {
		t.Fatalf("unknown SPI: emitted %d, drops %d", len(out), b.e.Count(InDropUnknownSPI))
	}
	frag := bytes.Clone(esp)
	frag[6] |= 0x20
	ipv4.SetECN(frag, 0) // recompute the checksum
	if out := b.run(true, frag); len(out) != 0 || b.e.Count(InDropFragment) != 1 {
		t.Fatalf("fragmented ESP: emitted %d", len(out))
	}
	// The keys are intact: the original still decrypts.
	if out := b.run(true, esp); len(out) != 1 {
		t.Fatal("good ESP dropped after bad input")
	}
	st := b.e.state.Load().bySPI[0x1001].counters()
	if st.AuthFailures != 1 || st.DecryptedPackets != 1 {
		t.Fatalf("SA counters %+v", st)
	}
}

// A GM that encrypts traffic outside the SA's selectors (a rogue or buggy
// member) gets its packets dropped after decryption.
func TestDecryptedPacketOutsideSelectorsIsDropped(t *testing.T) {
	_, a, b := pair(t, "aes256gcm16")
	sa := a.e.state.Load().bySPI[0x1001] // permit A -> B
	inner := udp(netip.MustParseAddr("10.9.9.9"), testnet.Host(2), 1, 2, 10, false)
	buf := make([]byte, Headroom+len(inner)+Tailroom)
	copy(buf[Headroom:], inner)
	pkt, err := sa.seal(buf, Headroom, len(inner), 1, new([16]byte))
	if err != nil {
		t.Fatal(err)
	}
	if out := b.run(true, pkt); len(out) != 0 || b.e.Count(InDropPolicy) != 1 {
		t.Fatalf("emitted %d, policy drops %d", len(out), b.e.Count(InDropPolicy))
	}
}

func TestUnknownESPMatchingADenyPasses(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := newMember(t, clk, testnet.GM(2).Addr(), nil, "ios")
	p := groupPolicy(t, "aes128gcm16", 1)
	p.Deny = append(p.Deny, gdoi.Selector{Protocol: ipv4.ProtoESP, Src: anyNet, Dst: anyNet}) // S0 KS-14: deny esp any any
	if err := m.e.Install("GETVPN", p, clk.Now()); err != nil {
		t.Fatal(err)
	}
	foreign := udp(testnet.Host(1), testnet.Host(2), 1, 2, 40, false)
	foreign[9] = ipv4.ProtoESP
	ipv4.SetECN(foreign, 0)
	if out := m.run(true, foreign); len(out) != 1 || m.e.Count(InClearDeny) != 1 {
		t.Fatalf("ESP of another VPN under deny esp: emitted %d", len(out))
	}
}

// The local deny truth table of seed-features GM-42 for a local entry
// "deny ip A B": which clear packets are sent and accepted per mode.
func TestLocalDenyInboundModes(t *testing.T) {
	local := []config.ACE{{Source: testnet.Site(1), Destination: testnet.Site(2)}}
	ab, ba := udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false), udp(testnet.Host(2), testnet.Host(1), 1, 2, 10, false)
	for _, tc := range []struct {
		mode                       string
		sendAB, acceptBA, acceptAB bool
	}{
		{"ios", true, true, false},
		{"iosxe", true, false, true},
		{"accept-both", true, true, true},
	} {
		clk := clock.NewFake(time.Unix(1e9, 0))
		m := newMember(t, clk, testnet.GM(1).Addr(), local, tc.mode)
		if err := m.e.Install("GETVPN", groupPolicy(t, "aes128gcm16", 1), clk.Now()); err != nil {
			t.Fatal(err)
		}
		clear := func(inbound bool, pkt []byte) bool {
			out := m.run(inbound, pkt)
			return len(out) == 1 && bytes.Equal(out[0], pkt)
		}
		if got := clear(false, ab); got != tc.sendAB {
			t.Errorf("%s: send A->B in clear = %v", tc.mode, got)
		}
		if got := clear(true, ba); got != tc.acceptBA {
			t.Errorf("%s: accept B->A in clear = %v", tc.mode, got)
		}
		if got := clear(true, ab); got != tc.acceptAB {
			t.Errorf("%s: accept A->B in clear = %v", tc.mode, got)
		}
		// B->A outbound is not covered by the local deny: encrypted.
		if out := m.run(false, ba); len(out) != 1 || ipv4.Protocol(out[0]) != ipv4.ProtoESP {
			t.Errorf("%s: B->A outbound not encrypted", tc.mode)
		}
	}
}

func TestTooBigWithDFSendsICMP(t *testing.T) {
	// Largest inner packet that fits 1500 once encrypted: GCM 1500-20-8-8-16
	// = 1448 octets of padded plaintext (multiple of 4, trailer 2): 1446;
	// CBC/SHA-1: 1500-20-8-16-12 = 1444, 1440 of whole blocks: 1438.
	for tr, want := range map[string]int{"aes256gcm16": 1446, "aes128-sha1": 1438} {
		_, a, _ := pair(t, tr)
		fits := udp(testnet.Host(1), testnet.Host(2), 1, 2, want-28, true)
		if out := a.run(false, fits); len(out) != 1 || len(out[0]) > 1500 {
			t.Fatalf("%s: a %d-octet packet did not go out whole", tr, want)
		}
		big := udp(testnet.Host(1), testnet.Host(2), 1, 2, want-28+1, true)
		out := a.run(false, big)
		if len(out) != 1 || ipv4.Protocol(out[0]) != ipv4.ProtoICMP {
			t.Fatalf("%s: too big with DF: emitted %d packets, want one ICMP", tr, len(out))
		}
		icmp := out[0]
		if ipv4.Dst(icmp) != testnet.Host(1) || !ipv4.Src(icmp).IsUnspecified() || icmp[20] != 3 || icmp[21] != 4 {
			t.Fatalf("%s: ICMP %v > %v type %d code %d", tr, ipv4.Src(icmp), ipv4.Dst(icmp), icmp[20], icmp[21])
		}
		if mtu := int(binary.BigEndian.Uint16(icmp[26:])); mtu != want {
			t.Fatalf("%s: next-hop MTU %d, want %d", tr, mtu, want)
		}
		if ipv4.Checksum(icmp[20:]) != 0 || !bytes.Equal(icmp[28:48], big[:20]) {
			t.Fatalf("%s: bad ICMP checksum or quote", tr)
		}
		if a.e.Count(OutDropTooBig) != 1 {
			t.Fatalf("%s: too-big counter %d", tr, a.e.Count(OutDropTooBig))
		}
	}
}

func TestFragmentBeforeEncryption(t *testing.T) {
	_, a, b := pair(t, "aes128-sha1")
	a.e.SetMTU(1280)
	in := udp(testnet.Host(1), testnet.Host(2), 1, 2, 3000, false)
	out := a.run(false, in)
	if len(out) != 3 {
		t.Fatalf("3028-octet packet at MTU 1280: %d ESP packets, want 3", len(out))
	}
	var frags [][]byte
	for _, p := range out {
		if len(p) > 1280 || ipv4.Protocol(p) != ipv4.ProtoESP || ipv4.IsFragment(p) {
			t.Fatalf("ESP packet of %d octets, fragment %v", len(p), ipv4.IsFragment(p))
		}
		got := b.run(true, p)
		if len(got) != 1 {
			t.Fatal("testnet.GM(2).Addr() dropped a fragment")
		}
		frags = append(frags, got[0])
	}
	// The host reassembles: offsets line up and the data is the original.
	slices.SortFunc(frags, func(x, y []byte) int { return ipv4.FragmentOffset(x) - ipv4.FragmentOffset(y) })
	data := []byte{}
	for i, f := range frags {
		if ipv4.FragmentOffset(f) != len(data) || !ipv4.HeaderOK(f) {
			t.Fatalf("fragment %d at offset %d, want %d", i, ipv4.FragmentOffset(f), len(data))
		}
		mf := binary.BigEndian.Uint16(f[6:])&0x2000 != 0
		if mf != (i < len(frags)-1) {
			t.Fatalf("fragment %d MF %v", i, mf)
		}
		data = append(data, f[20:]...)
	}
	if !bytes.Equal(data, in[20:]) {
		t.Fatal("reassembled data differs")
	}
	if a.e.Count(OutFragmented) != 1 || a.e.Count(OutEncrypted) != 3 {
		t.Fatalf("counters %v", a.e.Counters())
	}
}

func TestRolloverPicksNewTEKInTheLast30Seconds(t *testing.T) {
	clk, a, _ := pair(t, "aes256gcm16")
	next := groupPolicy(t, "aes256gcm16", 1)
	for i := range next.TEKs {
		next.TEKs[i].SPI += 0x10 // new TEKs, same selectors
		next.TEKs[i].EncKey[0] ^= 1
	}
	if err := a.e.Install("GETVPN", next, clk.Now().Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	spiAt := func(d time.Duration) uint32 {
		clk.Set(time.Unix(1e9, 0).Add(d))
		return binary.BigEndian.Uint32(a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false))[0][20:])
	}
	if got := spiAt(59*time.Minute + 29*time.Second); got != 0x1001 {
		t.Fatalf("31 s before the old TEK expires: SPI %#x, want the old 0x1001", got)
	}
	if got := spiAt(59*time.Minute + 31*time.Second); got != 0x1011 {
		t.Fatalf("29 s before: SPI %#x, want the new 0x1011", got)
	}
	// Both SAs decrypt until the old one expires.
	if n := len(a.e.state.Load().bySPI); n != 4 {
		t.Fatalf("%d inbound SAs during the rollover, want 4", n)
	}
}

func TestReinstallKeepsIVCounter(t *testing.T) {
	clk, a, _ := pair(t, "aes128gcm16")
	first := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false))[0][28:36]
	if err := a.e.Install("GETVPN", groupPolicy(t, "aes128gcm16", 1), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	second := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false))[0][28:36]
	if binary.BigEndian.Uint64(second) != binary.BigEndian.Uint64(first)+1 {
		t.Fatalf("IV after re-registration with the same TEK: %x after %x (a restarted counter would repeat nonces)", second, first)
	}
}

func TestReceiveOnlyWithoutSenderID(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := newMember(t, clk, testnet.GM(1).Addr(), nil, "ios")
	p := groupPolicy(t, "aes128gcm16", 1)
	p.SIDs = nil
	if err := m.e.Install("GETVPN", p, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if out := m.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 10, false)); len(out) != 0 || m.e.Count(OutDropNoSA) != 1 {
		t.Fatal("counter-mode TEK without a Sender-ID was used to send")
	}
	if sa := m.e.state.Load().bySPI[0x1001]; sa.send || sa.noSend == "" {
		t.Fatal("SA not marked receive-only with a reason")
	}
	_ = esp.DFCopy
}

// The per-packet path allocates nothing, for each transform family.
func TestWorkerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, tr := range []string{"aes256gcm16", "aes128-sha1"} {
		_, a, b := pair(t, tr)
		var last []byte
		wa := a.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
		wb := b.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
		pkt := udp(testnet.Host(1), testnet.Host(2), 1, 2, 1372, true)
		buf := make([]byte, Headroom+len(pkt)+Tailroom)
		in := make([]byte, Headroom+2000)
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[Headroom:], pkt)
			wa.Outbound(buf, Headroom, len(pkt))
			n := copy(in[Headroom:], last)
			wb.Inbound(in, Headroom, n)
		})
		if allocs != 0 || b.e.Count(InDecrypted) == 0 {
			t.Errorf("%s: %v allocs per packet out and in (decrypted %d)", tr, allocs, b.e.Count(InDecrypted))
		}
	}
}

// With df-bit clear, a DF packet too big once encrypted is fragmented
// (its fragments with DF clear) instead of answered with ICMP (S0 DP-43).
func TestDFClearFragmentsDFPackets(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := &member{}
	m.e = New(Options{Clock: clock.New(1, clk.Now), MTU: 1500, DF: esp.DFClear, Groups: []config.Group{{Name: "GETVPN"}}})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	if err := m.e.Install("GETVPN", groupPolicy(t, "aes256gcm16", 1), clk.Now()); err != nil {
		t.Fatal(err)
	}
	out := m.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 1472, true))
	if len(out) != 2 || m.e.Count(OutFragmented) != 1 || m.e.Count(OutDropTooBig) != 0 {
		t.Fatalf("DF 1500-octet packet with df-bit clear: %d packets out, counters %v", len(out), m.e.Counters())
	}
	for _, p := range out {
		if ipv4.Protocol(p) != ipv4.ProtoESP || len(p) > 1500 || ipv4.DF(p) {
			t.Fatalf("ESP packet of %d octets, DF %v", len(p), ipv4.DF(p))
		}
	}
}

// A re-registration that brings the same TEKs while packets flow: run with
// -race, it shows that workers and Install share nothing unsynchronized.
func TestReinstallUnderTraffic(t *testing.T) {
	clk, a, _ := pair(t, "aes128gcm16")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := a.e.Install("GETVPN", groupPolicy(t, "aes128gcm16", 1), clk.Now().Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	w := a.e.NewWorker(func([]byte) error { return nil }, nil)
	pkt := udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false)
	buf := make([]byte, Headroom+len(pkt)+Tailroom)
	for i := 0; ; i++ {
		select {
		case <-done:
			if a.e.Count(OutEncrypted) != uint64(i) {
				t.Fatalf("%d packets, %d encrypted", i, a.e.Count(OutEncrypted))
			}
			return
		default:
		}
		copy(buf[Headroom:], pkt)
		w.Outbound(buf, Headroom, len(pkt))
	}
}

// Two groups are tried in order, as a crypto map's entries are: a deny in
// the first passes the packet on to the second, whose permit then
// encrypts it (outbound) or says it should have come encrypted (inbound);
// a packet only denied goes in clear (DP-95).
func TestGroupsInCryptoMapOrder(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	m := &member{}
	m.e = New(Options{Clock: clock.New(1, clk.Now), Local: testnet.GM(1).Addr(), MTU: 1500, LocalDenyInbound: "ios",
		Groups: []config.Group{{Name: "FIRST"}, {Name: "SECOND"}}})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	first := groupPolicy(t, "aes128gcm16", 1)
	first.Deny = append(first.Deny, gdoi.Selector{Protocol: 17, Src: anyNet, Dst: anyNet, DstPort: 6000})
	second := groupPolicy(t, "aes128gcm16", 1)
	second.GroupID = 77
	for i := range second.TEKs {
		second.TEKs[i].SPI += 0x3000
		second.TEKs[i].Selector.Protocol = 17 // UDP only
	}
	if err := m.e.Install("FIRST", first, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.e.Install("SECOND", second, clk.Now()); err != nil {
		t.Fatal(err)
	}
	spiOut := func(pkt []byte) uint32 {
		t.Helper()
		out := m.run(false, pkt)
		if len(out) != 1 {
			t.Fatalf("emitted %d packets", len(out))
		}
		if ipv4.Protocol(out[0]) != ipv4.ProtoESP {
			return 0
		}
		return binary.BigEndian.Uint32(out[0][20:])
	}
	if spi := spiOut(udp(testnet.Host(1), testnet.Host(2), 5000, 5000, 100, false)); spi != 0x1001 {
		t.Errorf("a flow FIRST permits went under SPI %#x, want FIRST's 0x1001", spi)
	}
	if spi := spiOut(udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false)); spi != 0x4001 {
		t.Errorf("a flow FIRST denies and SECOND permits went under SPI %#x, want SECOND's 0x4001", spi)
	}
	// TCP to port 6000: FIRST's deny is UDP only, so FIRST permits it.
	tcp := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, 100, false)
	tcp[9] = 6
	if spi := spiOut(tcp); spi != 0x1001 {
		t.Errorf("TCP to 6000 went under SPI %#x, want FIRST's 0x1001", spi)
	}
	// GDOI: denied by both, in clear.
	before := m.e.Count(OutClearDeny)
	if spi := spiOut(udp(testnet.Host(1), testnet.Host(2), 848, 848, 10, false)); spi != 0 || m.e.Count(OutClearDeny) != before+1 {
		t.Errorf("UDP 848 denied by both groups: SPI %#x, out_clear_deny +%d", spi, m.e.Count(OutClearDeny)-before)
	}
	// Inbound in clear: what FIRST denies and SECOND permits should have
	// come encrypted.
	before = m.e.Count(InDropClearPermit)
	if out := m.run(true, udp(testnet.Host(2), testnet.Host(1), 5000, 6000, 100, false)); len(out) != 0 || m.e.Count(InDropClearPermit) != before+1 {
		t.Errorf("clear UDP to 6000 from site B: emitted %d, in_drop_clear_permit +%d", len(out), m.e.Count(InDropClearPermit)-before)
	}
	before = m.e.Count(InClearDeny)
	if out := m.run(true, udp(testnet.Host(2), testnet.Host(1), 848, 848, 10, false)); len(out) != 1 || m.e.Count(InClearDeny) != before+1 {
		t.Errorf("clear UDP 848 from site B: emitted %d, in_clear_deny +%d", len(out), m.e.Count(InClearDeny)-before)
	}
}

// A specific permit entry before a broader one keeps its own TEK whatever
// the SAs' expiry order: the ACL's order decides (first match), as the KS
// wrote it. (The engine once ordered permit entries by their SAs' expiry,
// so a broader entry whose TEK expired first took the specific entry's
// traffic.)
func TestPermitOrderIsTheACLs(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	a := newMember(t, clk, testnet.GM(1).Addr(), nil, "ios")
	p := groupPolicy(t, "aes256gcm16", 1)
	host := netip.PrefixFrom(testnet.Host(2), 32)
	specific := p.TEKs[0]
	specific.SPI, specific.Selector.Dst = 0x3003, host
	specific.Lifetime = 2 * time.Hour // expires after the broader entry's TEK
	p.TEKs = append([]gdoi.TEK{specific}, p.TEKs...)
	if err := a.e.Install("GETVPN", p, clk.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst  netip.Addr
		want uint32
	}{
		{testnet.Host(2), 0x3003},
		{testnet.Host(2).Next(), 0x1001},
	} {
		out := a.run(false, udp(testnet.Host(1), c.dst, 1, 2, 10, false))
		if len(out) != 1 {
			t.Fatalf("to %v: %d packets out", c.dst, len(out))
		}
		if spi := binary.BigEndian.Uint32(out[0][20:]); spi != c.want {
			t.Errorf("to %v: SPI %#x, want %#x", c.dst, spi, c.want)
		}
	}
}
