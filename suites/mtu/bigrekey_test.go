package mtu

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// bigACL fills the group's ACL to aclLimit entries with permits (UDP site
// A → site B, one destination port each) before its own and returns how
// many permit entries it has then: the KS makes a TEK for each, so its
// rekeys' SA and KD payloads outgrow any MTU (RK-16's "100-entry ACL to
// force IP fragmentation").
func bigACL(m *scenario.Scenario) (permitEntries int) {
	g := &m.Groups[0]
	n := aclLimit - len(g.ACL)
	var permits []scenario.ACE
	for i := range n {
		permits = append(permits, scenario.ACE{Action: "permit", Protocol: "udp", Source: "198.51.100.0/24",
			Destination: "203.0.113.0/24", DestinationPort: uint16(20000 + i)})
	}
	at := firstPermit(g.ACL)
	g.ACL = append(g.ACL[:at], append(permits, g.ACL[at:]...)...)
	return len(g.ACL) - at
}

// bigPushes are the GROUPKEY-PUSHes from ks1 to dst on link, reassembled,
// and how many fragments carried each (1: it was not fragmented).
func bigPushes(pkts []pcap.Packet, link string, dst netip.Addr) (pushes []pcap.Packet, frags []int) {
	byID := map[uint16]int{} // fragments before the last, by IP identification
	for _, p := range pkts {
		if p.Link != link || p.Src != ks1 || p.Dst != dst {
			continue
		}
		ip := p.IPPacket()
		if len(ip) < 20 {
			continue
		}
		id := binary.BigEndian.Uint16(ip[4:6])
		switch {
		case p.Proto == "IPv4 fragment":
			byID[id]++
		case p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPush):
			n := 1
			if p.Reassembled {
				n += byID[id]
			}
			pushes, frags = append(pushes, p), append(frags, n)
			delete(byID, id)
		}
	}
	return
}

// waitTaken waits until every GM's status holds the KS's TEKs and the
// rekey's SEQ, and returns the KS's TEKs.
func waitTaken(ctx context.Context, s *suitekit.Scenario, gms []string, within time.Duration) []string {
	var want []string
	Eventually(func(g Gomega) {
		ks := suitekit.Status(ctx, s.Lab, "ks1", impl.KS)
		want = ks.TEKSPIs
		for _, gm := range gms {
			st := suitekit.Status(ctx, s.Lab, gm, impl.GM)
			g.Expect(st.Seq).To(BeNumerically(">=", 1), "%s took a rekey", gm)
			g.Expect(st.TEKSPIs).To(Equal(ks.TEKSPIs), "%s holds the KS's TEKs", gm)
		}
	}).WithContext(ctx).WithTimeout(within).WithPolling(200 * time.Millisecond).Should(Succeed())
	return want
}

// aclLimit is the most entries a group's ACL may have (IOS's
// GDOI_ACL_NUM) and the size RK-16 asks for.
const aclLimit = 100

