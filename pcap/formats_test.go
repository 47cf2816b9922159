package pcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/getlab/getlab/pcap/internal/espseal"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ethRecord is one captured frame in Ethernet form, the form the others are
// made from.
type ethRecord struct {
	ts  time.Time
	eth []byte
}

// ethFrame serializes layers behind an Ethernet header.
func ethFrame(t *testing.T, etherType layers.EthernetType, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: etherType}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		append([]gopacket.SerializableLayer{eth}, ls...)...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// formatFrames returns an ISAKMP datagram over IPv4, an ESP packet (tunnel
// mode, AES-CBC) over IPv4 and an ISAKMP datagram over IPv6, and the key
// log that opens the ESP packet.
func formatFrames(t *testing.T) ([]ethRecord, *KeyLog) {
	t.Helper()
	isakmpMsg := handbuilt.Messages()[0].Bytes
	gm, ks := net.IP{192, 0, 2, 11}, net.IP{192, 0, 2, 1}

	ip4 := &layers.IPv4{Version: 4, TTL: 64, TOS: 46 << 2, Protocol: layers.IPProtocolUDP, SrcIP: gm, DstIP: ks}
	udp4 := &layers.UDP{SrcPort: 848, DstPort: 848}
	_ = udp4.SetNetworkLayerForChecksum(ip4)
	f1 := ethFrame(t, layers.EthernetTypeIPv4, ip4, udp4, gopacket.Payload(isakmpMsg))

	tr, err := espwire.ParseTransform("aes128-sha1")
	if err != nil {
		t.Fatal(err)
	}
	keys := ESPKeys{SPI: 0x1e1e0001, Transform: tr, Key: bytes.Repeat([]byte{0x11}, 16), AuthKey: bytes.Repeat([]byte{0x22}, 20)}
	innerBuf := gopacket.NewSerializeBuffer()
	inner := &layers.IPv4{Version: 4, TTL: 63, TOS: 10 << 2, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{198, 51, 100, 7}, DstIP: net.IP{203, 0, 113, 9}}
	innerUDP := &layers.UDP{SrcPort: 4000, DstPort: 5000}
	_ = innerUDP.SetNetworkLayerForChecksum(inner)
	if err := gopacket.SerializeLayers(innerBuf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		inner, innerUDP, gopacket.Payload("inner payload")); err != nil {
		t.Fatal(err)
	}
	sealed, err := espseal.Seal(tr, keys.Key, keys.AuthKey, keys.SPI, 7, bytes.Repeat([]byte{0x33}, 16), 4, innerBuf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ipESP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolESP, SrcIP: gm, DstIP: net.IP{239, 192, 0, 1}}
	f2 := ethFrame(t, layers.EthernetTypeIPv4, ipESP, gopacket.Payload(sealed))

	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
		SrcIP: net.ParseIP("2001:db8::11"), DstIP: net.ParseIP("2001:db8::1")}
	udp6 := &layers.UDP{SrcPort: 848, DstPort: 848}
	_ = udp6.SetNetworkLayerForChecksum(ip6)
	f3 := ethFrame(t, layers.EthernetTypeIPv6, ip6, udp6, gopacket.Payload(isakmpMsg))

	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(keys.Line() + "\n")); err != nil {
		t.Fatal(err)
	}
	// Microsecond timestamps: every format keeps them exactly.
	ts := time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)
	return []ethRecord{{ts, f1}, {ts.Add(time.Millisecond), f2}, {ts.Add(1500 * time.Microsecond), f3}}, kl
}

