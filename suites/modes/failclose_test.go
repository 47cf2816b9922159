package modes

import (
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Ports of the fail-close lab's streams: each phase its own, so that the
// clear ones tell themselves apart on the wire.
const (
	fcDeny     = 7100 // gm1's fail-close ACL denies it (and the KS's ACL): clear
	fcProbe    = 7200 // host-a -> host-b while fail-close is armed: dropped
	fcBack     = 7201 // host-b -> host-a while armed: dropped at gm1 inbound
	fcKeyed    = 7202 // host-a -> host-b once registered: ESP
	fcProbe2   = 7203 // after the clear, armed again
	fcKeyed2   = 7204 // registered again
	fcWarmUp   = 7205
	fcProbes   = 100 // probes per stream
	fcDenySent = 50
)

// failCloseModel is the default scenario with gm1 in fail-close: its ACL
// denies SSH (the seeds' recommended management entry) and UDP 7100 both
// ways, so those pass in clear while it is armed; the KS's ACL denies UDP
// 7100 too, so that the flow stays clear once gm1 and gm2 hold the policy.
// gm2 has no fail-close: fail-open before it registers (GM-50).
func failCloseModel() *scenario.Scenario {
	m := scenario.Default()
	g := &m.Groups[0]
	g.ACL = append([]scenario.ACE{{Action: "deny", Protocol: "udp", DestinationPort: fcDeny}}, g.ACL...)
	m.GroupMembers[0].FailClose = &scenario.FailClose{Activate: true, ACL: []scenario.ACE{
		{Action: "deny", Protocol: "tcp", DestinationPort: 22},
		{Action: "deny", Protocol: "udp", DestinationPort: fcDeny},
		{Action: "deny", Protocol: "udp", SourcePort: fcDeny},
	}}
	m.TimerScale = suitekit.TimerScale(modesScale)
	return m
}

var _ = Describe("fail-close on a group member (GM-51, GM-52)", Ordered, Label("modes", "fail-close"), suitekit.Checks("GM-50", "GM-51", "GM-52", "FS-48"), suitekit.SlowAt(modesScale), func() {
	var (
		s *suitekit.Scenario
		// armed: ks1 unreachable from the start; keyed: once registered;
		// rearmed: after the clear on gm1, ks1 unreachable again; keyed2:
		// registered again.
		armed, keyed, rearmed, keyed2    window
		clearAt, unblocked               time.Time
		probe, back, deny                traffic.Report
		probeKeyed, probe2, deny2, keyd2 traffic.Report
		// gm1's control socket at each step, where the GM shows its state.
		stArmed, stKeyed, stRearmed, stKeyed2 control.GDOI
		events                                []control.Event
	)
	// status polls gm1's fail-close until it reads want and returns it.
	status := func(ctx SpecContext, want string) control.GDOI {
		var st control.GDOI
		Eventually(func(g Gomega) {
			var err error
			st, err = suitekit.Control(s.Lab, "gm1").GDOI(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st.DataPlane).NotTo(BeNil())
			g.Expect(st.DataPlane.FailClose).To(Equal(want), "gm1's fail-close")
		}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		return st
	}
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.DataPlane, impl.FailClose, impl.GMClear)
		var block *fault.Impairment
		s = suitekit.StartModel(ctx, "modes-fail-close", "basic.clab.yml", failCloseModel(), func(lab *netns.Lab) {
			block = blockKS(lab)
		})
		// The GMs try to register; ks1 never hears them.
		s.WaitOnWire(ctx, 10*time.Second, "gm1's main mode toward ks1", func(pkts []pcap.Packet) bool {
			for _, p := range pkts {
				if p.Link == "gm1:eth1" && p.ISAKMP != nil && p.Src == gm1 && p.Dst == ks1 {
					return true
				}
			}
			return false
		})
		if gmState() {
			stArmed = status(ctx, "armed")
		}
		armed.open()
		probe = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcProbe, fcProbes)
		back = stream(ctx, s, "host-b", "host-a", hostB, hostA, fcBack, fcProbes)
		deny = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcDeny, fcDenySent)
		armed.close()

		Expect(block.Remove()).To(Succeed())
		unblocked = time.Now()
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2 once reachable", suitekit.RegisteredAll(ks1, gm1, gm2))
		warmUp(ctx, s, fcWarmUp)
		if gmState() {
			stKeyed = status(ctx, "removed")
		}
		keyed.open()
		probeKeyed = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcKeyed, fcProbes)
		keyed.close()

		// The operator clears gm1 while ks1 is unreachable again: gm1
		// withdraws its keys and cannot register.
		block = blockKS(s.Lab)
		clearAt = time.Now()
		suitekit.Run(ctx, s.Lab, "gm1", suitekit.Impl(impl.GM).Caps.GMClear.Command)
		if gmState() {
			stRearmed = status(ctx, "armed")
		} else {
			time.Sleep(500 * time.Millisecond)
		}
		rearmed.open()
		probe2 = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcProbe2, fcProbes)
		deny2 = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcDeny, fcDenySent)
		rearmed.close()
		Expect(block.Remove()).To(Succeed())
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 again after the clear", func(pkts []pcap.Packet) bool {
			for _, r := range suitekit.Registrations(pkts, ks1, gm1) {
				if r[0].Time.After(clearAt) {
					return true
				}
			}
			return false
		})
		warmUp(ctx, s, fcWarmUp)
		if gmState() {
			stKeyed2 = status(ctx, "removed")
		}
		keyed2.open()
		keyd2 = stream(ctx, s, "host-a", "host-b", hostA, hostB, fcKeyed2, fcProbes)
		keyed2.close()
		if gmState() {
			events = suitekit.Events(ctx, s.Lab, "gm1")
		}
		AddReportEntry("fail-close", "armed "+armed.until.Sub(armed.from).Round(time.Millisecond).String()+
			", registered "+time.Since(unblocked).Round(time.Millisecond).String()+" after ks1 became reachable (and the rest of the lab)")
		s.Finish()
	})

	It("drops host-a's traffic before the first registration: none of it on the WAN, clear or ESP", func() {
		Expect(probe.Sent).To(BeEquivalentTo(fcProbes))
		Expect(probe.Received).To(BeZero(), "probes delivered to host-b while fail-close is armed: %s", probe)
		s.Complete("gm1:eth2", "gm1:eth1")
		Expect(clearUDP(s.Pkts, "gm1:eth2", hostA, hostB, fcProbe, armed)).To(HaveLen(int(probe.Sent)), "host-a's probes reach gm1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcProbe, armed)).To(BeEmpty(), "host-a's probes in clear on the WAN")
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, armed)).To(BeEmpty(), "ESP from host-a on the WAN (gm1 holds no key)")
	})

	It("drops forwarded traffic inbound too: host-b's probes reach gm1 in clear and go no further", func() {
		Expect(back.Received).To(BeZero(), "probes delivered to host-a while fail-close is armed: %s", back)
		s.Complete("gm1:eth1", "gm1:eth2")
		// gm2 has no fail-close: fail-open before it registers (GM-50).
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostB, hostA, fcBack, armed)).To(HaveLen(int(back.Sent)), "host-b's probes reach gm1's WAN side in clear (gm2 fail-open)")
		Expect(clearUDP(s.Pkts, "gm1:eth2", hostB, hostA, fcBack, armed)).To(BeEmpty(), "host-b's probes beyond gm1")
	})

	It("passes what the fail-close ACL denies, in clear", func() {
		Expect(deny.Received).To(Equal(deny.Sent), "the denied flow while armed: %s", deny)
		s.Complete("gm1:eth1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcDeny, armed)).To(HaveLen(int(deny.Sent)), "the denied flow on the WAN in clear")
	})

	It("sends its own GDOI all along (UDP 848 from its address), whatever the ACL says", func() {
		var own []pcap.Packet
		for _, p := range s.Pkts {
			if p.Link == "gm1:eth1" && p.ISAKMP != nil && p.Src == gm1 && p.Dst == ks1 && p.Time.Before(unblocked) {
				Expect(p.SrcPort).To(BeEquivalentTo(848))
				Expect(p.ISAKMP.Type).To(Equal(uint8(isakmp.ExchangeMainMode)), "frame %d", p.Index)
				own = append(own, p)
			}
		}
		Expect(own).NotTo(BeEmpty(), "gm1's main mode on the WAN while ks1 was unreachable")
		AddReportEntry("gm1's GDOI while armed", len(own))
	})

	It("removes fail-close once registered: the probes cross the WAN as ESP", func() {
		Expect(probeKeyed.Received).To(Equal(probeKeyed.Sent), "%s", probeKeyed)
		s.Complete("gm1:eth1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcKeyed, keyed)).To(BeEmpty(), "clear probes on the WAN")
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, keyed)).To(HaveLen(int(probeKeyed.Sent)), "one ESP packet per probe")
	})

	It("arms it again on a clear of the GM: drops until registered again, denied flows in clear, then ESP", func() {
		Expect(probe2.Received).To(BeZero(), "probes delivered after the clear, ks1 unreachable: %s", probe2)
		s.Complete("gm1:eth1", "gm1:eth2")
		Expect(clearUDP(s.Pkts, "gm1:eth2", hostA, hostB, fcProbe2, rearmed)).To(HaveLen(int(probe2.Sent)), "host-a's probes reach gm1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcProbe2, rearmed)).To(BeEmpty(), "clear probes on the WAN after the clear")
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, rearmed)).To(BeEmpty(), "ESP from host-a after the clear (its keys withdrawn)")
		Expect(deny2.Received).To(Equal(deny2.Sent), "the denied flow after the clear: %s", deny2)
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcDeny, rearmed)).To(HaveLen(int(deny2.Sent)))
		Expect(keyd2.Received).To(Equal(keyd2.Sent), "registered again: %s", keyd2)
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, keyed2)).To(HaveLen(int(keyd2.Sent)))
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, fcKeyed2, keyed2)).To(BeEmpty())
	})

	It("shows fail-close armed, removed, armed after the clear and removed again, and counts its verdicts (GM state)", func() {
		suitekit.Require(impl.GM, impl.Events)
		for _, c := range []struct {
			st   control.GDOI
			want string
		}{{stArmed, "armed"}, {stKeyed, "removed"}, {stRearmed, "armed"}, {stKeyed2, "removed"}} {
			Expect(c.st.DataPlane.FailClose).To(Equal(c.want))
		}
		Expect(stArmed.DataPlane.FailCloseACL).To(HaveLen(3), "the fail-close ACL as configured: %v", stArmed.DataPlane.FailCloseACL)
		c := stKeyed.DataPlane.Counters
		Expect(c["out_drop_fail_close"]).To(BeNumerically(">=", probe.Sent), "outbound drops")
		Expect(c["in_drop_fail_close"]).To(BeNumerically(">=", back.Sent), "inbound drops")
		Expect(c["out_clear_fail_close"]).To(BeNumerically(">=", deny.Sent), "denied flow passed")
		Expect(counter(stKeyed2, "out_drop_fail_close") - counter(stKeyed, "out_drop_fail_close")).To(BeNumerically(">=", probe2.Sent))
		Expect(suitekit.EventNames(events)).To(ContainElement("GM_CLEAR_REGISTER"))
	})
})
