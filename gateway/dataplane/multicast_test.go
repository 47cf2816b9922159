package dataplane

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/ipv4"
	"golang.org/x/net/bpf"
)

// The lab's multicast (topologies/routed.clab.yml): site A's hosts send
// to 239.193.0.0/16, which the KS permits with a TEK of its own.
var (
	mcastGroups = netip.MustParsePrefix("239.193.0.0/16")
	group       = netip.MustParseAddr("239.193.1.1")
	groupMACOf  = [6]byte{0x01, 0x00, 0x5e, 0x41, 0x01, 0x01} // 239.193.1.1: 0x41 = 193 & 0x7f
)

const mcastSPI = 0x3003

// mcastPolicy is groupPolicy with site 1's multicast permitted on TEK
// mcastSPI, and 239.193.9.0/24 denied.
func mcastPolicy(t *testing.T, tr string, sid uint32) *gdoi.Policy {
	t.Helper()
	p := groupPolicy(t, tr, sid)
	x := p.TEKs[0].Transform
	p.TEKs = append(p.TEKs, gdoi.TEK{SPI: mcastSPI, Transform: x, Selector: gdoi.Selector{Src: testnet.Site(1), Dst: mcastGroups}, Lifetime: time.Hour,
		EncKey: bytes.Repeat([]byte{0x33}, x.EncKeyLen()), AuthKey: bytes.Repeat([]byte{0x30}, x.AuthKeyLen()),
		AddrPreserve: gdoiwire.AddrPreserveSrcDst, Direction: gdoiwire.SADirSymmetric})
	p.Deny = append(p.Deny, gdoi.Selector{Src: anyNet, Dst: netip.MustParsePrefix("239.193.9.0/24")})
	return p
}

// mcastGM is a GM that routes multicast between two LAN interfaces and
// its WAN: what it sends as ESP, what it delivers on each LAN, and the
// ICMP errors it makes.
type mcastGM struct {
	e      *Engine
	lan    *lanMulticast
	wan    *Worker
	esp    [][]byte
	frames [2][][]byte
	icmp   int
}

func lanMAC(i int) [6]byte { return [6]byte{0x02, 0, 0, 0, 0xa0, byte(i)} }

func newMcastGM(t *testing.T, clk *clock.Fake, tr string, sid uint32, install bool) *mcastGM {
	t.Helper()
	g := &mcastGM{}
	g.e = New(Options{Clock: clock.New(1, clk.Now), MTU: 1500, Groups: []config.Group{{Name: "GETVPN"}}, ESPOut: true})
	if install {
		if err := g.e.Install("GETVPN", mcastPolicy(t, tr, sid), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	lw := g.e.NewWorker(noClear, func([]byte) error { g.icmp++; return nil })
	lw.SetESPSink(func(p []byte) error { g.esp = append(g.esp, bytes.Clone(p)); return nil })
	g.lan = newLANMulticast(lw)
	var ports []mcastPort
	for i := range g.frames {
		ports = append(ports, mcastPort{mac: lanMAC(i), send: func(f []byte) error { g.frames[i] = append(g.frames[i], bytes.Clone(f)); return nil }})
	}
	g.wan = g.e.NewWorker(newMcastDelivery(g.e, ports).deliver, noClear)
	return g
}

func mcastPair(t *testing.T, tr string) (*clock.Fake, *mcastGM, *mcastGM) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1e9, 0))
	return clk, newMcastGM(t, clk, tr, 1, true), newMcastGM(t, clk, tr, 2, true)
}

