package impair

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// GETVPN needs no synchronized clocks: lifetimes travel as durations and
// the time-based anti-replay's pseudotime is the key server's relative
// clock (S2 TBAR, DP-21: "not NTP and not global time"). A lab whose
// nodes are hours apart, and whose GMs' clocks drift, must register,
// rekey and carry traffic as one whose clocks agree.
var _ = Describe("clocks hours apart and drifting (DP-21: no synchronized time needed)", Ordered, Label("impair", "clock"), suitekit.Checks("DP-21"), suitekit.SlowAt(scale), func() {
	var (
		s      *suitekit.Scenario
		probes traffic.Report
	)
	skews := map[string]scenario.ClockSkew{
		"ks1": {Offset: "1h"},
		"gm1": {Offset: "-1h", DriftPPM: 2000},
		"gm2": {Offset: "37m", DriftPPM: -2000},
	}
	BeforeAll(func(ctx SpecContext) {
		m := model()
		for i := range m.KeyServers {
			if c, ok := skews[m.KeyServers[i].Name]; ok {
				m.KeyServers[i].Clock = &c
			}
		}
		for i := range m.GroupMembers {
			if c, ok := skews[m.GroupMembers[i].Name]; ok {
				m.GroupMembers[i].Clock = &c
			}
		}
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{
			impl.KS: {impl.UnicastRekey, impl.Acks, impl.ClockSkew},
			impl.GM: {impl.UnicastRekey, impl.Acks, impl.ClockSkew, impl.DataPlane},
		})
		s = start(ctx, "clock", m, nil)
		st, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
			To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: hostB},
			Port: 7600, Rate: 100, Size: 64,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _, _ = st.Stop() })
		// Two rekeys, each acknowledged by both GMs: the second comes after
		// the first's TEKs have rolled over on every GM's clock.
		s.WaitOnWire(ctx, s.Scaled(2*tekLifetime)+10*time.Second, "two rekeys acknowledged by gm1 and gm2", func(pkts []pcap.Packet) bool {
			return len(onLink(pkts, "gm1:eth1", isakmp.ExchangeGroupkeyPushAck, gm1, ks1)) >= 2 &&
				len(onLink(pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)) >= 2
		})
		probes, err = st.Stop()
		Expect(err).NotTo(HaveOccurred())
		s.Finish()
	})

	It("registers both GMs once and has each take every rekey on its first transmission", func() {
		for _, c := range []struct {
			link string
			gm   netip.Addr
		}{{"gm1:eth1", gm1}, {"gm2:eth1", gm2}} {
			Expect(suitekit.Registrations(s.Pkts, ks1, c.gm)).To(HaveLen(1), "%s registered once", c.gm)
			pushes := onLink(s.Pkts, c.link, isakmp.ExchangeGroupkeyPush, ks1, c.gm)
			acks := onLink(s.Pkts, c.link, isakmp.ExchangeGroupkeyPushAck, c.gm, ks1)
			Expect(len(acks)).To(BeNumerically(">=", 2), "%s acknowledged two rekeys", c.gm)
			Expect(len(pushes)).To(Equal(len(acks)), "%s: every PUSH acknowledged, none retransmitted", c.gm)
		}
	})

	It("carries host-a's traffic to host-b across both rekeys without a loss", func() {
		Expect(probes.Sent).To(BeNumerically(">", 0))
		Expect(probes.Lost).To(BeNumerically("<=", 1), "%+v", probes)
		AddReportEntry("probes across two rekeys", fmt.Sprintf("%d sent, %d received, %d lost; clocks: ks1 %+v, gm1 %+v, gm2 %+v",
			probes.Sent, probes.Received, probes.Lost, skews["ks1"], skews["gm1"], skews["gm2"]))
	})
})

// A GM whose clock runs half again as fast sees its TEK's lifetime end a
// third early: it re-registers (T−R−J…T−R by its own clock, GM-21's
// schedule) before the key server's rekey, which comes some 180 s into
// the TEK's 300 of the lab's time. The staged drift is what the GM acts
// on; a GM that ignored it would wait for the rekey like its peer.
var _ = Describe("a GM clock running 50 % fast", Ordered, Label("impair", "clock"), suitekit.Checks("GM-30", "GM-31"), suitekit.SlowAt(scale), func() {
	var (
		s         *suitekit.Scenario
		firstPush map[string]time.Time
	)
	BeforeAll(func(ctx SpecContext) {
		m := model()
		for i := range m.GroupMembers {
			if m.GroupMembers[i].Name == "gm2" {
				m.GroupMembers[i].Clock = &scenario.ClockSkew{DriftPPM: 500_000}
			}
		}
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{
			impl.KS: {impl.UnicastRekey, impl.Acks},
			impl.GM: {impl.UnicastRekey, impl.Acks, impl.ClockSkew},
		})
		s = start(ctx, "clock-fast", m, nil)
		s.WaitOnWire(ctx, s.Scaled(tekLifetime)+10*time.Second, "the first rekey acknowledged by gm1", func(pkts []pcap.Packet) bool {
			return len(onLink(pkts, "gm1:eth1", isakmp.ExchangeGroupkeyPushAck, gm1, ks1)) >= 1
		})
		s.Finish()
		firstPush = map[string]time.Time{}
		for name, gm := range map[string]netip.Addr{"gm1": gm1, "gm2": gm2} {
			p := onLink(s.Pkts, name+":eth1", isakmp.ExchangeGroupkeyPush, ks1, gm)
			Expect(p).NotTo(BeEmpty(), "a rekey to %s", name)
			firstPush[name] = p[0].Time
		}
	})

	It("has the fast GM register again before the first rekey, and its peer not", func() {
		regs := suitekit.Registrations(s.Pkts, ks1, gm2)
		Expect(len(regs)).To(BeNumerically(">=", 2), "gm2 registered again")
		again := regs[1][0].Time
		Expect(again.Before(firstPush["gm2"])).To(BeTrue(), "before the KS's first rekey")
		since := again.Sub(regs[0][0].Time)
		// By gm2's clock the TEK ends at 300 s: 200 s of the lab's.
		Expect(since).To(BeNumerically("<", s.Scaled(200*time.Second)), "within the TEK's 300 s by gm2's clock")
		Expect(suitekit.Registrations(s.Pkts, ks1, gm1)).To(HaveLen(1), "gm1, on the lab's clock, waits for the rekey")
		AddReportEntry("gm2 at 1.5× registered again", fmt.Sprintf("%.0f s (lab protocol time) after its first registration; the KS's first rekey came at %.0f s",
			protocol(s, since), protocol(s, firstPush["gm2"].Sub(regs[0][0].Time))))
	})
})
