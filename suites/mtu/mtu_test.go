// The MTU suite: what a GETVPN path does with packets too large for it,
// judged from the wire. A narrow core link is staged by the impairment
// wire in front of gm2 (topologies/impair.clab.yml, harness/wire: an MTU
// clamp that drops DF packets and answers with ICMP "fragmentation
// needed", as a router on that link would).
package mtu

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var (
	ks1    = netip.MustParseAddr("192.0.2.1")
	gm1    = netip.MustParseAddr("192.0.2.11")
	gm2    = netip.MustParseAddr("192.0.2.12")
	hostA  = netip.MustParseAddr("198.51.100.10")
	hostB  = netip.MustParseAddr("203.0.113.10")
	router = netip.MustParseAddr("192.0.2.254") // the narrow link's router, as the wire plays it
)

const (
	coreMTU = 1400
	// probe is a UDP payload whose IP packet (1420 octets) fits the GMs'
	// 1500-octet WAN once encrypted by the GM's reckoning but not the
	// narrow link.
	probe = 1392
)

// icmpFragNeeded is an ICMP "fragmentation needed" (type 3, code 4) as the
// capture saw it: who sent it, to whom, the MTU it names and the protocol
// of the packet it quotes.
type icmpFragNeeded struct {
	pkt        pcap.Packet
	mtu        int
	quotedProt uint8
	quotedDst  netip.Addr
}

func fragNeeded(pkts []pcap.Packet, link string, src, dst netip.Addr) []icmpFragNeeded {
	var out []icmpFragNeeded
	for _, p := range pkts {
		if p.Link != link || p.Proto != "ICMP" || p.Src != src || p.Dst != dst {
			continue
		}
		ip := p.IPPacket()
		if len(ip) < 20 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		icmp := ip[ihl:]
		if len(icmp) < 8+20 || icmp[0] != 3 || icmp[1] != 4 {
			continue
		}
		out = append(out, icmpFragNeeded{pkt: p, mtu: int(binary.BigEndian.Uint16(icmp[6:8])), quotedProt: icmp[8+9],
			quotedDst: netip.AddrFrom4([4]byte(icmp[8+16 : 8+20]))})
	}
	return out
}

var _ = Describe("a core link narrower than the GM's WAN (DP-41, DP-42, FS-60's black hole)", Ordered, Label("mtu"), suitekit.Checks("DP-41", "DP-42", "FS-60"), suitekit.SlowAt(0.1), func() {
	var (
		s            *suitekit.Scenario
		untold, told traffic.Report
		coreICMP     int
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.GM: {impl.DataPlane}})
		s = suitekit.StartModelKSFirst(ctx, "mtu-narrow-core", "impair.clab.yml", m, nil, func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wgm2", "rules:\n  - {name: narrow, from: eth2, mtu: 1400, icmp_from: 192.0.2.254}\n")
		})
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		time.Sleep(time.Second) // gm2's PULL 4 reaches gm2
		// The GM not told: its WAN is 1500, the core 1400.
		untold = udp(ctx, s, "host-a", "host-b", 7100, probe, 20, 20)
		coreICMP = int(suitekit.WireStats(ctx, s.Lab, "wgm2").ICMP[1])
		// Told: gm1's WAN MTU set to the core's, which the GM follows.
		var out strings.Builder
		Expect(s.Lab.Exec(ctx, "gm1", []string{"ip", "link", "set", "dev", "eth1", "mtu", "1400"}, nil, &out, &out)).To(Succeed(), "%s", out.String())
		time.Sleep(2 * time.Second) // getvpnd reads its WAN's MTU every second
		told = udp(ctx, s, "host-a", "host-b", 7100, probe, 40, 20)
		s.Finish()
	})

	It("black-holes full-size DF traffic while the GM is not told: the core's ICMP names 1400 but quotes ESP, which the host cannot use", func() {
		Expect(untold.Sent).To(BeEquivalentTo(20))
		Expect(untold.Received).To(BeZero(), "probes through the narrow link: %+v", untold)
		Expect(coreICMP).To(BeNumerically(">=", 1), "the wire answered for the dropped packets")
		icmps := fragNeeded(s.Pkts, "wgm2:eth2", router, hostA)
		Expect(icmps).NotTo(BeEmpty(), "ICMP fragmentation needed from the narrow link's router to host-a")
		AddReportEntry("GM not told", fmt.Sprintf("%d of %d probes of %d octets delivered; %d ICMP from the narrow link quoting ESP", untold.Received, untold.Sent, probe+28, len(icmps)))
		for _, i := range icmps {
			Expect(i.mtu).To(Equal(coreMTU))
			Expect(i.quotedProt).To(BeEquivalentTo(50), "frame %d quotes ESP: header preservation sends the core's ICMP to the host", i.pkt.Index)
		}
	})

	It("once the GM's WAN MTU is the core's, the GM answers with MTU − overhead (50-60 octets) and the host's traffic gets through", func() {
		icmps := fragNeeded(s.Pkts, "gm1:eth2", gm1, hostA)
		if len(icmps) == 0 { // an implementation may answer from its LAN address
			icmps = fragNeeded(s.Pkts, "gm1:eth2", netip.MustParseAddr("198.51.100.1"), hostA)
		}
		Expect(icmps).NotTo(BeEmpty(), "ICMP fragmentation needed from gm1 to host-a")
		Expect(icmps[0].mtu).To(BeNumerically(">=", coreMTU-60))
		Expect(icmps[0].mtu).To(BeNumerically("<=", coreMTU-50))
		Expect(icmps[0].quotedProt).To(BeEquivalentTo(17), "the GM's ICMP quotes the host's own UDP")
		AddReportEntry("GM told the core's MTU", fmt.Sprintf("gm1 advertises %d to host-a (%d octets of overhead); %d of %d probes of %d octets delivered", icmps[0].mtu, coreMTU-icmps[0].mtu, told.Received, told.Sent, probe+28))
		Expect(told.Received).To(BeNumerically(">=", told.Sent-2), "after the first probe or two the host fragments to fit: %+v", told)
		for _, p := range s.Pkts {
			if p.Link == "gm2:eth1" && p.Proto == "ESP" {
				Expect(len(p.IPPacket())).To(BeNumerically("<=", coreMTU), "frame %d crossed the narrow link", p.Index)
			}
		}
	})
})

