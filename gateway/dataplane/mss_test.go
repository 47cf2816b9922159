package dataplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// TCP flags and options the tests build segments with.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

var (
	nop    = []byte{1}
	eol    = []byte{0}
	sackOK = []byte{4, 2}
	tsOpt  = []byte{8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0}
)

func mssOpt(v uint16) []byte { return []byte{tcpOptMSS, tcpOptMSSLen, byte(v >> 8), byte(v)} }
func wscale(s byte) []byte   { return []byte{3, 3, s} }

func opts(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tcpPacket is an IPv4 TCP segment host 1:40000 > host 2:443 with flags,
// the options (padded with zeros to a multiple of 4) and payload, both
// checksums right.
func tcpPacket(flags byte, options, payload []byte) []byte {
	options = append(bytes.Clone(options), make([]byte, (4-len(options)%4)%4)...)
	b := make([]byte, ipv4.HeaderLen+tcpHeaderLen+len(options)+len(payload))
	ipv4.WriteHeader(b, &ipv4.Header{TotalLen: len(b), ID: 7, DF: true, TTL: 64, Protocol: ipv4.ProtoTCP, Src: testnet.Host(1), Dst: testnet.Host(2)})
	t := b[ipv4.HeaderLen:]
	binary.BigEndian.PutUint16(t[0:], 40000)
	binary.BigEndian.PutUint16(t[2:], 443)
	binary.BigEndian.PutUint32(t[4:], 0x01020304)
	if flags&flagACK != 0 {
		binary.BigEndian.PutUint32(t[8:], 0x0a0b0c0d)
	}
	t[12] = byte((tcpHeaderLen+len(options))/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 64240)
	copy(t[tcpHeaderLen:], options)
	copy(t[tcpHeaderLen+len(options):], payload)
	setTCPChecksum(b)
	return b
}

// tcpChecksum computes the TCP checksum of the IPv4 packet pkt from scratch
// (pseudo-header and the whole segment, the checksum field taken as zero),
// with no shortcut that clampMSS uses.
func tcpChecksum(pkt []byte) uint16 {
	ihl := int(pkt[0]&0x0f) * 4
	seg := pkt[ihl:]
	b := make([]byte, 12+len(seg))
	copy(b[0:8], pkt[12:20])
	b[9] = ipv4.ProtoTCP
	binary.BigEndian.PutUint16(b[10:], uint16(len(seg)))
	copy(b[12:], seg)
	b[12+tcpOffChecksum], b[12+tcpOffChecksum+1] = 0, 0
	return ipv4.Checksum(b)
}

func setTCPChecksum(pkt []byte) {
	ihl := int(pkt[0]&0x0f) * 4
	binary.BigEndian.PutUint16(pkt[ihl+tcpOffChecksum:], tcpChecksum(pkt))
}

// tcpChecksumOK reports whether pkt has a TCP header whose checksum
// verifies; ok is false when pkt has no TCP header to check.
func tcpChecksumOK(pkt []byte) (valid, ok bool) {
	ihl, err := ipv4.Check(pkt)
	if err != nil || ipv4.Protocol(pkt) != ipv4.ProtoTCP || len(pkt)-ihl < tcpHeaderLen {
		return false, false
	}
	return binary.BigEndian.Uint16(pkt[ihl+tcpOffChecksum:]) == tcpChecksum(pkt), true
}

// edited returns pkt changed by f, its IP header checksum recomputed and,
// when tcpSum, its TCP checksum too.
func edited(pkt []byte, tcpSum bool, f func(p []byte)) []byte {
	p := bytes.Clone(pkt)
	f(p)
	ipv4.SetECN(p, ipv4.ECN(p)) // recomputes the header checksum
	if tcpSum {
		setTCPChecksum(p)
	}
	return p
}

// withChecksum returns pkt, a segment of an even length, with two octets
// of payload added that make its TCP checksum want.
func withChecksum(pkt []byte, want uint16) []byte {
	p := edited(append(bytes.Clone(pkt), 0, 0), false, func(p []byte) { binary.BigEndian.PutUint16(p[2:], uint16(len(p))) })
	// The sum S of the rest gives the checksum c = ^S; adding x makes it
	// ^(S + x), which is want for x = ^want + c (one's complement).
	x := uint32(^want) + uint32(tcpChecksum(p))
	x = x&0xffff + x>>16
	binary.BigEndian.PutUint16(p[len(p)-2:], uint16(x))
	setTCPChecksum(p)
	if got := binary.BigEndian.Uint16(p[int(p[0]&0x0f)*4+tcpOffChecksum:]); got != want {
		panic(fmt.Sprintf("withChecksum: %#04x, want %#04x", got, want))
	}
	return p
}

// mssCase is a packet, the clamp, and where (offsets into the TCP options)
// the MSS values it must lower are; the rest must stay as it was.
type mssCase struct {
	name  string
	pkt   []byte
	mss   uint16
	mssAt []int
}

func mssCases() []mssCase {
	syn := func(o ...[]byte) []byte { return tcpPacket(flagSYN, opts(o...), nil) }
	linux := syn(mssOpt(1460), sackOK, tsOpt, nop, wscale(7))
	// A segment whose checksum is 0 once its MSS is 1360.
	zeroAfter := edited(withChecksum(syn(mssOpt(1360), sackOK), 0), true, func(p []byte) { binary.BigEndian.PutUint16(p[42:], 1460) })
	return []mssCase{
		{"SYN MSS above", syn(mssOpt(1460)), 1360, []int{2}},
		{"SYN MSS below", syn(mssOpt(1200)), 1360, nil},
		{"SYN MSS equal", syn(mssOpt(1360)), 1360, nil},
		{"SYN MSS 65535 to IOS's floor", syn(mssOpt(65535)), 500, []int{2}},
		{"SYN without options", syn(), 1360, nil},
		{"SYN without an MSS option", syn(sackOK, tsOpt, nop, wscale(7)), 1360, nil},
		{"SYN-ACK MSS above", tcpPacket(flagSYN|flagACK, mssOpt(1460), nil), 1360, []int{2}},
		{"ACK with an MSS option", tcpPacket(flagACK, mssOpt(1460), nil), 1360, nil},
		{"FIN with an MSS option", tcpPacket(flagFIN|flagACK, mssOpt(1460), nil), 1360, nil},
		{"RST with an MSS option", tcpPacket(flagRST, mssOpt(1460), nil), 1360, nil},
		{"Linux SYN: MSS, SACK-permitted, timestamps, NOP, window scale", linux, 1360, []int{2}},
		{"Windows SYN: MSS, NOP, window scale, NOP, NOP, SACK-permitted", syn(mssOpt(1460), nop, wscale(8), nop, nop, sackOK), 1360, []int{2}},
		{"NOP, window scale before the MSS", syn(nop, wscale(7), mssOpt(1460)), 1360, []int{6}},
		{"SACK-permitted, timestamps before the MSS", syn(sackOK, tsOpt, mssOpt(1460)), 1360, []int{14}},
		{"one NOP before the MSS: its value at an odd offset", syn(nop, mssOpt(1460)), 1360, []int{3}},
		{"three NOPs before the MSS: odd offset, other words", syn(nop, nop, nop, mssOpt(0xfedc)), 1360, []int{5}},
		{"odd offset, checksum ends 0", withChecksum(syn(nop, mssOpt(1460)), 0), 1360, []int{3}},
		{"checksum 0 before the clamp", withChecksum(syn(mssOpt(1460), sackOK), 0), 1360, []int{2}},
		{"checksum 0 after the clamp", zeroAfter, 1360, []int{2}},
		{"two MSS options: both", syn(mssOpt(1460), mssOpt(9000)), 1360, []int{2, 6}},
		{"two MSS options: one above", syn(mssOpt(1200), nop, mssOpt(1460)), 1360, []int{7}},
		{"MSS option of length 3", syn([]byte{tcpOptMSS, 3, 0x05}, mssOpt(1460)), 1360, []int{5}},
		{"MSS option of length 6", syn([]byte{tcpOptMSS, 6, 0x05, 0xb4, 0, 0}), 1360, nil},
		{"end of options before the MSS", syn(eol, nop, nop, nop, mssOpt(1460)), 1360, nil},
		{"option length 0 before the MSS", syn([]byte{8, 0}, nop, nop, mssOpt(1460)), 1360, nil},
		{"option length 1 before the MSS", syn([]byte{8, 1}, nop, nop, mssOpt(1460)), 1360, nil},
		{"option longer than the options before the MSS", syn([]byte{8, 40}, nop, nop, mssOpt(1460)), 1360, nil},
		{"MSS kind as the last option octet", syn(nop, nop, nop, []byte{tcpOptMSS}), 1360, nil},
		{"MSS running past the data offset into the payload",
			tcpPacket(flagSYN, opts(nop, nop, []byte{tcpOptMSS, tcpOptMSSLen}), []byte{0x05, 0xb4, 0xff, 0xff}), 1360, nil},
		{"MSS after the data offset", edited(syn(nop, nop, nop, nop, mssOpt(1460)), true, func(p []byte) { p[32] = 6 << 4 }), 1360, nil},
		{"data offset under 5", edited(syn(mssOpt(1460)), true, func(p []byte) { p[32] = 4 << 4 }), 1360, nil},
		{"data offset 0", edited(syn(mssOpt(1460)), true, func(p []byte) { p[32] = 0 }), 1360, nil},
		{"data offset past the packet", edited(syn(mssOpt(1460)), true, func(p []byte) { p[32] = 15 << 4 }), 1360, nil},
		{"TCP header cut short", edited(syn(mssOpt(1460))[:30], false, func(p []byte) { binary.BigEndian.PutUint16(p[2:], 30) }), 1360, nil},
		{"IPv4 options before the TCP header", withOptions(syn(mssOpt(1460), sackOK)), 1360, []int{2}},
		{"fragment offset 8", edited(syn(mssOpt(1460)), false, func(p []byte) { binary.BigEndian.PutUint16(p[6:], 1) }), 1360, nil},
		{"last fragment", edited(syn(mssOpt(1460)), false, func(p []byte) { binary.BigEndian.PutUint16(p[6:], 3) }), 1360, nil},
		{"UDP that reads like a SYN", edited(syn(mssOpt(1460)), false, func(p []byte) { p[9] = ipv4.ProtoUDP }), 1360, nil},
		{"total length short of the packet", edited(syn(mssOpt(1460)), false, func(p []byte) { binary.BigEndian.PutUint16(p[2:], 40) }), 1360, nil},
		{"IPv6", append([]byte{0x60}, make([]byte, 59)...), 1360, nil},
		{"empty", nil, 1360, nil},
	}
}

// clampMSS lowers exactly the MSS values above the clamp, and the checksum
// it leaves is the one recomputed from scratch.
func TestClampMSS(t *testing.T) {
	for _, tc := range mssCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Clone(tc.pkt)
			if len(tc.mssAt) > 0 {
				tcp := want[int(want[0]&0x0f)*4:]
				for _, at := range tc.mssAt {
					binary.BigEndian.PutUint16(tcp[tcpHeaderLen+at:], tc.mss)
				}
				setTCPChecksum(want)
			}
			got := bytes.Clone(tc.pkt)
			if clamped := clampMSS(got, tc.mss); clamped != (len(tc.mssAt) > 0) {
				t.Errorf("clampMSS reported %v", clamped)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %x\nwant %x", got, want)
			}
			if valid, ok := tcpChecksumOK(tc.pkt); ok && valid {
				if valid, _ := tcpChecksumOK(got); !valid {
					t.Errorf("TCP checksum %#04x after the clamp, recomputed %#04x", binary.BigEndian.Uint16(got[int(got[0]&0x0f)*4+tcpOffChecksum:]), tcpChecksum(got))
				}
			}
		})
	}
}