// fromLAN reads pkt into g's LAN side as a packet socket would: in an
// Ethernet frame after virtio-net header h, padded to 60 octets as a wire
// pads it. It returns the ESP g sent.
func (g *mcastGM) fromLAN(h vnetHdr, pkt []byte) [][]byte {
	g.esp = nil
	buf := make([]byte, Headroom+65535+Tailroom)
	f := buf[lanFrameOff:]
	f[0], f[1] = h.flags, h.gsoType
	binary.LittleEndian.PutUint16(f[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(f[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(f[6:], h.csumStart)
	binary.LittleEndian.PutUint16(f[8:], h.csumOffset)
	eth := f[vnetHdrLen:]
	if len(pkt) >= 20 {
		groupMAC(eth, [4]byte(pkt[16:20]))
	}
	copy(eth[6:], []byte{0x02, 0, 0, 0, 0xbb, 1})
	binary.BigEndian.PutUint16(eth[12:], etherTypeIPv4)
	copy(eth[ethLen:], pkt)
	g.lan.frame(buf, vnetHdrLen+max(ethLen+len(pkt), 60))
	return g.esp
}

// fromWAN reads esp into g's WAN side in an Ethernet frame and returns
// what g delivered on each LAN.
func (g *mcastGM) fromWAN(esp []byte) [2][][]byte {
	g.frames = [2][][]byte{}
	buf := make([]byte, Headroom+65535+Tailroom)
	eth := buf[wanFrameOff:]
	groupMAC(eth, [4]byte(esp[16:20]))
	copy(eth[6:], []byte{0x02, 0, 0, 0, 0xcc, 1})
	binary.BigEndian.PutUint16(eth[12:], etherTypeIPv4)
	copy(eth[ethLen:], esp)
	wanFrame(g.wan, buf, max(ethLen+len(esp), 60))
	return g.frames
}

// mcastUDP is a datagram from src to dst with TTL ttl and n octets of
// payload; partial leaves its checksum as a sender's offload does (the
// pseudo-header's sum, for the device to complete) and returns the
// virtio-net header saying so.
func mcastUDP(src, dst netip.Addr, ttl uint8, n int, partial bool) ([]byte, vnetHdr) {
	p := udp(src, dst, 5000, 5000, n, false)
	p[8] = ttl
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], ipv4.Checksum(p[:20]))
	l4 := p[20:]
	pseudo := fold(sum(p[12:20], uint64(ipv4.ProtoUDP)+uint64(len(l4))))
	if partial {
		binary.BigEndian.PutUint16(l4[6:], pseudo)
		return p, vnetHdr{flags: vnetNeedsCsum, csumStart: ethLen + 20, csumOffset: 6}
	}
	binary.BigEndian.PutUint16(l4[6:], ^fold(sum(l4, uint64(pseudo))))
	return p, vnetHdr{}
}

// udpChecksumOK checks the UDP checksum of the IPv4 packet ip.
func udpChecksumOK(ip []byte) bool {
	ihl := int(ip[0]&0x0f) * 4
	l4 := ip[ihl:]
	return fold(sum(l4, sum(ip[12:20], uint64(ipv4.ProtoUDP)+uint64(len(l4))))) == 0xffff
}

// checkDelivered checks that frames are one copy per LAN of a packet from
// host 1 to group with TTL ttl and payload like want's: the group's MAC,
// the LAN's own, valid checksums.
func checkDelivered(t *testing.T, frames [2][][]byte, want []byte, ttl uint8) {
	t.Helper()
	for i, fs := range frames {
		if len(fs) != 1 {
			t.Fatalf("LAN %d: %d frames, want 1", i, len(fs))
		}
		f := fs[0]
		if !bytes.Equal(f[:vnetHdrLen], make([]byte, vnetHdrLen)) {
			t.Errorf("LAN %d: virtio-net header %x, want none of its offloads", i, f[:vnetHdrLen])
		}
		eth := f[vnetHdrLen:]
		if [6]byte(eth[0:6]) != groupMACOf || [6]byte(eth[6:12]) != lanMAC(i) || binary.BigEndian.Uint16(eth[12:]) != etherTypeIPv4 {
			t.Errorf("LAN %d: Ethernet %x > %x type %#04x, want %x > %x IPv4", i, eth[6:12], eth[0:6], eth[12:14], lanMAC(i), groupMACOf)
		}
		ip := eth[ethLen:]
		if _, err := ipv4.Check(ip); err != nil || !ipv4.HeaderOK(ip) || !udpChecksumOK(ip) {
			t.Errorf("LAN %d: packet %v, header checksum %v, UDP checksum %v", i, err, ipv4.HeaderOK(ip), udpChecksumOK(ip))
		}
		if ipv4.Src(ip) != testnet.Host(1) || ipv4.Dst(ip) != group || ipv4.TTL(ip) != ttl {
			t.Errorf("LAN %d: %v > %v TTL %d, want %v > %v TTL %d", i, ipv4.Src(ip), ipv4.Dst(ip), ipv4.TTL(ip), testnet.Host(1), group, ttl)
		}
		if !bytes.Equal(ip[28:], want[28:]) {
			t.Errorf("LAN %d: payload changed", i)
		}
	}
}

// DP-60: multicast from site A leaves gm1 as ESP to the group itself,
// addresses preserved, one routed hop taken off the TTL, and the GMs of
// the other sites decrypt it and send it on their LANs to the group's MAC
// address, another hop off: the seeds' "ESP with dst = 239.x (same SPI),
// and both receivers decrypt".
func TestMulticastCrossesAsESPToTheGroup(t *testing.T) {
	for _, tr := range []string{"aes256gcm16", "aes128-sha1"} {
		for _, partial := range []bool{true, false} {
			_, a, b := mcastPair(t, tr)
			pkt, h := mcastUDP(testnet.Host(1), group, 8, 100, partial)
			sent := bytes.Clone(pkt)
			out := a.fromLAN(h, pkt)
			if len(out) != 1 {
				t.Fatalf("%s partial %v: %d ESP packets, want 1 (counters %v)", tr, partial, len(out), a.e.Counters())
			}
			esp := out[0]
			if ipv4.Protocol(esp) != ipv4.ProtoESP || ipv4.Src(esp) != testnet.Host(1) || ipv4.Dst(esp) != group || !ipv4.HeaderOK(esp) {
				t.Fatalf("%s: outer header proto %d %v > %v, checksum ok %v", tr, ipv4.Protocol(esp), ipv4.Src(esp), ipv4.Dst(esp), ipv4.HeaderOK(esp))
			}
			if spi := binary.BigEndian.Uint32(esp[20:]); spi != mcastSPI {
				t.Errorf("%s: SPI %#x, want the multicast TEK's %#x", tr, spi, mcastSPI)
			}
			if ipv4.TTL(esp) != 7 {
				t.Errorf("%s: outer TTL %d, want 8 less gm1's hop", tr, ipv4.TTL(esp))
			}
			if a.e.Count(McastOutEncrypted) != 1 || a.e.Count(OutEncrypted) != 1 {
				t.Errorf("%s: counters %v", tr, a.e.Counters())
			}
			for _, gm := range []*mcastGM{b, a} { // a receiver, and the sender's own SA both ways
				checkDelivered(t, gm.fromWAN(esp), sent, 6)
				if gm.e.Count(McastInDecrypted) != 1 || gm.e.Count(McastInDelivered) != 2 || gm.e.Count(InDecrypted) != 1 {
					t.Errorf("%s: receiver's counters %v", tr, gm.e.Counters())
				}
			}
		}
	}
}

// A router forwards no multicast whose TTL runs out: at the sending GM
// (TTL 1, the default of a multicast socket) and at the receiving one.
func TestMulticastTTL(t *testing.T) {
	_, a, b := mcastPair(t, "aes256gcm16")
	pkt, h := mcastUDP(testnet.Host(1), group, 1, 10, true)
	if out := a.fromLAN(h, pkt); len(out) != 0 || a.e.Count(McastDropTTL) != 1 || a.e.Count(OutEncrypted) != 0 {
		t.Fatalf("TTL 1: %d ESP, counters %v", len(out), a.e.Counters())
	}
	pkt, h = mcastUDP(testnet.Host(1), group, 2, 10, true)
	out := a.fromLAN(h, pkt)
	if len(out) != 1 || ipv4.TTL(out[0]) != 1 {
		t.Fatalf("TTL 2: %d ESP", len(out))
	}
	if got := b.fromWAN(out[0]); len(got[0])+len(got[1]) != 0 || b.e.Count(McastDropTTL) != 1 || b.e.Count(McastInDecrypted) != 1 {
		t.Fatalf("TTL 1 after decryption: delivered %d, counters %v", len(got[0])+len(got[1]), b.e.Counters())
	}
}

// The GM routes multicast only where a permit encrypts it: denied,
// unmatched, or before registration (fail-open for unicast) it is not
// forwarded, and a permit whose TEKs expired drops it. Link-local groups
// are never routed, and not counted: they are not an error.
func TestMulticastOnlyEncryptedIsRouted(t *testing.T) {
	clk, a, _ := mcastPair(t, "aes256gcm16")
	for _, c := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"denied group", testnet.Host(1), netip.MustParseAddr("239.193.9.9")},
		{"group no entry names", testnet.Host(1), netip.MustParseAddr("239.200.1.1")},
		{"source no entry names", testnet.Host(2), group},
	} {
		before := a.e.Count(McastOutNotRouted)
		pkt, h := mcastUDP(c.src, c.dst, 8, 10, true)
		if out := a.fromLAN(h, pkt); len(out) != 0 || a.e.Count(McastOutNotRouted) != before+1 {
			t.Errorf("%s: %d ESP, counters %v", c.name, len(out), a.e.Counters())
		}
	}
	if a.e.Count(OutClearDeny)+a.e.Count(OutClearNoMatch) != 0 {
		t.Errorf("multicast counted as sent in clear: %v", a.e.Counters())
	}
	pkt, h := mcastUDP(testnet.Host(1), netip.MustParseAddr("224.0.0.5"), 1, 10, true)
	before := a.e.Counters()
	if out := a.fromLAN(h, pkt); len(out) != 0 {
		t.Errorf("link-local group: %d ESP", len(out))
	}
	for name, n := range a.e.Counters() {
		if n != before[name] {
			t.Errorf("link-local group counted as %s", name)
		}
	}

	fresh := newMcastGM(t, clk, "aes256gcm16", 3, false)
	pkt, h = mcastUDP(testnet.Host(1), group, 8, 10, true)
	if out := fresh.fromLAN(h, pkt); len(out) != 0 || fresh.e.Count(McastOutNotRouted) != 1 {
		t.Errorf("before registration: %d ESP, counters %v", len(out), fresh.e.Counters())
	}

	clk.Advance(2 * time.Hour)
	pkt, h = mcastUDP(testnet.Host(1), group, 8, 10, true)
	if out := a.fromLAN(h, pkt); len(out) != 0 || a.e.Count(McastOutDropNoSA) != 1 || a.e.Count(OutDropNoSA) != 1 {
		t.Errorf("expired TEK: %d ESP, counters %v", len(out), a.e.Counters())
	}
}