var _ = Describe("the DF policy of the ESP a GM sends (DP-43, df_bit)", Ordered, Label("mtu"), suitekit.Checks("DP-43", "FS-61"), suitekit.SlowAt(0.1), func() {
	var (
		s          *suitekit.Scenario
		clear, cpy traffic.Report
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		for i := range m.GroupMembers {
			if m.GroupMembers[i].Name == "gm1" {
				m.GroupMembers[i].DFBit = "clear"
			}
		}
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.GM: {impl.DataPlane, impl.DFBit}})
		s = suitekit.StartModel(ctx, "mtu-df-bit", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		time.Sleep(time.Second)
		// 1500-octet datagrams, DF set by the hosts (path MTU discovery),
		// each way: gm1 clears DF, gm2 copies it.
		clear = udp(ctx, s, "host-a", "host-b", 7200, 1472, 20, 10)
		cpy = udp(ctx, s, "host-b", "host-a", 7201, 1472, 20, 10)
		s.Finish()
	})

	It("clear: gm1 fragments each 1500-octet DF datagram before encryption, both ESP packets with DF clear, and host-b reassembles every one", func() {
		Expect(clear.Received).To(Equal(clear.Sent), "host-a -> host-b: %+v", clear)
		Expect(fragNeeded(s.Pkts, "gm1:eth2", gm1, hostA)).To(BeEmpty(), "gm1 refused a datagram with ICMP")
		esp := 0
		for _, p := range s.Pkts {
			if p.Link != "gm1:eth1" || p.Proto != "ESP" || p.Src != hostA || p.Dst != hostB {
				continue
			}
			ip := p.IPPacket()
			esp++
			Expect(len(ip)).To(BeNumerically("<=", 1500), "frame %d", p.Index)
			Expect(ip[6]&0x40).To(BeZero(), "frame %d: DF set on the ESP of a GM that clears it", p.Index)
		}
		Expect(esp).To(Equal(2*int(clear.Sent)), "two ESP packets per datagram, each an encrypted fragment")
	})

	It("clear: each ESP packet decrypts to a fragment of the datagram (key log)", func() {
		suitekit.RequireKeyLog()
		first, last := 0, 0
		for _, p := range s.Pkts {
			if p.Link != "gm1:eth1" || p.Proto != "ESP" || p.Src != hostA || p.Dst != hostB {
				continue
			}
			Expect(p.ESP.Decrypted).To(BeTrue(), "frame %d: %s", p.Index, p.ESP.DecryptError)
			inner := p.ESP.Payload
			Expect(len(inner)).To(BeNumerically(">=", 20))
			fo := binary.BigEndian.Uint16(inner[6:8])
			switch {
			case fo&0x2000 != 0 && fo&0x1fff == 0:
				first++
			case fo&0x2000 == 0 && fo&0x1fff != 0:
				last++
			default:
				Fail(fmt.Sprintf("frame %d: inner flags/offset %#x, not a fragment of a two-piece datagram", p.Index, fo))
			}
		}
		Expect(first).To(Equal(int(clear.Sent)))
		Expect(last).To(Equal(int(clear.Sent)))
	})

	It("copy: gm2 refuses the DF datagram with ICMP naming 1446, after which host-b's own fragments cross", func() {
		icmps := fragNeeded(s.Pkts, "gm2:eth2", gm2, hostB)
		if len(icmps) == 0 {
			icmps = fragNeeded(s.Pkts, "gm2:eth2", netip.MustParseAddr("203.0.113.1"), hostB)
		}
		Expect(icmps).NotTo(BeEmpty(), "ICMP fragmentation needed from gm2 to host-b")
		Expect(icmps[0].mtu).To(BeNumerically("~", 1445, 5), "1500 − the transform's overhead (50-60 octets)")
		Expect(cpy.Received).To(BeNumerically(">=", cpy.Sent-2), "host-b -> host-a once host-b fragments: %+v", cpy)
	})
})

// addrs are the hosts' addresses.
var addrs = map[string]netip.Addr{"host-a": hostA, "host-b": hostB}

// udp sends count datagrams of size octets of payload from one host to the
// other at rate a second (DF set by the host's path MTU discovery) and
// returns what arrived.
func udp(ctx context.Context, s *suitekit.Scenario, from, to string, port uint16, size, count, rate int) traffic.Report {
	st, err := traffic.StartStream(ctx, traffic.StreamConfig{
		From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, from), Addr: addrs[from]},
		To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, to), Addr: addrs[to]},
		Port: port, Rate: rate, Size: size, Count: count, Drain: time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	r, err := st.Wait()
	Expect(err).NotTo(HaveOccurred())
	return r
}
