package coop

import (
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/control"
	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// An election among equals: the three key servers of coop.clab.yml with
// no priority set (each takes its implementation's default, the same on
// all three), so that the highest address wins (CO-11).
var _ = Describe("cooperative key servers of equal priority", Ordered, ContinueOnFailure, Label("coop"), suitekit.Checks("CO-11"), suitekit.SlowAt(scale), func() {
	var (
		s        *suitekit.Scenario
		m        *scenario.Scenario
		t        timers
		ksEvents = map[netip.Addr][]control.Event{}
	)
	BeforeEach(func() { requireCOOP(m) })
	BeforeAll(func(ctx SpecContext) {
		m = coopModel()
		for i := range m.KeyServers {
			m.KeyServers[i].Priority = 0
		}
		if coopGap(m) != "" {
			return
		}
		t = coopTimers(m)
		s = suitekit.StartModelKSFirst(ctx, "coop-equal-priority", "coop.clab.yml", m, linksUp(ctx), func(s *suitekit.Scenario) {
			awaitElected(ctx, s, t, ks3)
		})
		// Two refresh intervals of the elected primary, in which no other
		// key server may claim the role.
		time.Sleep(wall(2*t.refresh + slackOf(t.refresh)))
		if suitekit.Offers(impl.KS, impl.Events) {
			for _, ks := range kss {
				ksEvents[ks] = suitekit.Events(ctx, s.Lab, nodeOf[ks])
			}
		}
		saveCOOP(ctx, s, "end", kss...)
		s.Finish()
	})

	It("elects ks3, the highest address, among equal priorities: ks3 alone announces itself primary (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		all := anns(s.Pkts, ks1, netip.Addr{})
		all = append(all, anns(s.Pkts, ks2, netip.Addr{})...)
		all = append(all, anns(s.Pkts, ks3, netip.Addr{})...)
		Expect(all).NotTo(BeEmpty(), "announcements on the wire")
		t0 := all[0].Time
		// The tie is real: every key server announces the same priority.
		prio := annOf(all[0]).Priority
		for _, p := range all {
			Expect(annOf(p).Priority).To(Equal(prio), "every key server announces the same priority:%s", describe(all, t0))
		}
		for _, peer := range []netip.Addr{ks1, ks2} {
			Expect(withFlag(anns(s.Pkts, ks3, peer), coopwire.FlagPrimary)).NotTo(BeEmpty(), "ks3 announces itself primary to %s:%s", nodeOf[peer], describe(all, t0))
			Expect(withFlag(anns(s.Pkts, peer, netip.Addr{}), coopwire.FlagPrimary)).To(BeEmpty(), "%s never announces itself primary:%s", nodeOf[peer], describe(all, t0))
		}
		// Once primary, ks3 stays so: every later announcement says it.
		first := withFlag(anns(s.Pkts, ks3, netip.Addr{}), coopwire.FlagPrimary)[0]
		for _, p := range between(anns(s.Pkts, ks3, netip.Addr{}), first.Time, time.Time{}) {
			Expect(has(p, coopwire.FlagPrimary)).To(BeTrue(), "ks3's announcements after its first as primary:%s", describe(all, t0))
		}
	})

	It("has every key server log the election and ks3's move to primary, with no previous primary (KS events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		for _, ks := range kss {
			evs := ksEvents[ks]
			el := named(evs, "COOP_KS_ELECTION")
			Expect(el).NotTo(BeEmpty(), "%s logs COOP_KS_ELECTION: %v", nodeOf[ks], suitekit.EventNames(evs))
			Expect(el[0].Fields["previous"]).To(Equal("NONE"), "%s's first election", nodeOf[ks])
			tp := named(evs, "COOP_KS_TRANS_TO_PRI")
			Expect(tp).To(HaveLen(1), "%s logs one COOP_KS_TRANS_TO_PRI", nodeOf[ks])
			Expect(tp[0].Fields).To(HaveKeyWithValue("ks", ks3.String()), "%s names ks3", nodeOf[ks])
			Expect(tp[0].Fields).To(HaveKeyWithValue("previous", "NONE"), "%s: no primary before", nodeOf[ks])
			Expect(tp[0].Seq).To(BeNumerically(">", el[0].Seq), "%s: after its election started", nodeOf[ks])
		}
	})
})