var _ = Describe("a rekey of a 100-entry ACL's TEKs, larger than the MTU, unicast (RK-16, FS-23)", Ordered, Label("mtu"), suitekit.Checks("KS-11", "RK-16", "FS-23"), suitekit.SlowAt(0.1), func() {
	var (
		s       *suitekit.Scenario
		teks    []string
		permits int
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		m.Groups[0].TEKLifetime = 300
		permits = bigACL(m)
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.KS: {impl.UnicastRekey, impl.Acks, impl.Status}, impl.GM: {impl.UnicastRekey, impl.Acks, impl.Status}})
		s = suitekit.StartModel(ctx, "mtu-big-rekey-unicast", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		s.WaitOnWire(ctx, s.Scaled(300*time.Second)+10*time.Second, "both GMs acknowledge a rekey", func(pkts []pcap.Packet) bool {
			for _, gm := range []netip.Addr{gm1, gm2} {
				if !slices.ContainsFunc(pkts, func(p pcap.Packet) bool {
					return p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPushAck) && p.Src == gm
				}) {
					return false
				}
			}
			return true
		})
		teks = waitTaken(ctx, s, []string{"gm1", "gm2"}, 10*time.Second)
		s.Finish()
	})

	It("sends each GM its rekey as IP fragments, which reach it whole, and each acknowledges it and holds its TEKs", func() {
		Expect(len(teks)).To(BeNumerically(">=", 2*permits), "old and new TEKs of %d permit entries", permits)
		for gm, link := range map[netip.Addr]string{gm1: "gm1:eth1", gm2: "gm2:eth1"} {
			pushes, frags := bigPushes(s.Pkts, link, gm)
			Expect(pushes).NotTo(BeEmpty(), "PUSH to %s on %s", gm, link)
			Expect(frags[0]).To(BeNumerically(">=", 2), "the PUSH to %s crossed as fragments", gm)
			Expect(pushes[0].ISAKMP.Layout).NotTo(BeEmpty(), "reassembled and decoded")
			AddReportEntry("rekey to "+gm.String(), fmt.Sprintf("%d octets in %d fragments; %d TEKs held after it", len(pushes[0].IPPacket()), frags[0], len(teks)))
			acks := 0
			for _, p := range s.Pkts {
				if p.Link == link && p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPushAck) && p.Src == gm {
					acks++
				}
			}
			Expect(acks).To(BeNumerically(">=", 1), "%s acknowledged it", gm)
		}
	})
})

var _ = Describe("a rekey of a 100-entry ACL's TEKs, larger than the MTU, multicast across the routed core (RK-16, FS-23)", Ordered, Label("mtu", "routed"), suitekit.Checks("KS-11", "RK-16", "FS-23"), suitekit.SlowAt(0.1), func() {
	var (
		s       *suitekit.Scenario
		teks    []string
		permits int
		// The GMs' addresses on the routed core, the model's.
		rgm1, rgm2 netip.Addr
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Routed()
		rgm1, rgm2 = m.GroupMembers[0].Address, m.GroupMembers[1].Address
		m.TimerScale = suitekit.TimerScale(0.1)
		m.Groups[0].TEKLifetime = 300
		permits = bigACL(m)
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.KS: {impl.MulticastRekey, impl.Status}, impl.GM: {impl.MulticastRekey, impl.Status}})
		s = suitekit.StartModel(ctx, "mtu-big-rekey-multicast", "routed.clab.yml", m, nil)
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, rgm1, rgm2))
		s.WaitOnWire(ctx, s.Scaled(300*time.Second)+10*time.Second, "a rekey on gm2's link", func(pkts []pcap.Packet) bool {
			p, _ := bigPushes(pkts, "gm2:eth1", scenario.RoutedRekeyGroup)
			return len(p) > 0
		})
		teks = waitTaken(ctx, s, []string{"gm1", "gm2"}, 10*time.Second)
		s.Finish()
	})

	It("carries the rekey's fragments across both routers, each GM reassembles it and holds its TEKs, and neither registers again", func() {
		Expect(len(teks)).To(BeNumerically(">=", 2*permits), "old and new TEKs of %d permit entries", permits)
		_, onKS := bigPushes(s.Pkts, "ks1:eth1", scenario.RoutedRekeyGroup)
		Expect(onKS).NotTo(BeEmpty())
		for gm, link := range map[netip.Addr]string{rgm1: "gm1:eth1", rgm2: "gm2:eth1"} {
			pushes, frags := bigPushes(s.Pkts, link, scenario.RoutedRekeyGroup)
			Expect(pushes).NotTo(BeEmpty(), "the rekey on %s", link)
			Expect(frags[0]).To(Equal(onKS[0]), "every fragment the KS sent reached %s", link)
			Expect(frags[0]).To(BeNumerically(">=", 2))
			AddReportEntry("multicast rekey on "+link, fmt.Sprintf("%d octets in %d fragments; %d TEKs held after it", len(pushes[0].IPPacket()), frags[0], len(teks)))
			pulls := 0
			for _, p := range s.Pkts {
				if p.ISAKMP != nil && !p.ISAKMP.Repeat && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPull) && p.Src == gm && p.ISAKMP.Message == 1 {
					pulls++
				}
			}
			Expect(pulls).To(Equal(1), "%s registered once: it took the rekey", gm)
		}
	})
})
