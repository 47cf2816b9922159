// The data plane suite: two group members registered to one key server
// carry traffic between their sites as ESP with the original addresses
// (header preservation), pass what the KS's and their own deny entries
// exempt, drop clear traffic that should have been encrypted, copy DSCP,
// and answer too-big DF packets with ICMP. The lab is stated in the
// neutral model (harness/scenario) and runs the implementations chosen by
// KS= and GM= (suitekit.Impl); a GM implementation without data-plane
// skips the suite. Verdicts come from the wire first: the probe streams'
// accounting and the capture of every link, where ESP between the sites
// is counted by its outer addresses (the hosts') and SPI. Attributing an
// ESP packet to its probe needs it decrypted (a key log at either end,
// RequireKeyLog); the GMs' downloaded policy, verdict counters and events
// need the events capability (getvpnd's control socket), and are checked
// where the GM implementation offers it.
package dataplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/wire/ipv4"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Addresses of basic.clab.yml.
var (
	ks1   = netip.MustParseAddr("192.0.2.1")
	gm1   = netip.MustParseAddr("192.0.2.11")
	gm2   = netip.MustParseAddr("192.0.2.12")
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")
)

// Ports of the traffic classes.
const (
	portPermit    = 7000 // A -> B, matches the KS permit: ESP
	portReturn    = 7001 // B -> A, the mirror permit: ESP on the other TEK
	portSpoofed   = 7002 // clear A -> B injected on the WAN: dropped at gm2
	portTooBig    = 7003 // 1500-octet DF packets: ICMP back to host-a
	portWarmUp    = 7004 // until both data planes carry the permits, both ways
	portKSDeny    = 7100 // a KS deny entry the scenario adds: clear
	portLocalDeny = 9999 // both GMs' local deny: clear
	dscpEF        = 46
)

// model is the default scenario with "deny udp any any eq 7100" first in
// the group's ACL (the KS's own deny entries are for UDP 848 and 500,
// which the decoders read as ISAKMP, and OSPF) and, on both GMs, local
// deny entries for UDP 9999 both ways (a local deny matches inbound clear
// traffic with source and destination swapped, seed-features GM-42, so
// the receiving GM needs the mirror).
func model() *scenario.Scenario {
	m := scenario.Default()
	g := &m.Groups[0]
	g.ACL = append([]scenario.ACE{{Action: "deny", Protocol: "udp", DestinationPort: portKSDeny}}, g.ACL...)
	for i := range m.GroupMembers {
		m.GroupMembers[i].LocalACL = []scenario.ACE{
			{Action: "deny", Protocol: "udp", DestinationPort: portLocalDeny},
			{Action: "deny", Protocol: "udp", SourcePort: portLocalDeny},
		}
	}
	return m
}