// A first fragment that holds the whole TCP header is clamped as the whole
// segment is: its checksum, which covers every fragment's data, is the
// whole segment's once clamped.
func TestClampMSSFirstFragment(t *testing.T) {
	whole := tcpPacket(flagSYN, opts(mssOpt(1460), sackOK, tsOpt, nop, wscale(7)), bytes.Repeat([]byte{0xa5, 0x17, 0x3c}, 100))
	cut := ipv4.HeaderLen + 48
	first := edited(whole[:cut], false, func(p []byte) {
		binary.BigEndian.PutUint16(p[2:], uint16(cut))
		binary.BigEndian.PutUint16(p[6:], 0x2000) // MF, offset 0
	})
	if !clampMSS(whole, 1360) || !clampMSS(first, 1360) {
		t.Fatal("not clamped")
	}
	if !bytes.Equal(first[ipv4.HeaderLen:], whole[ipv4.HeaderLen:cut]) {
		t.Fatalf("first fragment's TCP octets %x, want the clamped segment's %x", first[ipv4.HeaderLen:], whole[ipv4.HeaderLen:cut])
	}
	if valid, _ := tcpChecksumOK(whole); !valid {
		t.Fatal("clamped segment's checksum does not verify")
	}
	// Cut inside the options: the MSS is there, but not the whole header.
	short := edited(whole[:ipv4.HeaderLen+28], false, func(p []byte) {
		binary.BigEndian.PutUint16(p[2:], ipv4.HeaderLen+28)
		binary.BigEndian.PutUint16(p[6:], 0x2000)
	})
	if clampMSS(short, 500) {
		t.Fatal("a first fragment without the whole TCP header was clamped")
	}
}