// Too big once encrypted, a datagram to a group is fragmented before
// encryption when DF allows it and dropped otherwise, without the ICMP
// error a unicast sender would get (RFC 1122 §3.2.2).
func TestMulticastTooBig(t *testing.T) {
	_, a, b := mcastPair(t, "aes256gcm16")
	a.e.SetMTU(576)
	pkt, h := mcastUDP(testnet.Host(1), group, 8, 1000, true)
	binary.BigEndian.PutUint16(pkt[6:], 0x4000) // DF
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], ipv4.Checksum(pkt[:20]))
	if out := a.fromLAN(h, pkt); len(out) != 0 || a.icmp != 0 || a.e.Count(OutDropTooBig) != 1 || a.e.Count(McastOutEncrypted) != 0 {
		t.Fatalf("DF: %d ESP, %d ICMP, counters %v", len(out), a.icmp, a.e.Counters())
	}
	pkt, h = mcastUDP(testnet.Host(1), group, 8, 1000, true)
	out := a.fromLAN(h, pkt)
	if len(out) < 2 || a.e.Count(McastOutEncrypted) != 1 || a.e.Count(OutFragmented) != 1 {
		t.Fatalf("no DF: %d ESP, counters %v", len(out), a.e.Counters())
	}
	for _, esp := range out {
		if len(esp) > 576 || ipv4.Dst(esp) != group {
			t.Errorf("fragment's ESP: %d octets to %v", len(esp), ipv4.Dst(esp))
		}
		if got := b.fromWAN(esp); len(got[0]) != 1 || !ipv4.IsFragment(got[0][0][vnetHdrLen+ethLen:]) {
			t.Errorf("fragment not delivered as one")
		}
	}
}

