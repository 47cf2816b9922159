package modes

import (
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Ports of the passive lab.
const (
	psAB       = 7300 // host-a -> host-b: gm1 encrypts, passive gm2 decrypts
	psBA       = 7301 // host-b -> host-a: passive gm2 encrypts, gm1 decrypts
	psMatch    = 7302 // clear, matching the permits, injected from the WAN
	psOther    = 7303 // clear, matching nothing (from ks1's own address), injected
	psOut      = 7304 // a site's host to ks1: outbound, matching nothing
	psWarmUp   = 7305
	psInjected = 20
	psProbes   = 100
)

// The GM-60 truth table as far as the wire shows it, on one lab: gm1
// conformant ("both"), gm2 passive ("inbound-optional", S0 Table 5 as the
// seeds' C-09 settles it: clear accepted, matching traffic encrypted). Each
// inbound class is injected from the WAN (ks1's namespace, a source that
// encrypts nothing) into each GM; each outbound class is sent by the hosts.
var _ = Describe("a passive group member beside a conformant one (GM-60, GM-61, GM-64)", Ordered, Label("modes", "passive"), suitekit.Checks("GM-60", "GM-61", "GM-64", "OP-12"), suitekit.SlowAt(modesScale), func() {
	var (
		s *suitekit.Scenario
		// probes: the hosts' streams; inj: the injections from the WAN
		// and what they cause (host-b answers a probe to a closed port
		// with ICMP, matching traffic gm2 encrypts).
		probes, inj            window
		ab, ba, outA, outB     traffic.Report
		unknown1, unknown2     map[uint32]bool
		st1, st2, after1, aft2 control.GDOI
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.DataPlane, impl.SADirection)
		m := scenario.Default()
		m.GroupMembers[1].Passive = true
		m.TimerScale = suitekit.TimerScale(modesScale)
		s = suitekit.StartModel(ctx, "modes-passive", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		routeSites(ctx, s)
		warmUp(ctx, s, psWarmUp)
		if gmState() {
			st1 = suitekit.GDOI(ctx, s.Lab, "gm1")
			st2 = suitekit.GDOI(ctx, s.Lab, "gm2")
		}
		probes.open()
		ab = stream(ctx, s, "host-a", "host-b", hostA, hostB, psAB, psProbes)
		ba = stream(ctx, s, "host-b", "host-a", hostB, hostA, psBA, psProbes)
		outA = stream(ctx, s, "host-a", "ks1", hostA, ks1, psOut, psProbes)
		outB = stream(ctx, s, "host-b", "ks1", hostB, ks1, psOut, psProbes)
		probes.close()
		inj.open()
		injectClear(ctx, s, hostA, hostB, psMatch, psInjected, "match-to-passive")
		injectClear(ctx, s, hostB, hostA, psMatch, psInjected, "match-to-conformant")
		injectClear(ctx, s, ks1, hostB, psOther, psInjected, "other-to-passive")
		injectClear(ctx, s, ks1, hostA, psOther, psInjected, "other-to-conformant")
		unknown2 = injectUnknownSPI(ctx, s, 2, hostA, hostB)
		unknown1 = injectUnknownSPI(ctx, s, 1, hostB, hostA)
		s.WaitOnWire(ctx, 5*time.Second, "the injected packets at the GMs' WAN sides", func(pkts []pcap.Packet) bool {
			return len(marked(pkts, "gm2:eth1", psOther, "other-to-passive")) == psInjected &&
				len(marked(pkts, "gm1:eth1", psOther, "other-to-conformant")) == psInjected
		})
		time.Sleep(100 * time.Millisecond) // what gm1 and gm2 forward crosses their LAN links
		inj.close()
		if gmState() {
			after1 = suitekit.GDOI(ctx, s.Lab, "gm1")
			aft2 = suitekit.GDOI(ctx, s.Lab, "gm2")
		}
		s.Finish()
	})

	It("has the passive GM encrypt its outbound matching traffic, which the conformant GM accepts", func() {
		Expect(ba.Received).To(Equal(ba.Sent), "%s", ba)
		s.Complete("gm2:eth1")
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, psBA, probes)).To(BeEmpty(), "host-b's probes in clear on the WAN")
		Expect(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, probes)).To(HaveLen(int(ba.Sent)), "one ESP packet per probe from the passive GM")
	})

	It("has the passive GM accept ESP from the conformant GM", func() {
		Expect(ab.Received).To(Equal(ab.Sent), "%s", ab)
		s.Complete("gm1:eth1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, psAB, probes)).To(BeEmpty())
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, probes)).To(HaveLen(int(ab.Sent)))
	})

	It("has the passive GM accept clear matching traffic from a source that does not encrypt", func() {
		s.Complete("gm2:eth1", "gm2:eth2")
		Expect(marked(s.Pkts, "gm2:eth1", psMatch, "match-to-passive")).To(HaveLen(psInjected), "injected at gm2's WAN side")
		Expect(marked(s.Pkts, "gm2:eth2", psMatch, "match-to-passive")).To(HaveLen(psInjected), "forwarded to host-b")
	})

	It("has the conformant GM drop clear matching traffic", func() {
		s.Complete("gm1:eth1", "gm1:eth2")
		Expect(marked(s.Pkts, "gm1:eth1", psMatch, "match-to-conformant")).To(HaveLen(psInjected), "injected at gm1's WAN side")
		Expect(marked(s.Pkts, "gm1:eth2", psMatch, "match-to-conformant")).To(BeEmpty(), "forwarded to host-a")
	})

	It("has both forward clear traffic that matches no policy, inbound and outbound", func() {
		s.Complete("gm1:eth2", "gm2:eth2", "gm1:eth1", "gm2:eth1")
		Expect(marked(s.Pkts, "gm2:eth2", psOther, "other-to-passive")).To(HaveLen(psInjected), "to host-b through the passive GM")
		Expect(marked(s.Pkts, "gm1:eth2", psOther, "other-to-conformant")).To(HaveLen(psInjected), "to host-a through the conformant GM")
		for _, r := range []traffic.Report{outA, outB} {
			Expect(r.Received).To(Equal(r.Sent), "%s", r)
		}
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, ks1, psOut, probes)).To(HaveLen(int(outA.Sent)), "host-a to ks1 in clear through the conformant GM")
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, ks1, psOut, probes)).To(HaveLen(int(outB.Sent)), "host-b to ks1 in clear through the passive GM")
	})

	It("has both drop ESP of an SPI no key server gave out", func() {
		s.Complete("gm1:eth1", "gm2:eth1", "gm1:eth2", "gm2:eth2")
		count := func(link string, spis map[uint32]bool) int {
			n := 0
			for _, p := range anyESP(s.Pkts, link, inj) {
				if spis[p.ESP.SPI] {
					n++
				}
			}
			return n
		}
		Expect(count("gm1:eth1", unknown1)).To(Equal(len(unknown1)), "unknown-SPI packets at gm1's WAN side")
		Expect(count("gm2:eth1", unknown2)).To(Equal(len(unknown2)), "unknown-SPI packets at gm2's WAN side")
		Expect(anyESP(s.Pkts, "gm1:eth2", inj)).To(BeEmpty(), "ESP beyond gm1")
		Expect(anyESP(s.Pkts, "gm2:eth2", inj)).To(BeEmpty(), "ESP beyond gm2")
	})

	It("shows gm2 inbound-optional by passive mode and gm1 both by its key server, with their verdicts counted (GM state)", func() {
		suitekit.Require(impl.GM, impl.Events)
		Expect(direction(st1)).To(Equal("both/ks"), "gm1")
		Expect(direction(st2)).To(Equal("inbound-optional/passive"), "gm2")
		Expect(counter(aft2, "in_clear_optional")-counter(st2, "in_clear_optional")).To(BeNumerically(">=", psInjected), "gm2 accepted the clear matching packets")
		Expect(counter(after1, "in_drop_clear_permit")-counter(st1, "in_drop_clear_permit")).To(BeNumerically(">=", psInjected), "gm1 dropped them")
		Expect(counter(after1, "in_drop_unknown_spi") - counter(st1, "in_drop_unknown_spi")).To(BeNumerically(">=", len(unknown1)))
		Expect(counter(aft2, "in_drop_unknown_spi") - counter(st2, "in_drop_unknown_spi")).To(BeNumerically(">=", len(unknown2)))
		Expect(counter(aft2, "out_encrypted") - counter(st2, "out_encrypted")).To(BeNumerically(">=", ba.Sent))
	})
})
