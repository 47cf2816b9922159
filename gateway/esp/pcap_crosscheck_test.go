package esp_test

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/esp"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/pcap"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The bench decrypts captures with its own ESP code (pcap/esp.go, written
// from the RFCs without this package). Every packet this package seals, for
// every transform it supports and payload lengths across the padding
// boundaries, must open there to the same payload and next header; a
// packet with a flipped ICV octet must not. The bench may not import the
// daemon's packages, so this check lives here.
func TestPcapDecodesSealed(t *testing.T) {
	var capture bytes.Buffer
	w, err := pcapgo.NewNgWriter(&capture, layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		tr      espwire.Transform
		payload []byte
		next    byte
		good    bool
	}
	var want []sent
	var keyLog strings.Builder
	spi := uint32(0x1000)
	for _, tr := range espwire.All() {
		if tr.ID == espwire.TransformAESGCM8 {
			continue // NewCipher does not run it (Go's GCM has no 8-octet tag)
		}
		spi++
		key := bytes.Repeat([]byte{byte(spi)}, tr.EncKeyLen())
		if tr.ID == espwire.Transform3DES {
			key = []byte("0123456789abcdefghijklmn")
		}
		authKey := bytes.Repeat([]byte{0xa5}, tr.AuthKeyLen())
		c, err := esp.NewCipher(tr, key, authKey)
		if err != nil {
			t.Fatalf("%v: %v", tr, err)
		}
		keyLog.WriteString(pcap.ESPKeys{SPI: spi, Transform: tr, Key: key, AuthKey: authKey}.Line() + "\n")
		for n := 0; n <= 20; n++ {
			payload := bytes.Repeat([]byte{byte(n + 1)}, n)
			next := byte(espwire.NextHeaderIPv4)
			if n%2 == 1 {
				next = espwire.NextHeaderDummy
			}
			iv := bytes.Repeat([]byte{byte(n)}, tr.IVLen())
			packet, err := c.Seal(nil, spi, uint64(n+1), iv, next, payload)
			if err != nil {
				t.Fatalf("%v, %d octets: %v", tr, n, err)
			}
			good := n != 7
			if !good {
				packet[len(packet)-1] ^= 1 // the ICV
			}
			writeESP(t, w, packet)
			want = append(want, sent{tr, payload, next, good})
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	kl := &pcap.KeyLog{}
	if err := kl.Read(strings.NewReader(keyLog.String())); err != nil {
		t.Fatal(err)
	}
	pkts, err := pcap.Read(&capture, kl)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != len(want) {
		t.Fatalf("pcap read %d packets, %d written", len(pkts), len(want))
	}
	for i, p := range pkts {
		s, e := want[i], p.ESP
		if e == nil {
			t.Fatalf("frame %d (%v): not ESP: %s", p.Index, s.tr, p.String())
		}
		if !s.good {
			if e.Decrypted || e.DecryptError == "" {
				t.Errorf("frame %d (%v): tampered ICV, pcap says %s", p.Index, s.tr, p.String())
			}
			continue
		}
		if !e.Decrypted || e.NextHeader != s.next || !bytes.Equal(e.Payload, s.payload) {
			t.Errorf("frame %d (%v, %d octets): pcap %s, payload %x; sealed next %d payload %x",
				p.Index, s.tr, len(s.payload), p.String(), e.Payload, s.next, s.payload)
		}
	}
}

func writeESP(t *testing.T, w *pcapgo.NgWriter, packet []byte) {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolESP, SrcIP: net.IP{192, 0, 2, 11}, DstIP: net.IP{239, 192, 0, 1}}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, gopacket.Payload(packet)); err != nil {
		t.Fatal(err)
	}
	d := buf.Bytes()
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(d), Length: len(d)}, d); err != nil {
		t.Fatal(err)
	}
}