// A UDP offload superpacket (a sender's UDP_SEGMENT) is cut into the
// datagrams a wire carries, each encrypted on its own with its own
// lengths, identification and checksums.
func TestMulticastUDPSegmentation(t *testing.T) {
	_, a, b := mcastPair(t, "aes128-sha1")
	pkt, h := mcastUDP(testnet.Host(1), group, 8, 250, true)
	h.gsoType, h.gsoSize, h.hdrLen = vnetGSOUDPL4, 100, ethLen+28
	out := a.fromLAN(h, pkt)
	if len(out) != 3 || a.e.Count(McastOutEncrypted) != 3 {
		t.Fatalf("%d ESP, counters %v", len(out), a.e.Counters())
	}
	var payload []byte
	for i, esp := range out {
		got := b.fromWAN(esp)
		if len(got[0]) != 1 {
			t.Fatalf("segment %d not delivered", i)
		}
		ip := got[0][0][vnetHdrLen+ethLen:]
		if want := 28 + min(100, 250-100*i); len(ip) != want || !ipv4.HeaderOK(ip) || !udpChecksumOK(ip) || binary.BigEndian.Uint16(ip[4:]) != 1+uint16(i) || ipv4.TTL(ip) != 6 {
			t.Errorf("segment %d: %d octets (want %d), header ok %v, UDP ok %v, id %d, TTL %d", i, len(ip), want, ipv4.HeaderOK(ip), udpChecksumOK(ip), binary.BigEndian.Uint16(ip[4:]), ipv4.TTL(ip))
		}
		payload = append(payload, ip[28:]...)
	}
	if !bytes.Equal(payload, pkt[28:]) {
		t.Error("the segments' payloads are not the superpacket's")
	}
	// TCP cannot go to a group: a TCP offload type is refused.
	h.gsoType = 1
	if out := a.fromLAN(h, pkt); len(out) != 0 || a.e.Count(DropMalformed) != 1 {
		t.Errorf("TCP offload: %d ESP, counters %v", len(out), a.e.Counters())
	}
}