var _ = Describe("data plane between two group members", Ordered, Label("dataplane"), suitekit.Checks("DP-01", "DP-02", "DP-03", "DP-70", "GM-40", "GM-41", "DP-42"), func() {
	var (
		s                           *suitekit.Scenario
		permit, back, ksDeny, local traffic.Report
		// warm is when both data planes carried the warm-up: every ESP
		// packet between the hosts after it belongs to the probe streams.
		warm time.Time
		// gmState: the GM implementation offers events, so its control
		// socket's policy, counters and events are read too.
		gmState              bool
		gm1Before, gm2Before control.GDOI
		gm1After, gm2After   control.GDOI
		// gm1Status, gm2Status: the GMs' status commands, where offered.
		gm1Status, gm2Status *impl.StatusDoc
		spoofMarker          = []byte("getlab-spoofed-clear")
	)
	stream := func(ctx SpecContext, from, to string, src, dst netip.Addr, port uint16, count int, dscp uint8) traffic.Report {
		st, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, from), Addr: src},
			To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, to), Addr: dst},
			Port: port, Rate: 1000, Count: count, Size: 200, DSCP: dscp,
		})
		Expect(err).NotTo(HaveOccurred())
		r, err := st.Wait()
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.DataPlane)
		gmState = suitekit.Offers(impl.GM, impl.Events)
		s = suitekit.StartModel(ctx, "dataplane", "basic.clab.yml", model(), nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		if gmState {
			gm1Before = suitekit.WaitRegistered(ctx, s.Lab, "gm1", 20*time.Second)
			gm2Before = suitekit.WaitRegistered(ctx, s.Lab, "gm2", 20*time.Second)
			Expect(gm1Before.DataPlane).NotTo(BeNil())
			Expect(gm1Before.DataPlane.Error).To(BeEmpty(), "gm1's data plane runs")
			Expect(gm2Before.DataPlane.Error).To(BeEmpty(), "gm2's data plane runs")
		}
		// A GM installs its TEKs once it has registered; the wire does not
		// say when, so one probe each way goes through first.
		Eventually(func(g Gomega) {
			for _, r := range []traffic.Report{
				stream(ctx, "host-a", "host-b", hostA, hostB, portWarmUp, 1, dscpEF),
				stream(ctx, "host-b", "host-a", hostB, hostA, portWarmUp, 1, 0),
			} {
				g.Expect(r.Received).To(Equal(r.Sent), "warm-up %s", r)
			}
		}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		warm = time.Now()
		if gmState {
			gm1Before = suitekit.GDOI(ctx, s.Lab, "gm1")
			gm2Before = suitekit.GDOI(ctx, s.Lab, "gm2")
		}

		permit = stream(ctx, "host-a", "host-b", hostA, hostB, portPermit, 300, dscpEF)
		back = stream(ctx, "host-b", "host-a", hostB, hostA, portReturn, 100, 0)
		ksDeny = stream(ctx, "host-a", "host-b", hostA, hostB, portKSDeny, 100, 0)
		local = stream(ctx, "host-a", "host-b", hostA, hostB, portLocalDeny, 100, 0)
		Expect(spoof(suitekit.NetNS(s.Lab, "ks1"), gm2, hostA, hostB, portSpoofed, 50, spoofMarker)).To(Succeed())
		Expect(sendDF(suitekit.NetNS(s.Lab, "host-a"), hostA, hostB, portTooBig, 1472, 3)).To(Succeed())
		// Until the injected packets have met their GMs: the specs then
		// assert on exact counts.
		s.WaitOnWire(ctx, 5*time.Second, "the spoofed packets at gm2's WAN side, gm1's ICMP errors to host-a", func(pkts []pcap.Packet) bool {
			spoofed, _ := framesIn(pkts, "gm2:eth1", portSpoofed)
			return len(spoofed) >= 50 && len(icmpsTo(pkts, "gm1:eth2", hostA)) > 0
		})
		if gmState {
			Eventually(func(g Gomega) {
				gm1After = suitekit.GDOI(ctx, s.Lab, "gm1")
				gm2After = suitekit.GDOI(ctx, s.Lab, "gm2")
				g.Expect(gm1After.DataPlane.Counters["out_drop_too_big"]).To(BeNumerically(">=", 3))
				g.Expect(gm2After.DataPlane.Counters["in_drop_clear_permit"] - gm2Before.DataPlane.Counters["in_drop_clear_permit"]).To(BeNumerically(">=", 50))
			}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
		}
		if suitekit.Offers(impl.GM, impl.Status) {
			st1 := suitekit.Status(ctx, s.Lab, "gm1", impl.GM)
			st2 := suitekit.Status(ctx, s.Lab, "gm2", impl.GM)
			gm1Status, gm2Status = &st1, &st2
		}
		time.Sleep(50 * time.Millisecond) // the last ICMP errors cross host-a's link
		s.Finish()
	})

	// framesOn returns the IPv4 frames captured on link whose (outer or,
	// for decrypted ESP, inner) UDP destination port is port.
	framesOn := func(link string, port uint16) (clear, esp []pcap.Packet) {
		return framesIn(s.Pkts, link, port)
	}
	// keys: the capture's ESP decrypts (a key log at either end).
	keys := func() bool { return suitekit.Offers(impl.GM, impl.KeyLog) || suitekit.Offers(impl.KS, impl.KeyLog) }
	// espAfterWarmUp is the ESP on link from src to dst (outer addresses)
	// after the warm-up: with header preservation, the probe streams'.
	espAfterWarmUp := func(link string, src, dst netip.Addr) []pcap.Packet {
		var out []pcap.Packet
		for _, p := range s.Pkts {
			if p.Link == link && p.ESP != nil && p.Src == src && p.Dst == dst && p.Time.After(warm) {
				out = append(out, p)
			}
		}
		return out
	}
	// oneSPI is the SPI every packet of esp carries.
	oneSPI := func(esp []pcap.Packet, what string) string {
		Expect(esp).NotTo(BeEmpty(), what)
		spi := esp[0].ESP.SPI
		for _, p := range esp {
			Expect(p.ESP.SPI).To(Equal(spi), "%s: one TEK, frame %d", what, p.Index)
		}
		return fmt.Sprintf("%08x", spi)
	}

	It("never catches the GMs' own traffic: both registered through their data plane's rules, GDOI in clear on UDP 848", func() {
		for _, gm := range []netip.Addr{gm1, gm2} {
			pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm, ks1)
			Expect(pull).To(HaveLen(4), "GROUPKEY-PULL of %s", gm)
			for _, p := range pull {
				Expect(p.Proto).To(Equal("ISAKMP"))
				Expect(p.SrcPort).To(BeEquivalentTo(848))
			}
		}
		for _, p := range s.Pkts {
			if p.ESP == nil {
				continue
			}
			// Header preservation: a daemon's own packet would go out
			// with its own address outside too.
			Expect(p.Src).NotTo(BeElementOf(gm1, gm2, ks1), "frame %d: a daemon's own packet encrypted", p.Index)
			if p.ESP.Decrypted {
				Expect(p.ESP.InnerSrc).NotTo(BeElementOf(gm1, gm2, ks1), "frame %d: a daemon's own packet encrypted", p.Index)
			}
		}
	})

	It("carries probe streams between the sites complete, both ways", func() {
		for _, r := range []traffic.Report{permit, back} {
			Expect(r.Sent).To(BeNumerically(">", 0))
			Expect(r.Received).To(Equal(r.Sent), "stream %s", r)
			Expect(r.Duplicated).To(BeZero())
		}
	})

	It("sends every protected probe across the WAN as ESP with the hosts' addresses and the registered TEK", func() {
		clear, _ := framesOn("gm1:eth1", portPermit)
		Expect(clear).To(BeEmpty(), "no clear probe on the WAN")
		s.Complete("gm1:eth1")
		ab := espAfterWarmUp("gm1:eth1", hostA, hostB)
		Expect(ab).To(HaveLen(int(permit.Sent)), "one ESP packet from host-a to host-b per probe on gm1's WAN link")
		spiAB := oneSPI(ab, "A->B")
		if gm1Status != nil {
			Expect(gm1Status.TEKSPIs).To(ContainElement(spiAB), "gm1's status lists the A->B TEK")
		}
		if gmState {
			Expect(tekFor(gm1After, "198.51.100.0/24")).To(Equal("0x"+spiAB), "SPI of the A->B TEK")
		}
		if keys() {
			_, esp := framesOn("gm1:eth1", portPermit)
			Expect(esp).To(HaveLen(int(permit.Sent)), "one ESP packet per probe on gm1's WAN link")
			for _, p := range esp {
				Expect(p.Src).To(Equal(hostA), "outer source = inner source (frame %d)", p.Index)
				Expect(p.Dst).To(Equal(hostB), "outer destination = inner destination")
				Expect(p.ESP.InnerSrc).To(Equal(hostA))
				Expect(p.ESP.InnerDst).To(Equal(hostB))
				Expect(p.ESP.NextHeader).To(BeEquivalentTo(4), "tunnel mode: a whole IPv4 packet inside")
			}
		}
		// None anywhere else on the WAN in clear either.
		for _, link := range []string{"ks1:eth1", "gm2:eth1"} {
			c, _ := framesOn(link, portPermit)
			Expect(c).To(BeEmpty(), "clear probes on %s", link)
		}
	})

	It("decrypts, with the key log, to exactly the probe host-a sent", func() {
		suitekit.RequireKeyLog()
		sent := map[uint64][]byte{} // probe seq -> UDP payload as host-a sent it
		s.Complete("gm1:eth2", "gm1:eth1")
		lan, _ := framesOn("gm1:eth2", portPermit)
		Expect(lan).To(HaveLen(int(permit.Sent)))
		var lanTTL uint8
		for _, p := range lan {
			payload := udpPayload(p.IPPacket())
			h, _, err := traffic.ParseHeader(payload)
			Expect(err).NotTo(HaveOccurred())
			sent[h.Seq] = payload
			lanTTL = p.TTL
		}
		_, esp := framesOn("gm1:eth1", portPermit)
		seen := map[uint64]bool{}
		for _, p := range esp {
			payload := udpPayload(p.ESP.Payload)
			h, _, err := traffic.ParseHeader(payload)
			Expect(err).NotTo(HaveOccurred(), "frame %d decrypts to a probe", p.Index)
			Expect(payload).To(Equal(sent[h.Seq]), "frame %d: probe %d byte for byte", p.Index, h.Seq)
			Expect(seen[h.Seq]).To(BeFalse(), "probe %d encrypted once", h.Seq)
			seen[h.Seq] = true
			inner := p.ESP.Payload
			Expect(ipv4.TTL(inner)).To(Equal(lanTTL-1), "gm1 is one routed hop")
			Expect(p.TTL).To(Equal(ipv4.TTL(inner)), "the outer TTL is the inner one")
		}
		Expect(seen).To(HaveLen(len(sent)))
	})

	It("uses the mirror permit's TEK for the return traffic", func() {
		clear, _ := framesOn("gm2:eth1", portReturn)
		Expect(clear).To(BeEmpty())
		s.Complete("gm2:eth1")
		ba := espAfterWarmUp("gm2:eth1", hostB, hostA)
		Expect(ba).To(HaveLen(int(back.Sent)), "one ESP packet from host-b to host-a per probe on gm2's WAN link")
		spiBA := oneSPI(ba, "B->A")
		Expect(spiBA).NotTo(Equal(oneSPI(espAfterWarmUp("gm1:eth1", hostA, hostB), "A->B")))
		if gm2Status != nil {
			Expect(gm2Status.TEKSPIs).To(ContainElement(spiBA), "gm2's status lists the B->A TEK")
		}
		if gmState {
			tekBA := tekFor(gm2After, "203.0.113.0/24")
			Expect("0x" + spiBA).To(Equal(tekBA))
			Expect(tekBA).NotTo(Equal(tekFor(gm2After, "198.51.100.0/24")))
		}
		if keys() {
			_, esp := framesOn("gm2:eth1", portReturn)
			Expect(esp).To(HaveLen(int(back.Sent)))
			for _, p := range esp {
				Expect(fmt.Sprintf("%08x", p.ESP.SPI)).To(Equal(spiBA))
				Expect(p.Src).To(Equal(hostB))
				Expect(p.Dst).To(Equal(hostA))
			}
		}
	})

	It("carries traffic matching a KS deny entry across the WAN in clear", func() {
		Expect(ksDeny.Received).To(Equal(ksDeny.Sent))
		clear, esp := framesOn("gm1:eth1", portKSDeny)
		Expect(esp).To(BeEmpty())
		s.Complete("gm1:eth1")
		Expect(clear).To(HaveLen(int(ksDeny.Sent)))
		Expect(espAfterWarmUp("gm1:eth1", hostA, hostB)).To(HaveLen(int(permit.Sent)), "no ESP from host-a to host-b but the permit probes")
		if gmState {
			Expect(gm1After.Groups[0].ACL).To(ContainElement("deny udp 0.0.0.0/0 0.0.0.0/0 eq 7100"))
			Expect(gm2After.Groups[0].ACL).To(ContainElement("deny udp 0.0.0.0/0 0.0.0.0/0 eq 7100"))
		}
	})

	It("carries traffic matching a GM local deny entry across the WAN in clear", func() {
		Expect(local.Received).To(Equal(local.Sent))
		clear, esp := framesOn("gm1:eth1", portLocalDeny)
		Expect(esp).To(BeEmpty())
		s.Complete("gm1:eth1")
		Expect(clear).To(HaveLen(int(local.Sent)))
		Expect(espAfterWarmUp("gm1:eth1", hostA, hostB)).To(HaveLen(int(permit.Sent)), "no ESP from host-a to host-b but the permit probes")
		if gmState {
			Expect(gm1After.Groups[0].LocalACL).To(ContainElement("deny udp any any eq 9999"))
		}
	})

	It("drops clear traffic that matches a permit when it arrives at the remote GM's WAN side", func(ctx SpecContext) {
		arrived, _ := framesOn("gm2:eth1", portSpoofed)
		Expect(arrived).To(HaveLen(50), "the spoofed clear packets reach gm2's WAN interface")
		for _, p := range arrived {
			Expect(bytes.HasPrefix(udpPayload(p.IPPacket()), spoofMarker)).To(BeTrue())
		}
		delivered, _ := framesOn("gm2:eth2", portSpoofed)
		Expect(delivered).To(BeEmpty(), "none goes on to host-b")
		if gmState {
			drops := gm2After.DataPlane.Counters["in_drop_clear_permit"] - gm2Before.DataPlane.Counters["in_drop_clear_permit"]
			Expect(drops).To(BeEquivalentTo(50))
			Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm2"))).To(ContainElement("RECVD_PKT_NOT_IPSEC"))
		}
	})

	It("copies DSCP from host-a's packets to the outer header and delivers it to host-b", func() {
		ab := espAfterWarmUp("gm1:eth1", hostA, hostB)
		Expect(ab).NotTo(BeEmpty())
		for _, p := range ab {
			Expect(p.DSCP).To(BeEquivalentTo(dscpEF), "outer DSCP, frame %d", p.Index)
			if p.ESP.Decrypted {
				Expect(p.ESP.InnerDSCP).To(BeEquivalentTo(dscpEF))
			}
		}
		if keys() {
			_, esp := framesOn("gm1:eth1", portPermit)
			Expect(esp).To(HaveLen(len(ab)), "every A->B ESP packet decrypts")
		}
		s.Complete("gm2:eth2")
		atB, _ := framesOn("gm2:eth2", portPermit)
		Expect(atB).To(HaveLen(int(permit.Received)))
		for _, p := range atB {
			Expect(p.DSCP).To(BeEquivalentTo(dscpEF), "at host-b, frame %d", p.Index)
		}
	})

	It("answers a DF packet too big once encrypted with ICMP fragmentation-needed carrying the inner MTU", func() {
		// aes256gcm16: 1500 - outer header 20 - ESP 8 - IV 8 - ICV 16 =
		// 1448 octets of plaintext, a multiple of 4 with the 2-octet
		// trailer: 1446 (seed-features DP-42 computes 1440 for a 60-octet
		// overhead).
		icmps := icmpsTo(s.Pkts, "gm1:eth2", hostA)
		Expect(icmps).NotTo(BeEmpty())
		for _, p := range icmps {
			ip := p.IPPacket()
			Expect(ip[20:22]).To(Equal([]byte{3, 4}), "destination unreachable, fragmentation needed")
			Expect(binary.BigEndian.Uint16(ip[26:])).To(BeEquivalentTo(1446), "next-hop MTU")
			Expect(p.Src).To(Equal(netip.MustParseAddr("198.51.100.1")), "from gm1's address towards host-a")
			Expect(ipv4.Dst(ip[28:])).To(Equal(hostB), "it quotes the packet to host-b")
		}
		clear, esp := framesOn("gm1:eth1", portTooBig)
		Expect(clear).To(BeEmpty())
		Expect(esp).To(BeEmpty(), "nothing of it crosses the WAN")
		Expect(espAfterWarmUp("gm1:eth1", hostA, hostB)).To(HaveLen(int(permit.Sent)), "no ESP from host-a to host-b but the permit probes")
		if gmState {
			Expect(gm1After.DataPlane.Counters["out_drop_too_big"]).To(BeEquivalentTo(3))
		}
	})

	It("counts every verdict per SA and per kind, in the control API", func() {
		suitekit.Require(impl.GM, impl.Events)
		c := gm1After.DataPlane.Counters
		Expect(c["out_encrypted"]).To(BeNumerically(">=", permit.Sent))
		Expect(c["out_clear_deny"]).To(BeNumerically(">=", ksDeny.Sent+local.Sent))
		Expect(c["in_decrypted"]).To(BeNumerically(">=", back.Sent))
		tek := tekStatus(gm1After, "198.51.100.0/24")
		Expect(tek.Counters).NotTo(BeNil())
		Expect(tek.Counters.EncryptedPackets).To(BeNumerically(">=", permit.Sent))
		Expect(tek.Counters.Send).To(BeTrue())
		Expect(tekStatus(gm2After, "198.51.100.0/24").Counters.DecryptedPackets).To(BeNumerically(">=", permit.Received))
		Expect(gm1After.DataPlane.LANDevice).To(Equal("gvpn-lan"))
		Expect(gm1After.DataPlane.WANInterface).To(Equal("eth1"))
	})

	It("is read the same way by tshark, which decrypts the ESP with the exported keys", func() {
		suitekit.RequireKeyLog()
		a := s.AgreesWithTshark()
		Expect(a.ESPCompared).To(BeNumerically(">=", permit.Sent+back.Sent))
	})
})

