package pcap

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// fragments cuts an IPv4/UDP datagram carrying payload into Ethernet
// frames of IP fragments with at most size octets of data each.
func fragments(t testing.TB, payload []byte, size int) [][]byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: handbuilt.KSAddr, DstIP: handbuilt.GMAddr}
	udp := &layers.UDP{SrcPort: 848, DstPort: 848}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes() // the UDP datagram: what the fragments carry
	var frames [][]byte
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		f := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip.SrcIP, DstIP: ip.DstIP, Id: 4242, FragOffset: uint16(off / 8)}
		if end < len(data) {
			f.Flags = layers.IPv4MoreFragments
		}
		fb := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(fb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			f, gopacket.Payload(data[off:end]))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, fb.Bytes())
	}
	return frames
}

// captureOf is a pcapng file of Ethernet frames, a microsecond apart.
func captureOf(t testing.TB, frames [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_800_000_000, 0)
	for _, b := range frames {
		ts = ts.Add(time.Microsecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// largestHandbuilt is the longest hand-built GDOI message.
func largestHandbuilt() handbuilt.Message {
	var msg handbuilt.Message
	for _, m := range handbuilt.Messages() {
		if len(m.Bytes) > len(msg.Bytes) {
			msg = m
		}
	}
	return msg
}

// TestReassemblesFragments: a GDOI message larger than the MTU (a PUSH
// with several TEK generations, a COOP announcement) crosses as IPv4
// fragments; the decoder shows the earlier ones as fragments and decodes
// the whole message on the frame that completes it.
func TestReassemblesFragments(t *testing.T) {
	msg := largestHandbuilt()
	frames := fragments(t, msg.Bytes, 64)
	if len(frames) < 3 {
		t.Fatalf("%s cut into %d fragments, want several", msg.Name, len(frames))
	}
	path := filepath.Join(t.TempDir(), "fragments.pcapng")
	if err := os.WriteFile(path, captureOf(t, frames), 0o644); err != nil {
		t.Fatal(err)
	}
	pkts, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts[:len(pkts)-1] {
		if p.Proto != "IPv4 fragment" || p.Malformed != "" || p.ISAKMP != nil {
			t.Errorf("frame %d: %s %q, want an IPv4 fragment", p.Index, p.Proto, p.Malformed)
		}
	}
	last := pkts[len(pkts)-1]
	if !last.Reassembled || last.ISAKMP == nil || last.ISAKMP.Layout != msg.Layout || last.SrcPort != 848 {
		t.Fatalf("last frame: %s reassembled %v %q, want %s decoded whole", last.Proto, last.Reassembled, last.Malformed, msg.Layout)
	}
}
