package pcap

import (
	"testing"

	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket decodes UDP 848 into the ISAKMP layer, GDOI payloads and all,
// and a damaged message into an error layer.
func TestISAKMPLayer(t *testing.T) {
	m := handbuilt.Messages()[7] // GROUPKEY-PULL 2
	udp := &layers.UDP{SrcPort: 848, DstPort: 848}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, udp, gopacket.Payload(m.Bytes)); err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeUDP, gopacket.Default)
	l, ok := p.Layer(LayerTypeISAKMP).(*ISAKMP)
	if !ok {
		t.Fatalf("no ISAKMP layer: %v", p)
	}
	if got := l.Message.Layout(); got != m.Layout {
		t.Errorf("layout %q, want %q", got, m.Layout)
	}
	bad := buf.Bytes()[:len(buf.Bytes())-5]
	p = gopacket.NewPacket(bad, layers.LayerTypeUDP, gopacket.Default)
	if p.ErrorLayer() == nil {
		t.Errorf("a truncated message decoded without error")
	}
}
