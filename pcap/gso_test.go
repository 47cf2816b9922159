package pcap

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// superpacket builds an Ethernet frame holding one TCP or UDP superpacket
// of payload octets, with correct checksums.
func superpacket(t *testing.T, v6, tcp bool, payload []byte, flags byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var net gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	if v6 {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: []byte{0x20, 1, 0xd, 0xb8, 15: 1}, DstIP: []byte{0x20, 1, 0xd, 0xb8, 15: 2}}
		net, ls = ip, []gopacket.SerializableLayer{eth, ip}
		if tcp {
			ip.NextHeader = layers.IPProtocolTCP
		} else {
			ip.NextHeader = layers.IPProtocolUDP
		}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 1000, Flags: layers.IPv4DontFragment, SrcIP: []byte{198, 51, 100, 10}, DstIP: []byte{203, 0, 113, 10}}
		net, ls = ip, []gopacket.SerializableLayer{eth, ip}
		if tcp {
			ip.Protocol = layers.IPProtocolTCP
		} else {
			ip.Protocol = layers.IPProtocolUDP
		}
	}
	if tcp {
		l4 := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: 0xfffff000, Ack: 7, Window: 512, ACK: true,
			PSH: flags&0x08 != 0, FIN: flags&0x01 != 0, CWR: flags&0x80 != 0}
		_ = l4.SetNetworkLayerForChecksum(net)
		ls = append(ls, l4)
	} else {
		l4 := &layers.UDP{SrcPort: 40000, DstPort: 7000}
		_ = l4.SetNetworkLayerForChecksum(net)
		ls = append(ls, l4)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, append(ls, gopacket.Payload(payload))...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checksumsGood verifies a segment's IPv4 header and TCP/UDP checksums
// from scratch and returns the decoded packet.
func checksumsGood(t *testing.T, f []byte) gopacket.Packet {
	t.Helper()
	p, ok := parseL3(f)
	if !ok {
		t.Fatalf("segment does not parse: % x", f[:min(len(f), 64)])
	}
	if !p.v6 && fold(sum(f[p.ip:p.l4], 0)) != 0xffff {
		t.Errorf("IPv4 header checksum wrong")
	}
	if fold(sum(f[p.l4:], pseudoHeader(f, p, len(f)-p.l4))) != 0xffff {
		t.Errorf("transport checksum wrong")
	}
	return gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
}

func TestSegmentTCP(t *testing.T) {
	payload := make([]byte, 4000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, v6 := range []bool{false, true} {
		gso := uint8(vnetGSOTCPv4)
		if v6 {
			gso = vnetGSOTCPv6
		}
		frame := superpacket(t, v6, true, payload, 0x80|0x08|0x01)
		segs := wireFrames(vnetHdr{gsoType: gso, gsoSize: 1448}, frame)
		if len(segs) != 3 {
			t.Fatalf("v6 %v: %d segments, want 3 (1448+1448+1104)", v6, len(segs))
		}
		var got []byte
		for i, s := range segs {
			pkt := checksumsGood(t, s)
			tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if want := uint32(0xfffff000) + uint32(i*1448); tcp.Seq != want {
				t.Errorf("segment %d: seq %#x, want %#x (wrapping)", i, tcp.Seq, want)
			}
			if tcp.CWR != (i == 0) || tcp.PSH != (i == 2) || tcp.FIN != (i == 2) || !tcp.ACK {
				t.Errorf("segment %d: flags CWR %v PSH %v FIN %v ACK %v", i, tcp.CWR, tcp.PSH, tcp.FIN, tcp.ACK)
			}
			if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
				if ip.Id != uint16(1000+i) || int(ip.Length) != len(s)-14 {
					t.Errorf("segment %d: IPv4 id %d length %d", i, ip.Id, ip.Length)
				}
			}
			got = append(got, tcp.Payload...)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("v6 %v: the segments' payloads are not the superpacket's", v6)
		}
	}
}

func TestSegmentUDP(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20) // 320 octets: 64 × 5
	frame := superpacket(t, false, false, payload, 0)
	segs := wireFrames(vnetHdr{gsoType: vnetGSOUDPL4, gsoSize: 64}, frame)
	if len(segs) != 5 {
		t.Fatalf("%d datagrams, want 5", len(segs))
	}
	for i, s := range segs {
		pkt := checksumsGood(t, s)
		udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp.Length != 8+64 || !bytes.Equal(udp.Payload, payload[i*64:(i+1)*64]) {
			t.Errorf("datagram %d: length %d payload % x", i, udp.Length, udp.Payload)
		}
	}
}

// A frame whose checksum the sender left to the device (CHECKSUM_PARTIAL:
// the field holds the pseudo-header's sum) is written with it completed.
func TestCompletePartialChecksum(t *testing.T) {
	frame := superpacket(t, false, false, []byte("hello, wire"), 0)
	p, _ := parseL3(frame)
	field := p.l4 + 6
	partial := fold(pseudoHeader(frame, p, len(frame)-p.l4))
	binary.BigEndian.PutUint16(frame[field:], partial)
	segs := wireFrames(vnetHdr{flags: vnetNeedsCsum, csumStart: uint16(p.l4), csumOffset: 6}, frame)
	if len(segs) != 1 {
		t.Fatalf("%d frames", len(segs))
	}
	checksumsGood(t, segs[0])
}

// What it cannot cut is kept whole: nothing of the capture is lost.
func TestUncuttableKeptWhole(t *testing.T) {
	frame := superpacket(t, false, false, make([]byte, 100), 0)
	for _, h := range []vnetHdr{
		{gsoType: vnetGSOTCPv4, gsoSize: 10}, // says TCP, holds UDP
		{gsoType: 9, gsoSize: 10},            // unknown type
	} {
		if segs := wireFrames(h, frame); len(segs) != 1 || !bytes.Equal(segs[0], frame) {
			t.Errorf("%+v: %d frames", h, len(segs))
		}
	}
	if segs := wireFrames(vnetHdr{gsoType: vnetGSOUDPL4, gsoSize: 10}, frame[:20]); len(segs) != 1 {
		t.Errorf("truncated frame: %d frames", len(segs))
	}
}

// Whatever a frame and its header say, cutting it never panics and never
// loses payload: the segments carry at least the frame's payload octets.
func FuzzWireFrames(f *testing.F) {
	f.Add([]byte{0, vnetGSOUDPL4, 0, 0, 64, 0, 34, 0, 6, 0}, superpacket(&testing.T{}, false, false, make([]byte, 300), 0))
	f.Add([]byte{1, vnetGSOTCPv6, 0, 0, 100, 0, 54, 0, 16, 0}, superpacket(&testing.T{}, true, true, make([]byte, 1000), 0x09))
	f.Fuzz(func(t *testing.T, hdr, frame []byte) {
		h, err := parseVnetHdr(hdr)
		if err != nil {
			return
		}
		segs := wireFrames(h, bytes.Clone(frame))
		if len(segs) == 0 {
			t.Fatal("no frames")
		}
	})
}