// What the WAN worker does not decrypt goes nowhere: ESP no SA knows
// (whatever a deny entry says: nothing routes multicast in clear here),
// a broken header, a frame cut short.
func TestMulticastESPThatDoesNotDecrypt(t *testing.T) {
	_, a, b := mcastPair(t, "aes256gcm16")
	pkt, h := mcastUDP(testnet.Host(1), group, 8, 100, true)
	esp := a.fromLAN(h, pkt)[0]

	unknown := bytes.Clone(esp)
	unknown[23] ^= 0xff
	if got := b.fromWAN(unknown); len(got[0]) != 0 || b.e.Count(InDropUnknownSPI) != 1 {
		t.Errorf("unknown SPI: delivered %d, counters %v", len(got[0]), b.e.Counters())
	}
	denied := bytes.Clone(unknown)
	copy(denied[16:20], []byte{239, 193, 9, 9})
	denied[10], denied[11] = 0, 0
	binary.BigEndian.PutUint16(denied[10:], ipv4.Checksum(denied[:20]))
	if got := b.fromWAN(denied); len(got[0]) != 0 || b.e.Count(InDropUnknownSPI) != 2 || b.e.Count(InClearDeny) != 0 {
		t.Errorf("unknown SPI to a denied group: delivered %d, counters %v", len(got[0]), b.e.Counters())
	}
	badSum := bytes.Clone(esp)
	badSum[10] ^= 1
	if got := b.fromWAN(badSum); len(got[0]) != 0 || b.e.Count(DropMalformed) != 1 {
		t.Errorf("bad header checksum: delivered %d, counters %v", len(got[0]), b.e.Counters())
	}
	tampered := bytes.Clone(esp)
	tampered[len(tampered)-1] ^= 1
	if got := b.fromWAN(tampered); len(got[0]) != 0 || b.e.Count(InDropAuth) != 1 {
		t.Errorf("bad ICV: delivered %d, counters %v", len(got[0]), b.e.Counters())
	}
	buf := make([]byte, Headroom+2000)
	eth := buf[wanFrameOff:]
	binary.BigEndian.PutUint16(eth[12:], etherTypeIPv4)
	copy(eth[ethLen:], esp)
	wanFrame(b.wan, buf, ethLen+len(esp)-1)
	if b.e.Count(DropMalformed) != 2 || b.e.Count(McastInDelivered) != 0 {
		t.Errorf("frame cut short: counters %v", b.e.Counters())
	}
	if got := b.fromWAN(esp); len(got[0]) != 1 {
		t.Error("the good packet no longer decrypts")
	}
}

// Multicast ESP carries a packet to its own group; a decrypted packet to
// anything else has no LAN to go to.
func TestMulticastDeliveryNeedsAGroup(t *testing.T) {
	_, _, b := mcastPair(t, "aes256gcm16")
	d := newMcastDelivery(b.e, []mcastPort{{send: func([]byte) error { t.Error("sent"); return nil }}})
	for _, dst := range []string{"203.0.113.10", "224.0.0.5"} {
		p, _ := mcastUDP(testnet.Host(1), netip.MustParseAddr(dst), 8, 10, false)
		if err := d.deliver(p); err != nil {
			t.Error(err)
		}
	}
	if b.e.Count(McastInDropNotGroup) != 2 || b.e.Count(McastInDecrypted) != 0 {
		t.Errorf("counters %v", b.e.Counters())
	}
}

