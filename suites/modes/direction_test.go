package modes

import (
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Ports of the local-direction lab.
const (
	ldAB     = 7400 // gm1 (inbound-only) -> gm2: clear, accepted
	ldBA     = 7401 // gm2 (inbound-optional) -> gm1: ESP, accepted
	ldAB2    = 7402 // after the rekey: ESP
	ldBA2    = 7403
	ldWarmUp = 7404
	ldProbes = 100
)

// The seeds' per-site check of a migration (GM-63, OP-12 step 3): gm1 set
// to inbound-only and gm2 to inbound-optional by the operator; traffic
// from gm2's site is encrypted and accepted, from gm1's clear and
// accepted; the key server's next rekey puts both back to both.
var _ = Describe("a local IPsec SA direction until the next rekey (GM-63)", Ordered, Label("modes", "direction"), suitekit.Checks("GM-63", "FS-82"), suitekit.SlowAt(modesScale), func() {
	var (
		s                  *suitekit.Scenario
		local, rekeyed     window
		rekeyAt            time.Time
		ab, ba, ab2, ba2   traffic.Report
		st1, st2, re1, re2 control.GDOI
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.DataPlane, impl.SADirection)
		suitekit.Require(impl.KS, impl.TriggeredRekey)
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(modesScale)
		s = suitekit.StartModel(ctx, "modes-direction", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		warmUp(ctx, s, ldWarmUp)
		setDirection(ctx, s, "gm1", "inbound-only")
		setDirection(ctx, s, "gm2", "inbound-optional")
		settle(ctx, s, "inbound-only", "local", "gm1")
		settle(ctx, s, "inbound-optional", "local", "gm2")
		if gmState() {
			st1 = suitekit.GDOI(ctx, s.Lab, "gm1")
			st2 = suitekit.GDOI(ctx, s.Lab, "gm2")
		}
		local.open()
		ab = stream(ctx, s, "host-a", "host-b", hostA, hostB, ldAB, ldProbes)
		ba = stream(ctx, s, "host-b", "host-a", hostB, hostA, ldBA, ldProbes)
		local.close()
		rekeyAt = triggerRekey(ctx, s, "both")
		rekeyed.open()
		ab2 = stream(ctx, s, "host-a", "host-b", hostA, hostB, ldAB2, ldProbes)
		ba2 = stream(ctx, s, "host-b", "host-a", hostB, hostA, ldBA2, ldProbes)
		rekeyed.close()
		if gmState() {
			re1 = suitekit.GDOI(ctx, s.Lab, "gm1")
			re2 = suitekit.GDOI(ctx, s.Lab, "gm2")
		}
		s.Finish()
	})

	It("has gm2 (inbound-optional) encrypt toward gm1, which accepts it", func() {
		Expect(ba.Received).To(Equal(ba.Sent), "%s", ba)
		s.Complete("gm2:eth1")
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, ldBA, local)).To(BeEmpty())
		Expect(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, local)).To(HaveLen(int(ba.Sent)))
	})

	It("has gm1 (inbound-only) send in clear, and gm2 accept it", func() {
		Expect(ab.Received).To(Equal(ab.Sent), "%s", ab)
		s.Complete("gm1:eth1")
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, local)).To(BeEmpty(), "ESP from gm1's site")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, ldAB, local)).To(HaveLen(int(ab.Sent)))
	})

	It("reverts both to both at the key server's next rekey: ESP each way", func() {
		Expect(acked(s.Pkts, gm1, rekeyAt) && acked(s.Pkts, gm2, rekeyAt)).To(BeTrue(), "both GMs acknowledge the rekey")
		for _, r := range []traffic.Report{ab2, ba2} {
			Expect(r.Received).To(Equal(r.Sent), "%s", r)
		}
		s.Complete("gm1:eth1", "gm2:eth1")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, ldAB2, rekeyed)).To(BeEmpty(), "clear from gm1's site after the rekey")
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, ldBA2, rekeyed)).To(BeEmpty())
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, rekeyed)).To(HaveLen(int(ab2.Sent)))
		Expect(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, rekeyed)).To(HaveLen(int(ba2.Sent)))
	})

	It("shows the local directions, then both as the key server's (GM state)", func() {
		suitekit.Require(impl.GM, impl.Events)
		Expect(direction(st1)).To(Equal("inbound-only/local"))
		Expect(direction(st2)).To(Equal("inbound-optional/local"))
		Expect(direction(re1)).To(Equal("both/ks"))
		Expect(direction(re2)).To(Equal("both/ks"))
		Expect(counter(re1, "out_clear_inbound_only") - counter(st1, "out_clear_inbound_only")).To(BeNumerically(">=", ab.Sent))
	})

	It("is read the same way by tshark", func() {
		suitekit.RequireKeyLog()
		s.AgreesWithTshark()
	})
})
