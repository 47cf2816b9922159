package handbuilt

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Addresses the capture written by WriteCapture uses: a GM and a KS on the
// basic topology's WAN.
var (
	GMAddr = net.IP{192, 0, 2, 11}
	KSAddr = net.IP{192, 0, 2, 1}
)

// WriteCapture writes msgs as a pcapng file, each as one Ethernet/IPv4/UDP
// frame from port 848 to port 848, GM to KS or back, a millisecond apart.
// extra frames (raw UDP payloads from the GM) follow, for tests that need a
// damaged message.
func WriteCapture(path string, msgs []Message, extra ...[]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		return err
	}
	for _, b := range extra {
		msgs = append(msgs, Message{Name: "extra", FromGM: true, Bytes: b})
	}
	ts := time.Now()
	for _, m := range msgs {
		src, dst := KSAddr, GMAddr
		if m.FromGM {
			src, dst = GMAddr, KSAddr
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
		udp := &layers.UDP{SrcPort: 848, DstPort: 848}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return err
		}
		buf := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(m.Bytes))
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		ts = ts.Add(time.Millisecond)
		data := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			return err
		}
	}
	return w.Flush()
}