// FuzzClampMSS: no input makes clampMSS panic; what it does not clamp it
// leaves as it was; what it clamps changes only in the TCP header, keeps a
// valid checksum valid, and needs no second clamp.
func FuzzClampMSS(f *testing.F) {
	for _, tc := range mssCases() {
		f.Add(tc.pkt, tc.mss)
	}
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16) {
		before := bytes.Clone(pkt)
		validBefore, checkable := tcpChecksumOK(pkt)
		if !clampMSS(pkt, mss) {
			if !bytes.Equal(pkt, before) {
				t.Fatalf("not clamped, yet changed:\n%x\n%x", before, pkt)
			}
			return
		}
		ihl := int(pkt[0]&0x0f) * 4
		end := ihl + int(pkt[ihl+12]>>4)*4
		for i := range pkt {
			if pkt[i] != before[i] && (i < ihl || i >= end) {
				t.Fatalf("octet %d changed, outside the TCP header [%d, %d)", i, ihl, end)
			}
		}
		if checkable && validBefore {
			if valid, _ := tcpChecksumOK(pkt); !valid {
				t.Fatalf("a valid TCP checksum became invalid: %x -> %x", before, pkt)
			}
		}
		if clampMSS(pkt, mss) {
			t.Fatal("a second clamp changed the packet again")
		}
	})
}

