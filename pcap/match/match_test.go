package match

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/getlab/getlab/pcap/internal/espseal"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	. "github.com/onsi/gomega"
)

var (
	gm = netip.AddrFrom4([4]byte(handbuilt.GMAddr))
	ks = netip.AddrFrom4([4]byte(handbuilt.KSAddr))
)

func TestISAKMPMatchers(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "h.pcapng")
	g.Expect(handbuilt.WriteCapture(path, handbuilt.Messages())).To(Succeed())
	pkts, err := pcap.ReadFile(path, nil)
	g.Expect(err).NotTo(HaveOccurred())

	pull1 := And(Exchange(isakmp.ExchangeGroupkeyPull, 1), From(gm), To(ks), FirstPayload(isakmp.PayloadHash))
	g.Expect(pkts).To(ContainElement(pull1))
	g.Expect(pkts).To(ContainElement(And(Exchange(isakmp.ExchangeGroupkeyPull, 2), Layout("HASH,NONCE,SA(SAK,GAP,SAT,SAT)"))))
	g.Expect(pkts).To(HaveEach(Clean()))
	// The matchers can fail: no PULL 1 goes from the KS, and no main-mode
	// message starts with HASH.
	g.Expect(pkts).NotTo(ContainElement(And(Exchange(isakmp.ExchangeGroupkeyPull, 1), From(ks))))
	g.Expect(pkts).NotTo(ContainElement(And(Exchange(isakmp.ExchangeMainMode, 0), FirstPayload(isakmp.PayloadHash))))
	// A failure names the packet.
	ok, err := FirstPayload(isakmp.PayloadSA).Match(pkts[6])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	g.Expect(FirstPayload(isakmp.PayloadSA).FailureMessage(pkts[6])).To(ContainSubstring("GROUPKEY-PULL #1"))
	_, err = Clean().Match("not a packet")
	g.Expect(err).To(HaveOccurred())
}

// An ESP packet sealed with header preservation (outer = inner addresses)
// matches PreservesAddresses; one whose outer header was rewritten does not.
func TestPreservesAddresses(t *testing.T) {
	g := NewWithT(t)
	tr, err := espwire.ParseTransform("aes128gcm16")
	g.Expect(err).NotTo(HaveOccurred())
	key := []byte("0123456789abcdef" + "salt")

	inner := gopacket.NewSerializeBuffer()
	src, dst := net.IP{198, 51, 100, 10}, net.IP{203, 0, 113, 10}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 9000}
	_ = udp.SetNetworkLayerForChecksum(ip)
	g.Expect(gopacket.SerializeLayers(inner, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload("probe"))).To(Succeed())
	sealed, err := espseal.Seal(tr, key, nil, 0x1e1e0001, 1, make([]byte, tr.IVLen()), espwire.NextHeaderIPv4, inner.Bytes())
	g.Expect(err).NotTo(HaveOccurred())

	path := filepath.Join(t.TempDir(), "esp.pcapng")
	f, err := os.Create(path)
	g.Expect(err).NotTo(HaveOccurred())
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	g.Expect(err).NotTo(HaveOccurred())
	for _, outerSrc := range []net.IP{src, {192, 0, 2, 11}} {
		buf := gopacket.NewSerializeBuffer()
		outer := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolESP, SrcIP: outerSrc, DstIP: dst}
		g.Expect(gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			outer, gopacket.Payload(sealed))).To(Succeed())
		d := buf.Bytes()
		g.Expect(w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(d), Length: len(d)}, d)).To(Succeed())
	}
	g.Expect(w.Flush()).To(Succeed())
	f.Close()

	kl := &pcap.KeyLog{}
	g.Expect(kl.Read(strings.NewReader(pcap.ESPKeys{SPI: 0x1e1e0001, Transform: tr, Key: key}.Line()))).To(Succeed())
	pkts, err := pcap.ReadFile(path, kl)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pkts).To(HaveLen(2))
	g.Expect(pkts[0]).To(And(ESP(0x1e1e0001), PreservesAddresses(), Clean()))
	g.Expect(pkts[1]).To(And(ESP(0x1e1e0001), Clean()))
	g.Expect(pkts[1]).NotTo(PreservesAddresses())
}