// reframe turns an Ethernet frame into a frame of link type lt, as tcpdump
// on Linux writes it.
func reframe(t testing.TB, lt layers.LinkType, eth []byte) []byte {
	t.Helper()
	if len(eth) < 14 {
		t.Fatalf("reframe: Ethernet frame of %d octets", len(eth))
	}
	etherType, src, payload := eth[12:14], eth[6:12], eth[14:]
	switch lt {
	case layers.LinkTypeEthernet:
		return eth
	case layers.LinkTypeLinuxSLL:
		// Packet type 0 (to us), ARPHRD_ETHER, address length 6, address
		// padded to 8, protocol.
		h := []byte{0, 0, 0, 1, 0, 6}
		h = append(append(h, src...), 0, 0)
		return append(append(h, etherType...), payload...)
	case layers.LinkTypeLinuxSLL2:
		// Protocol, reserved, interface index 2, ARPHRD_ETHER, packet type
		// 0, address length 6, address padded to 8.
		h := append([]byte{}, etherType...)
		h = append(h, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6)
		h = append(append(h, src...), 0, 0)
		return append(h, payload...)
	case layers.LinkTypeRaw, 12, 14:
		return payload
	}
	t.Fatalf("reframe: link type %d", lt)
	return nil
}

// writePcap writes frames as a classic pcap file (little-endian) of link
// type lt, with nanosecond timestamps if nanos.
func writePcap(t testing.TB, frames []ethRecord, lt layers.LinkType, nanos bool) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if nanos {
		w = pcapgo.NewWriterNanos(&b)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		data := reframe(t, lt, f.eth)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// bigEndian rewrites a little-endian pcap file in big-endian byte order,
// as a big-endian host writes it.
func bigEndian(t testing.TB, le []byte) []byte {
	t.Helper()
	be := bytes.Clone(le)
	swap32 := func(b []byte) { binary.BigEndian.PutUint32(b, binary.LittleEndian.Uint32(b)) }
	swap16 := func(b []byte) { binary.BigEndian.PutUint16(b, binary.LittleEndian.Uint16(b)) }
	swap32(be[0:4])
	swap16(be[4:6])
	swap16(be[6:8])
	for i := 8; i < 24; i += 4 {
		swap32(be[i : i+4])
	}
	for off := 24; off < len(be); {
		if off+16 > len(be) {
			t.Fatalf("bigEndian: truncated record at %d", off)
		}
		incl := int(binary.LittleEndian.Uint32(be[off+8:]))
		for i := 0; i < 16; i += 4 {
			swap32(be[off+i : off+i+4])
		}
		off += 16 + incl
	}
	return be
}

// writePcapng writes frames as pcapng; linkOf gives each frame's link type,
// and each link type gets an interface of its own.
func writePcapng(t testing.TB, frames []ethRecord, linkOf func(i int) layers.LinkType) []byte {
	t.Helper()
	var b bytes.Buffer
	first := linkOf(0)
	w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{LinkType: first, SnapLength: 65535}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ifaces := map[layers.LinkType]int{first: 0}
	for i, f := range frames {
		lt := linkOf(i)
		id, ok := ifaces[lt]
		if !ok {
			if id, err = w.AddInterface(pcapgo.NgInterface{LinkType: lt, SnapLength: 65535}); err != nil {
				t.Fatal(err)
			}
			ifaces[lt] = id
		}
		data := reframe(t, lt, f.eth)
		ci := gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(data), Length: len(data), InterfaceIndex: id}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// comparable is what must not depend on the file format or link layer:
// everything decoded, and the IP packet. Link, the interface name, differs
// between a pcapng file of several interfaces and the others.
func comparable(p Packet) Packet {
	q := p
	q.Link, q.data, q.ip = "", nil, bytes.Clone(p.IPPacket())
	return q
}

// Every pcap flavour (both byte orders, micro- and nanosecond) and pcapng,
// with every link type tcpdump writes on Linux, and pcapng mixing them per
// interface, decode to the same packets: the ISAKMP message parsed, the ESP
// packet decrypted with the key log.
func TestReadFormatsAndLinkTypes(t *testing.T) {
	frames, kl := formatFrames(t)
	want, err := Read(bytes.NewReader(writePcapng(t, frames, func(int) layers.LinkType { return layers.LinkTypeEthernet })), kl)
	if err != nil {
		t.Fatal(err)
	}
	// The reference must be right before the others are compared with it.
	if len(want) != 3 {
		t.Fatalf("reference: %d packets", len(want))
	}
	if p := want[0]; p.ISAKMP == nil || p.ISAKMP.Layout != handbuilt.Messages()[0].Layout || p.DSCP != 46 ||
		p.Src != netip.MustParseAddr("192.0.2.11") || p.SrcPort != 848 || p.Malformed != "" {
		t.Errorf("reference frame 1: %s", p.String())
	}
	if e := want[1].ESP; e == nil || !e.Decrypted || e.InnerSrc != netip.MustParseAddr("198.51.100.7") || e.InnerDSCP != 10 ||
		!bytes.HasSuffix(e.Payload, []byte("inner payload")) {
		t.Errorf("reference frame 2: %s", want[1].String())
	}
	if p := want[2]; p.ISAKMP == nil || p.Src != netip.MustParseAddr("2001:db8::11") || p.Proto != "ISAKMP" {
		t.Errorf("reference frame 3: %s", p.String())
	}
	if ip := want[0].IPPacket(); len(ip) == 0 || ip[0]>>4 != 4 || !bytes.Equal(ip, frames[0].eth[14:]) {
		t.Errorf("reference IPPacket: % x", ip[:min(len(ip), 4)])
	}

	linkTypes := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeRaw, 12, 14}
	forms := map[string][]byte{}
	for _, lt := range linkTypes {
		le := writePcap(t, frames, lt, false)
		forms[fmt.Sprintf("pcap µs LE link %d", lt)] = le
		forms[fmt.Sprintf("pcap µs BE link %d", lt)] = bigEndian(t, le)
		ns := writePcap(t, frames, lt, true)
		forms[fmt.Sprintf("pcap ns LE link %d", lt)] = ns
		forms[fmt.Sprintf("pcap ns BE link %d", lt)] = bigEndian(t, ns)
		forms[fmt.Sprintf("pcapng link %d", lt)] = writePcapng(t, frames, func(int) layers.LinkType { return lt })
	}
	forms["pcapng mixed"] = writePcapng(t, frames, func(i int) layers.LinkType { return linkTypes[(i+1)%len(linkTypes)] })

	// The magics the files start with: the four pcap ones and pcapng's.
	magics := map[string]bool{}
	for _, b := range forms {
		magics[fmt.Sprintf("%x", b[:4])] = true
	}
	for _, m := range []string{"d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d", "0a0d0d0a"} {
		if !magics[m] {
			t.Errorf("no form starts with magic %s", m)
		}
	}

	for name, b := range forms {
		got, err := Read(bytes.NewReader(b), kl)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d packets, want %d", name, len(got), len(want))
			continue
		}
		for i := range got {
			if g, w := comparable(got[i]), comparable(want[i]); !reflect.DeepEqual(g, w) {
				t.Errorf("%s frame %d:\n got %s\nwant %s", name, i+1, got[i].String(), want[i].String())
			}
		}
	}
}

// A file that is neither pcap nor pcapng is refused by its magic; a frame
// of a link type without IP decoding is listed, not an error.
func TestReadUnknownMagicAndLinkType(t *testing.T) {
	if _, err := Read(strings.NewReader("GIF89a, not a capture"), nil); err == nil || !strings.Contains(err.Error(), "474946") {
		t.Errorf("unknown magic: err = %v", err)
	}
	if _, err := Read(strings.NewReader("\xd4"), nil); err == nil {
		t.Errorf("one-octet file: no error")
	}
	frames, _ := formatFrames(t)
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	_ = w.WriteFileHeader(65535, 147) // LINKTYPE_USER0
	data := frames[0].eth
	_ = w.WritePacket(gopacket.CaptureInfo{Timestamp: frames[0].ts, CaptureLength: len(data), Length: len(data)}, data)
	pkts, err := Read(&b, nil)
	if err != nil || len(pkts) != 1 || pkts[0].Src.IsValid() || pkts[0].IPPacket() != nil {
		t.Errorf("link type 147: %v, %v", pkts, err)
	}
}
