package coop

import (
	"net/netip"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/control"
	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// splitModel is coop-split.clab.yml in the neutral model: coop.clab.yml's
// group (every GM lists ks1, ks2, ks3) with a KEK of 400 s and takeover
// new-tek, so that the sides part in both keys during the split: ks2 makes
// a TEK of its own when it takes over its side, and each side's primary
// rekeys the KEK on its own schedule (the seeds' point is 400 - (200 +
// 2 x 10 + 5 x (1 + 4/50)) = 174.6 s after ks1 made it, well after ks2
// took over). The merge must bring every GM to ks1's KEK with both sides'
// TEKs.
func splitModel() *scenario.Scenario {
	m := coopModel()
	m.Groups[0].KEKLifetime = 400
	m.Groups[0].COOP.Takeover = scenario.TakeoverNewTEK
	return m
}

// sideB are the GMs on core-b, with ks2 and ks3; gm1 is on core-a with
// ks1.
var sideB = []netip.Addr{gm2, gm3, gm4}

var _ = Describe("cooperative key servers split and merged", Ordered, ContinueOnFailure, Label("coop"), suitekit.Checks("CO-50", "CO-51", "FS-03", "FS-04"), suitekit.SlowAt(scale), func() {
	var (
		s *suitekit.Scenario
		m *scenario.Scenario
		t timers
		// Wall-clock marks, comparable with capture timestamps.
		cutAt, healAt, convergedAt time.Time
		ks2Events                  []control.Event
		keysSplit, keysMerged      map[netip.Addr]impl.StatusDoc
		ksSplit                    map[netip.Addr]impl.StatusDoc
		ks1KEK                     string
		polls                      int
	)
	BeforeEach(func() { requireCOOP(m) })
	BeforeAll(func(ctx SpecContext) {
		m = splitModel()
		if coopGap(m) != "" {
			return
		}
		t = coopTimers(m)
		dec := decrypts()
		s = suitekit.StartModelKSFirst(ctx, "coop-split", "coop-split.clab.yml", m, linksUp(ctx), func(s *suitekit.Scenario) {
			awaitElected(ctx, s, t, ks1)
		})
		// Every GM registers with ks1 (the first of its list), and ks1
		// announces the four to ks2 and ks3.
		await(ctx, s, false, 20*time.Second, "ks1 registered every GM", suitekit.RegisteredAll(ks1, gms...))
		await(ctx, s, dec, wall(policyBatch+2*t.refresh)+5*time.Second, "ks1's announcements listing the four GMs", func(pkts []pcap.Packet) bool {
			for _, peer := range []netip.Addr{ks2, ks3} {
				if !slices.ContainsFunc(anns(pkts, ks1, peer), func(p pcap.Packet) bool { return lists(p, gms...) }) {
					return false
				}
			}
			return true
		})

		// The partition: {ks1, gm1} on core-a, the rest on core-b.
		cutAt = time.Now()
		Expect(fault.LinkDown(suitekit.NetNS(s.Lab, "core-a"), "to-b")).To(Succeed())
		if dec {
			await(ctx, s, true, wall(t.failover()+t.refresh)+5*time.Second, "ks2's announcements as primary", func(pkts []pcap.Packet) bool {
				return len(withFlag(between(anns(pkts, ks2, netip.Addr{}), cutAt, time.Time{}), coopwire.FlagPrimary)) > 0
			})
		}
		// Each side's primary rekeys its KEK: ks1 its gm1, ks2 (after its
		// takeover rekey) gm2 to gm4, each acknowledged.
		kek := time.Duration(m.Groups[0].KEKLifetime) * time.Second
		await(ctx, s, false, wall(kek)+10*time.Second, "a rekey of each side acknowledged by its GMs", func(pkts []pcap.Packet) bool {
			if len(between(acks(pkts, gm1, ks1), cutAt, time.Time{})) < 1 {
				return false
			}
			for _, gm := range sideB {
				if len(between(acks(pkts, gm, ks2), cutAt, time.Time{})) < 2 {
					return false
				}
			}
			return true
		})
		keysSplit = statuses(ctx, s, impl.GM, gms...)
		ksSplit = statuses(ctx, s, impl.KS, ks1, ks2)
		if suitekit.Offers(impl.KS, impl.Events) {
			ks2Events = suitekit.Events(ctx, s.Lab, "ks2")
		}
		saveCOOP(ctx, s, "split", kss...)

		// The link comes back: from when both its ends carry frames again
		// (the kernel's link watch tells the bridges up to a second after
		// the link is set up).
		upAt := time.Now()
		Expect(fault.LinkUp(suitekit.NetNS(s.Lab, "core-a"), "to-b")).To(Succeed())
		Eventually(func() error {
			if err := suitekit.LinkOperUp(s.Lab, "core-a", "to-b"); err != nil {
				return err
			}
			return suitekit.LinkOperUp(s.Lab, "core-b", "to-a")
		}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(2 * time.Millisecond).Should(Succeed())
		healAt = time.Now()
		report("link up", "both ends of core-a:to-b -- core-b:to-a carry frames %v after it was set up (wall)", healAt.Sub(upAt).Round(time.Millisecond))
		bound := wall(3*t.refresh + slackOf(3*t.refresh))
		if suitekit.Offers(impl.GM, impl.Status) && suitekit.Offers(impl.KS, impl.Status) {
			// Until every GM shows ks1's KEK (or the bound, and one
			// refresh interval more, has passed).
			deadline := healAt.Add(bound + wall(t.refresh))
			for time.Now().Before(deadline) {
				polls++
				k1 := statuses(ctx, s, impl.KS, ks1)[ks1].KEKSPI
				now := time.Now()
				st := statuses(ctx, s, impl.GM, gms...)
				done := k1 != "" && len(st) == len(gms)
				for _, gm := range gms {
					done = done && st[gm].KEKSPI == k1
				}
				if done {
					convergedAt, ks1KEK = now, k1
					break
				}
				var seen []string
				for _, gm := range gms {
					seen = append(seen, nodeOf[gm]+" "+st[gm].KEKSPI)
				}
				GinkgoWriter.Printf("+%v: ks1 %s, %v\n", now.Sub(healAt).Round(time.Millisecond), k1, seen)
				time.Sleep(20 * time.Millisecond)
			}
		}
		// Past the bound, one refresh interval of ks1 as the only primary.
		time.Sleep(time.Until(healAt.Add(bound + wall(t.refresh+slackOf(t.refresh)))))
		keysMerged = statuses(ctx, s, impl.GM, gms...)
		if ks := statuses(ctx, s, impl.KS, ks1); ks != nil {
			ks1KEK = ks[ks1].KEKSPI
		}
		saveCOOP(ctx, s, "merged", kss...)
		s.Finish()
	})

	It("has ks2 take over its side periodic x (1 + retransmit) after ks1's last announcement reached it, while ks1 stays primary on its own (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		heard := between(received(s.Pkts, ks1, ks2), time.Time{}, healAt)
		Expect(heard).NotTo(BeEmpty())
		tLast := heard[len(heard)-1].Time
		Expect(tLast).To(BeTemporally("<=", cutAt), "nothing of ks1 reaches ks2 across the cut")
		prim := withFlag(between(anns(s.Pkts, ks2, netip.Addr{}), time.Time{}, healAt), coopwire.FlagPrimary)
		Expect(prim).NotTo(BeEmpty(), "ks2 announces itself primary during the split:%s", describe(between(anns(s.Pkts, ks2, netip.Addr{}), cutAt, healAt), cutAt))
		tNew := prim[0].Time
		d := protocol(tNew.Sub(tLast))
		report("split failover", "ks2 primary %v after the last announcement of ks1 it heard (protocol time; expected %v ± %v), %v after the cut",
			d.Round(time.Millisecond), t.failover(), slackOf(t.failover()), protocol(tNew.Sub(cutAt)).Round(time.Millisecond))
		Expect(d).To(BeNumerically("~", t.failover(), slackOf(t.failover())))
		Expect(protocol(tNew.Sub(cutAt))).To(BeNumerically("<=", t.failover()+slackOf(t.failover())))
		for _, p := range between(anns(s.Pkts, ks2, netip.Addr{}), tNew, healAt) {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks2's announcements after its takeover, during the split")
		}
		// ks1 goes on announcing itself primary on its side for as long as
		// it announces anything there.
		mine := between(anns(s.Pkts, ks1, netip.Addr{}), cutAt, healAt)
		Expect(mine).NotTo(BeEmpty(), "ks1 announces on its side of the cut")
		for _, p := range mine {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks1's announcements during the split:%s", describe(mine, cutAt))
		}
		Expect(withFlag(anns(s.Pkts, ks3, netip.Addr{}), coopwire.FlagPrimary)).To(BeEmpty(), "ks3 never announces itself primary")
		// Nothing crosses the cut.
		for _, p := range between(s.Pkts, cutAt.Add(wall(slackOf(t.refresh))), healAt) {
			if p.ISAKMP != nil && p.Link == "ks1:eth1" {
				Expect(p.Src).NotTo(BeElementOf(ks2, ks3, gm2, gm3, gm4), "frame %d from core-b on ks1's link during the split", p.Index)
			}
		}
	})

	It("has ks2 log its move to primary, naming itself (KS events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		tp := named(ks2Events, "COOP_KS_TRANS_TO_PRI")
		Expect(tp).NotTo(BeEmpty())
		last := tp[len(tp)-1]
		Expect(last.Fields).To(HaveKeyWithValue("ks", ks2.String()), "ks2's COOP_KS_TRANS_TO_PRI during the split: %v", tp)
		Expect(last.Time).To(BeTemporally(">", cutAt))
	})

	It("rekeys each side from its own primary during the split, so that the sides' KEKs part: gm1 from ks1, gm2 to gm4 from ks2", func() {
		Expect(between(acks(s.Pkts, gm1, ks1), cutAt, healAt)).NotTo(BeEmpty(), "gm1 acknowledges a rekey of ks1 during the split")
		Expect(between(pushesTo(s.Pkts, ks2, gm1), cutAt, healAt)).To(BeEmpty(), "nothing of ks2 reaches gm1")
		for _, gm := range sideB {
			Expect(len(between(acks(s.Pkts, gm, ks2), cutAt, healAt))).To(BeNumerically(">=", 2), "%s acknowledges ks2's takeover rekey and its KEK rekey", nodeOf[gm])
			Expect(between(pushesTo(s.Pkts, ks1, gm), cutAt, healAt)).To(BeEmpty(), "nothing of ks1 reaches %s", nodeOf[gm])
		}
		suitekit.Require(impl.GM, impl.Status)
		Expect(keysSplit).To(HaveLen(len(gms)))
		for _, gm := range sideB {
			Expect(keysSplit[gm].KEKSPI).To(Equal(keysSplit[gm2].KEKSPI), "%s holds ks2's side's KEK", nodeOf[gm])
		}
		Expect(keysSplit[gm1].KEKSPI).NotTo(Equal(keysSplit[gm2].KEKSPI), "the sides' KEKs part")
		// Takeover new-tek: ks2's side has a TEK gm1 has not.
		Expect(m.Groups[0].COOP.Takeover).To(Equal(scenario.TakeoverNewTEK))
		for _, gm := range sideB {
			Expect(keysSplit[gm].TEKSPIs).To(Equal(keysSplit[gm2].TEKSPIs), "%s holds ks2's side's TEKs", nodeOf[gm])
		}
		Expect(keysSplit[gm2].TEKSPIs).To(ContainElements(keysSplit[gm1].TEKSPIs), "ks2's side keeps the group's TEKs")
		Expect(len(keysSplit[gm2].TEKSPIs)).To(BeNumerically(">", len(keysSplit[gm1].TEKSPIs)), "ks2 made a TEK of its own at its takeover")
		if ksSplit != nil {
			Expect(keysSplit[gm1].KEKSPI).To(Equal(ksSplit[ks1].KEKSPI), "gm1 holds ks1's KEK")
			Expect(keysSplit[gm2].KEKSPI).To(Equal(ksSplit[ks2].KEKSPI), "gm2 holds ks2's KEK")
		}
	})

	It("merges under ks1 (priority 100) once the link is back: within three refresh intervals ks1 alone announces itself primary (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		bound := healAt.Add(wall(3*t.refresh + slackOf(3*t.refresh)))
		after := between(anns(s.Pkts, ks2, netip.Addr{}), healAt, time.Time{})
		prim := withFlag(after, coopwire.FlagPrimary)
		demoted := healAt
		if len(prim) > 0 {
			demoted = prim[len(prim)-1].Time
		}
		report("merge on the wire", "ks2's last announcement as primary %v after the heal (protocol time; bound %v)",
			protocol(demoted.Sub(healAt)).Round(time.Millisecond), 3*t.refresh+slackOf(3*t.refresh))
		Expect(demoted).To(BeTemporally("<=", bound), "ks2 stops announcing itself primary:%s", describe(after, healAt))
		for _, p := range between(after, bound, time.Time{}) {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeFalse(), "ks2 after the merge")
		}
		// ks1 meets ks2 again, as primary, and goes on as the only one.
		mine := between(anns(s.Pkts, ks1, ks2), healAt, time.Time{})
		Expect(mine).NotTo(BeEmpty(), "ks1 announces to ks2 after the heal")
		Expect(between(mine, bound, time.Time{})).NotTo(BeEmpty(), "ks1 announces to ks2 after the bound")
		for _, p := range mine {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks1's announcements after the heal:%s", describe(mine, healAt))
		}
		Expect(withFlag(anns(s.Pkts, ks3, netip.Addr{}), coopwire.FlagPrimary)).To(BeEmpty(), "ks3 never announces itself primary")
	})

	It("brings every GM to ks1's KEK and both sides' TEKs within three refresh intervals of the heal (GM and KS status)", func() {
		suitekit.Require(impl.GM, impl.Status)
		suitekit.Require(impl.KS, impl.Status)
		Expect(convergedAt.IsZero()).To(BeFalse(), "every GM showed ks1's KEK within %v of the heal (%d polls): at the end %v, ks1 %s",
			3*t.refresh+slackOf(3*t.refresh), polls, keysMerged, ks1KEK)
		d := protocol(convergedAt.Sub(healAt))
		report("merge convergence", "every GM shows ks1's KEK %v after the heal (protocol time; %v wall; %d status polls)",
			d.Round(time.Millisecond), convergedAt.Sub(healAt).Round(time.Millisecond), polls)
		Expect(d).To(BeNumerically("<=", 3*t.refresh+slackOf(3*t.refresh)))
		// And they stay there, every one with both sides' TEKs.
		Expect(keysMerged).To(HaveLen(len(gms)))
		Expect(keysSplit).To(HaveLen(len(gms)))
		var both []string
		for _, spi := range append(append([]string{}, keysSplit[gm1].TEKSPIs...), keysSplit[gm2].TEKSPIs...) {
			if !slices.Contains(both, spi) {
				both = append(both, spi)
			}
		}
		for _, gm := range gms {
			Expect(keysMerged[gm].KEKSPI).To(Equal(ks1KEK), "%s at the end", nodeOf[gm])
			Expect(keysMerged[gm].TEKSPIs).To(ConsistOf(both), "%s holds both sides' TEKs", nodeOf[gm])
		}
		Expect(ks1KEK).To(Equal(keysSplit[gm1].KEKSPI), "ks1's KEK is the one it held during the split")
	})

	It("hands ks2's GMs over on the merge: ks2 rekeys them, and them only, under its own KEK, and ks1 rekeys every GM with both sides' TEKs (GM status)", func() {
		suitekit.Require(impl.GM, impl.Status)
		Expect(keysSplit).To(HaveLen(len(gms)))
		for _, gm := range sideB {
			from2 := between(pushesTo(s.Pkts, ks2, gm), healAt, time.Time{})
			Expect(from2).NotTo(BeEmpty(), "ks2 rekeys %s after the heal", nodeOf[gm])
			Expect(kekOf(from2[0])).To(Equal(keysSplit[gm].KEKSPI), "under the KEK %s held during the split", nodeOf[gm])
			Expect(between(acks(s.Pkts, gm, ks2), from2[0].Time, time.Time{})).NotTo(BeEmpty(), "%s acknowledges it", nodeOf[gm])
		}
		// Only its GMs: gm1 never held ks2's KEK, and a PUSH under it is
		// nothing gm1 can read.
		for _, p := range between(pushesTo(s.Pkts, ks2, gm1), healAt, time.Time{}) {
			Expect(kekOf(p)).NotTo(Equal(keysSplit[gm2].KEKSPI), "ks2's handover PUSH (frame %d, seq %s) reaches gm1, which never held ks2's KEK", p.Index, seqText(p))
		}
		for _, gm := range gms {
			from1 := between(pushesTo(s.Pkts, ks1, gm), healAt, time.Time{})
			Expect(from1).NotTo(BeEmpty(), "ks1 rekeys %s after the heal", nodeOf[gm])
			Expect(between(acks(s.Pkts, gm, ks1), healAt, time.Time{})).NotTo(BeEmpty(), "%s acknowledges ks1's rekey", nodeOf[gm])
		}
	})
})