// clampingMember is a registered GM on aes256gcm16 whose engine clamps the
// TCP MSS to mss (0: not at all).
func clampingMember(t *testing.T, clk *clock.Fake, sid uint32, mss int) *member {
	m := &member{}
	m.e = New(Options{Clock: clock.New(1, clk.Now), Local: testnet.GM(int(sid)).Addr(), MTU: 1500, LocalDenyInbound: "ios",
		Groups: []config.Group{{Name: "GETVPN"}}, TCPMSS: mss})
	rec := func(b []byte) error { m.out = append(m.out, bytes.Clone(b)); return nil }
	m.w = m.e.NewWorker(rec, rec)
	if err := m.e.Install("GETVPN", groupPolicy(t, "aes256gcm16", sid), clk.Now()); err != nil {
		t.Fatal(err)
	}
	return m
}

// mssOf is the MSS of tcpPacket's first option when it is an MSS option.
func mssOf(pkt []byte) uint16 { return binary.BigEndian.Uint16(pkt[ipv4.HeaderLen+tcpHeaderLen+2:]) }

// A SYN with MSS 1460 that a GM with tcp_mss 1360 encrypts comes out of
// the far GM with MSS 1360 and a checksum that verifies; a SYN-ACK the far
// GM sends unclamped is clamped when the first decrypts it; what passes in
// clear, and segments without SYN, keep their MSS.
func TestMSSClampedThroughESP(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	a, b := clampingMember(t, clk, 1, 1360), clampingMember(t, clk, 2, 0)

	syn := tcpPacket(flagSYN, opts(mssOpt(1460), sackOK, tsOpt, nop, wscale(7)), nil)
	out := a.run(false, syn)
	if len(out) != 1 || ipv4.Protocol(out[0]) != ipv4.ProtoESP {
		t.Fatalf("SYN: %d packets out, counters %v", len(out), a.e.Counters())
	}
	got := b.run(true, out[0])
	if len(got) != 1 {
		t.Fatalf("SYN not decrypted: counters %v", b.e.Counters())
	}
	if mss := mssOf(got[0]); mss != 1360 {
		t.Errorf("SYN decrypted with MSS %d, want 1360", mss)
	}
	if valid, _ := tcpChecksumOK(got[0]); !valid {
		t.Error("SYN decrypted with a bad TCP checksum")
	}
	if want := edited(syn, true, func(p []byte) { binary.BigEndian.PutUint16(p[42:], 1360) }); !bytes.Equal(got[0], want) {
		t.Errorf("SYN decrypted as %x, want %x", got[0], want)
	}
	if a.e.Count(TCPMSSClamped) != 1 || b.e.Count(TCPMSSClamped) != 0 {
		t.Errorf("tcp_mss_clamped %d and %d, want 1 and 0", a.e.Count(TCPMSSClamped), b.e.Count(TCPMSSClamped))
	}

	// The SYN-ACK, host 2 > host 1, from a GM that does not clamp.
	synack := edited(tcpPacket(flagSYN|flagACK, mssOpt(1460), nil), true, func(p []byte) {
		copy(p[12:16], testnet.Host(2).AsSlice())
		copy(p[16:20], testnet.Host(1).AsSlice())
	})
	out = b.run(false, synack)
	if len(out) != 1 || ipv4.Protocol(out[0]) != ipv4.ProtoESP {
		t.Fatalf("SYN-ACK: %d packets out, counters %v", len(out), b.e.Counters())
	}
	if got = a.run(true, out[0]); len(got) != 1 || mssOf(got[0]) != 1360 {
		t.Fatalf("SYN-ACK decrypted: %d packets, counters %v", len(got), a.e.Counters())
	}
	if valid, _ := tcpChecksumOK(got[0]); !valid {
		t.Error("SYN-ACK decrypted with a bad TCP checksum")
	}
	if a.e.Count(TCPMSSClamped) != 2 {
		t.Errorf("tcp_mss_clamped %d after the SYN-ACK, want 2", a.e.Count(TCPMSSClamped))
	}

	// Neither an ACK through ESP nor a SYN the policy passes in clear.
	ack := tcpPacket(flagACK, mssOpt(1460), nil)
	if out = a.run(false, ack); len(out) != 1 {
		t.Fatalf("ACK: %d packets out", len(out))
	}
	if got = b.run(true, out[0]); len(got) != 1 || !bytes.Equal(got[0], ack) {
		t.Error("an ACK with an MSS option did not cross unchanged")
	}
	passed := edited(syn, true, func(p []byte) { copy(p[16:20], []byte{192, 0, 2, 99}) })
	if got = a.run(false, passed); len(got) != 1 || !bytes.Equal(got[0], passed) || a.e.Count(OutClearNoMatch) != 1 {
		t.Error("a SYN sent in clear was changed")
	}
	if n := a.e.Counters()["tcp_mss_clamped"]; n != 2 {
		t.Errorf("tcp_mss_clamped %d, want still 2", n)
	}
}

// Clamping allocates nothing, out (before encryption) or in (after
// decryption).
func TestMSSClampAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	clk := clock.NewFake(time.Unix(1e9, 0))
	a, b := clampingMember(t, clk, 1, 0), clampingMember(t, clk, 2, 1360)
	var last []byte
	wa := a.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
	wb := b.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
	syn := tcpPacket(flagSYN, opts(mssOpt(1460), sackOK, tsOpt, nop, wscale(7)), nil)
	buf := make([]byte, Headroom+len(syn)+Tailroom)
	in := make([]byte, Headroom+2000)
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], syn)
		wa.Outbound(buf, Headroom, len(syn))
		n := copy(in[Headroom:], last)
		wb.Inbound(in, Headroom, n)
		copy(buf[Headroom:], syn)
		wb.Outbound(buf, Headroom, len(syn))
	})
	if allocs != 0 {
		t.Errorf("%v allocs per SYN out and in", allocs)
	}
	if n := b.e.Count(TCPMSSClamped); n < 400 {
		t.Errorf("tcp_mss_clamped %d after 201 runs of one SYN in and one out: the clamp did not run", n)
	}
}