// framesIn returns the IPv4 frames of pkts captured on link whose (outer
// or, for decrypted ESP, inner) UDP destination port is port.
func framesIn(pkts []pcap.Packet, link string, port uint16) (clear, esp []pcap.Packet) {
	for _, p := range pkts {
		if p.Link != link {
			continue
		}
		switch {
		case p.Proto == "UDP" && p.DstPort == port:
			clear = append(clear, p)
		case p.ESP != nil && p.ESP.Decrypted && innerDstPort(p.ESP.Payload) == port:
			esp = append(esp, p)
		}
	}
	return clear, esp
}

// icmpsTo returns the ICMP packets to dst captured on link.
func icmpsTo(pkts []pcap.Packet, link string, dst netip.Addr) []pcap.Packet {
	return slices.DeleteFunc(slices.Clone(pkts), func(p pcap.Packet) bool {
		return p.Link != link || p.Proto != "ICMP" || p.Dst != dst
	})
}

// innerDstPort is the UDP destination port of an IPv4 packet, 0 if it is
// not UDP.
func innerDstPort(ip []byte) uint16 {
	if len(ip) < 28 || ipv4.Protocol(ip) != ipv4.ProtoUDP {
		return 0
	}
	ihl := int(ip[0]&0x0f) * 4
	return binary.BigEndian.Uint16(ip[ihl+2:])
}

// udpPayload is the payload of an IPv4/UDP packet.
func udpPayload(ip []byte) []byte {
	ihl := int(ip[0]&0x0f) * 4
	return ip[ihl+8:]
}

// tekStatus is the TEK whose source selector is src.
func tekStatus(st control.GDOI, src string) control.TEK {
	for _, t := range st.Groups[0].TEKs {
		if t.Src == src {
			return t
		}
	}
	Fail("no TEK with source " + src + " among " + strconv.Itoa(len(st.Groups[0].TEKs)))
	return control.TEK{}
}

func tekFor(st control.GDOI, src string) string { return tekStatus(st, src).SPI }