// decTTL's incremental checksum update is a full recomputation's.
func TestDecTTLKeepsTheChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		ihl := 20 + 4*r.IntN(11)
		h := make([]byte, ihl)
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		h[0] = 0x40 | byte(ihl/4)
		h[8] = byte(2 + r.IntN(254))
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], ipv4.Checksum(h))
		ttl := h[8]
		decTTL(h)
		if h[8] != ttl-1 || ipv4.Checksum(h) != 0 {
			t.Fatalf("TTL %d -> %d, checksum %#04x does not verify: %x", ttl, h[8], binary.BigEndian.Uint16(h[10:]), h)
		}
	}
}

// The sockets' filters let through IPv4 to routable groups only, and on
// the WAN only ESP.
func TestGroupFilter(t *testing.T) {
	frame := func(ethType uint16, proto uint8, dst string) []byte {
		f := make([]byte, 60)
		binary.BigEndian.PutUint16(f[12:], ethType)
		ipv4.WriteHeader(f[ethLen:], &ipv4.Header{TotalLen: 46, TTL: 8, Protocol: proto, Src: testnet.Host(1), Dst: netip.MustParseAddr(dst)})
		return f
	}
	lan, err := bpf.NewVM(groupFilter(0))
	if err != nil {
		t.Fatal(err)
	}
	wan, err := bpf.NewVM(groupFilter(ipv4.ProtoESP))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		frame    []byte
		lan, wan bool
	}{
		{"UDP to a group", frame(etherTypeIPv4, 17, "239.193.1.1"), true, false},
		{"ESP to a group", frame(etherTypeIPv4, 50, "239.193.1.1"), true, true},
		{"ESP to the last group", frame(etherTypeIPv4, 50, "239.255.255.255"), true, true},
		{"ESP to 224.0.1.1", frame(etherTypeIPv4, 50, "224.0.1.1"), true, true},
		{"OSPF to 224.0.0.5", frame(etherTypeIPv4, 89, "224.0.0.5"), false, false},
		{"ESP to 224.0.0.255", frame(etherTypeIPv4, 50, "224.0.0.255"), false, false},
		{"ESP to a host", frame(etherTypeIPv4, 50, "203.0.113.10"), false, false},
		{"ESP to 240.0.0.1", frame(etherTypeIPv4, 50, "240.0.0.1"), false, false},
		{"ARP", frame(0x0806, 50, "239.193.1.1"), false, false},
		{"short", frame(etherTypeIPv4, 50, "239.193.1.1")[:20], false, false},
	} {
		for _, s := range []struct {
			vm   *bpf.VM
			want bool
			side string
		}{{lan, c.lan, "LAN"}, {wan, c.wan, "WAN"}} {
			n, err := s.vm.Run(c.frame)
			if err != nil && c.name != "short" {
				t.Errorf("%s on the %s: %v", c.name, s.side, err)
			}
			if (n > 0) != s.want {
				t.Errorf("%s on the %s: kept %d octets, want kept %v", c.name, s.side, n, s.want)
			}
		}
	}
}

// The per-packet path of multicast allocates nothing either way.
func TestMulticastAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	_, a, b := mcastPair(t, "aes256gcm16")
	var esp []byte
	a.lan.w.SetESPSink(func(p []byte) error { esp = append(esp[:0], p...); return nil })
	pkt, h := mcastUDP(testnet.Host(1), group, 8, 1000, true)
	d := newMcastDelivery(b.e, []mcastPort{{send: func([]byte) error { return nil }}})
	wb := b.e.NewWorker(d.deliver, noClear)
	lanBuf := make([]byte, Headroom+65535+Tailroom)
	wanBuf := make([]byte, Headroom+65535+Tailroom)
	esp = make([]byte, 0, 2000)
	allocs := testing.AllocsPerRun(200, func() {
		// Encryption in place wrote over the headers: write them again.
		f := lanBuf[lanFrameOff:]
		clear(f[:vnetHdrLen+ethLen])
		f[0], f[6], f[8] = h.flags, byte(h.csumStart), byte(h.csumOffset)
		f[vnetHdrLen+12] = 0x08
		copy(f[vnetHdrLen+ethLen:], pkt)
		a.lan.frame(lanBuf, vnetHdrLen+ethLen+len(pkt))
		eth := wanBuf[wanFrameOff:]
		eth[12], eth[13] = 0x08, 0
		copy(eth[ethLen:], esp)
		wanFrame(wb, wanBuf, ethLen+len(esp))
	})
	if allocs != 0 || a.e.Count(McastOutEncrypted) < 200 || b.e.Count(McastInDelivered) < 200 {
		t.Errorf("%v allocations per packet out and in (counters %v and %v)", allocs, a.e.Counters(), b.e.Counters())
	}
}
