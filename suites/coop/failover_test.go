package coop

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/control"
	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// failoverModel is coop.clab.yml in the neutral model with gm3 preferring
// ks2 and gm4 ks3 (so that every key server registers GMs), TEKs of
// 600 s and the seeds' rekey retransmissions (two, 60 s apart): ks1 sends
// its first TEK rekey 600 - (MAX(60, 90) + 2 x 60 + 5 x 4/50) = 389.6 s
// after it made the keys, and the old TEK lives 210.4 s more, over the
// failover (90 s) and ks1's return (three refresh intervals).
func failoverModel() *scenario.Scenario {
	m := coopModel()
	g := &m.Groups[0]
	g.TEKLifetime = 600
	g.Rekey.Retransmit = scenario.Retransmit{Interval: 60, Count: 2}
	for i, gm := range m.GroupMembers {
		switch gm.Name {
		case "gm3":
			m.GroupMembers[i].KSList = []string{"ks2", "ks1", "ks3"}
		case "gm4":
			m.GroupMembers[i].KSList = []string{"ks3", "ks1", "ks2"}
		}
	}
	return m
}

// firstKS is the key server each GM lists first in failoverModel.
var firstKS = map[netip.Addr]netip.Addr{gm1: ks1, gm2: ks1, gm3: ks2, gm4: ks3}

var _ = Describe("cooperative key servers: election, announcements, sync, failover and rejoin", Ordered, ContinueOnFailure, Label("coop"), suitekit.Checks("CO-04", "CO-11", "CO-13", "CO-14", "CO-16", "CO-20", "CO-21", "CO-40", "CO-41", "FS-01", "FS-02"), suitekit.SlowAt(scale), func() {
	var (
		s *suitekit.Scenario
		m *scenario.Scenario
		t timers
		// Wall-clock marks of the scenario, comparable with capture
		// timestamps.
		cadenceFrom, cadenceTo  time.Time
		killAt, restartAt, upAt time.Time
		// watchedTo is when the lab stopped being watched after ks1 came
		// back (the capture's last frame may be earlier: a quiet wire).
		watchedTo              time.Time
		syncedAt, gm1RestartAt time.Time
		streamFrom, streamTo   time.Time
		streamed               bool
		probes                 traffic.Report
		bootEvents             = map[netip.Addr][]control.Event{}
		ks2Events              []control.Event
		keysBoot, keysBefore   map[netip.Addr]impl.StatusDoc
		keysAfter, keysRejoin  map[netip.Addr]impl.StatusDoc
	)
	BeforeEach(func() { requireCOOP(m) })
	BeforeAll(func(ctx SpecContext) {
		m = failoverModel()
		if coopGap(m) != "" {
			return
		}
		t = coopTimers(m)
		dec := decrypts()
		// The GMs start once ks1 is elected and has given ks2 and ks3 the
		// keys, so that each registers with the first KS of its list.
		s = suitekit.StartModelKSFirst(ctx, "coop-failover", "coop.clab.yml", m, linksUp(ctx), func(s *suitekit.Scenario) {
			awaitElected(ctx, s, t, ks1)
		})
		await(ctx, s, false, 20*time.Second, "every GM registered with the first KS of its list", func(pkts []pcap.Packet) bool {
			for gm, ks := range firstKS {
				if _, ok := registeredAt(pkts, ks, gm, time.Time{}); !ok {
					return false
				}
			}
			return true
		})
		// Member sync: ks1 announces the four GMs, two its own and two it
		// learned of from ks2 and ks3.
		await(ctx, s, dec, wall(policyBatch+2*t.refresh)+5*time.Second, "ks1's announcements listing the four GMs", func(pkts []pcap.Packet) bool {
			for _, peer := range []netip.Addr{ks2, ks3} {
				if !slices.ContainsFunc(anns(pkts, ks1, peer), func(p pcap.Packet) bool { return lists(p, gms...) }) {
					return false
				}
			}
			return true
		})
		keysBoot = statuses(ctx, s, impl.GM, gms...)
		// Steady state: four and a half refresh intervals with nothing
		// to announce but the primary's refreshes, from one policy batch
		// after the last member news.
		time.Sleep(wall(policyBatch + slackOf(policyBatch)))
		cadenceFrom = time.Now()
		time.Sleep(wall(4*t.refresh + t.refresh/2))
		cadenceTo = time.Now()
		if suitekit.Offers(impl.KS, impl.Events) {
			for _, ks := range kss {
				bootEvents[ks] = suitekit.Events(ctx, s.Lab, nodeOf[ks])
			}
		}
		saveCOOP(ctx, s, "steady", kss...)

		// ks1's first TEK rekey, acknowledged by every GM: the sequence
		// numbers the old primary used.
		await(ctx, s, false, wall(time.Duration(m.Groups[0].TEKLifetime)*time.Second)+10*time.Second, "ks1's first rekey acknowledged by every GM", func(pkts []pcap.Packet) bool {
			for _, gm := range gms {
				if len(acks(pkts, gm, ks1)) == 0 {
					return false
				}
			}
			return true
		})
		keysBefore = statuses(ctx, s, impl.GM, gms...)

		// A probe stream host-a -> host-b across the failover.
		var st *traffic.Stream
		if suitekit.Offers(impl.GM, impl.DataPlane) {
			var err error
			st, err = traffic.StartStream(ctx, traffic.StreamConfig{
				From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
				To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: hostB},
				Port: 7000, Rate: 100, Size: 64,
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _, _ = st.Stop() })
			streamFrom = time.Now()
			time.Sleep(200 * time.Millisecond)
		}

		// The primary dies without a word.
		killAt = time.Now()
		Expect(fault.Kill(s.Lab, "ks1")).To(Succeed())
		if dec {
			await(ctx, s, true, wall(t.failover()+t.refresh)+5*time.Second, "ks2's announcements as primary", func(pkts []pcap.Packet) bool {
				return len(withFlag(between(anns(pkts, ks2, netip.Addr{}), killAt, time.Time{}), coopwire.FlagPrimary)) > 0
			})
		}
		await(ctx, s, false, wall(t.failover()+t.refresh)+5*time.Second, "ks2's takeover rekey acknowledged by every GM", func(pkts []pcap.Packet) bool {
			for _, gm := range gms {
				if len(acks(pkts, gm, ks2)) == 0 {
					return false
				}
			}
			return true
		})
		if st != nil {
			time.Sleep(200 * time.Millisecond)
			var err error
			probes, err = st.Stop()
			Expect(err).NotTo(HaveOccurred())
			streamTo, streamed = time.Now(), true
		}
		keysAfter = statuses(ctx, s, impl.GM, gms...)
		saveCOOP(ctx, s, "takeover", ks2, ks3)

		// ks1 comes back with the same configuration.
		restartAt = time.Now()
		Expect(fault.Restart(s.Lab, "ks1")).To(Succeed())
		suitekit.WaitReady(ctx, s.Lab, "ks1", impl.KS, 10*time.Second)
		upAt = time.Now()
		// It holds the group's keys once ks2 has announced them to it.
		if dec {
			await(ctx, s, true, wall(2*t.refresh)+5*time.Second, "ks2's announcement with its keys to the restarted ks1", func(pkts []pcap.Packet) bool {
				got := withFlag(between(received(pkts, ks2, ks1), restartAt, time.Time{}), coopwire.FlagPolicy)
				if len(got) > 0 {
					syncedAt = got[0].Time
				}
				return len(got) > 0
			})
		} else {
			time.Sleep(wall(t.refresh))
		}
		// gm1, which lists ks1 first, registers again.
		gm1RestartAt = time.Now()
		Expect(fault.Restart(s.Lab, "gm1")).To(Succeed())
		var gm1Registered time.Time
		await(ctx, s, false, 20*time.Second, "gm1 registered again", func(pkts []pcap.Packet) bool {
			for _, ks := range kss {
				if at, ok := registeredAt(pkts, ks, gm1, gm1RestartAt); ok {
					gm1Registered = at
					return true
				}
			}
			return false
		})
		// Three refresh intervals of ks1 up (with slack), and ks1's policy
		// batch for gm1.
		end := upAt.Add(wall(3*t.refresh + slackOf(t.refresh)))
		if !gm1Registered.IsZero() {
			end = later(end, gm1Registered.Add(wall(policyBatch+2*slackOf(policyBatch))))
		}
		time.Sleep(time.Until(end))
		watchedTo = time.Now()
		keysRejoin = statuses(ctx, s, impl.GM, gms...)
		if suitekit.Offers(impl.KS, impl.Events) {
			ks2Events = suitekit.Events(ctx, s.Lab, "ks2")
		}
		saveCOOP(ctx, s, "rejoin", kss...)
		s.Finish()
	})

	// What every spec below reads: each KS's announcements, before ks1 died
	// and in all.
	allANNs := func() []pcap.Packet {
		var out []pcap.Packet
		for _, ks := range kss {
			out = append(out, anns(s.Pkts, ks, netip.Addr{})...)
		}
		slices.SortStableFunc(out, func(a, b pcap.Packet) int { return a.Time.Compare(b.Time) })
		return out
	}

	It("elects ks1 (priority 100) one refresh interval after it starts, asking its peers at 0 and refresh/2; from then on ks1 alone announces itself primary (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		all := allANNs()
		Expect(all).NotTo(BeEmpty())
		t0 := all[0].Time
		// A KS's start is its first main mode message 1 to a peer: it asks
		// its peers as it starts, and an announcement waits for the
		// phase-1 SA with its peer (under load a main mode takes a few
		// protocol seconds at this scale), so the election's rounds are
		// timed from the start, not from the first announcement.
		started := map[netip.Addr]time.Time{}
		for _, ks := range kss {
			for _, peer := range kss {
				for _, p := range s.Messages(isakmp.ExchangeMainMode, ks, peer) {
					if p.Src == ks && p.ISAKMP.Message == 1 {
						if started[ks].IsZero() || p.Time.Before(started[ks]) {
							started[ks] = p.Time
						}
						break
					}
				}
			}
			Expect(started[ks]).NotTo(BeZero(), "%s starts a main mode with a peer", nodeOf[ks])
		}
		for _, ks := range kss {
			for _, peer := range kss {
				if peer == ks {
					continue
				}
				rr := withFlag(between(anns(s.Pkts, ks, peer), time.Time{}, killAt), coopwire.FlagReplyRequest)
				Expect(len(rr)).To(BeNumerically(">=", 2), "%s asks %s twice in the start-up election:%s", nodeOf[ks], nodeOf[peer], describe(all, t0))
				Expect(protocol(rr[1].Time.Sub(started[ks]))).To(BeNumerically("~", t.refresh/2, slackOf(t.refresh/2)),
					"%s's second reply-request to %s half a refresh interval after it started:%s", nodeOf[ks], nodeOf[peer], describe(all, t0))
			}
		}
		mine := between(anns(s.Pkts, ks1, netip.Addr{}), time.Time{}, killAt)
		prim := withFlag(mine, coopwire.FlagPrimary)
		Expect(prim).NotTo(BeEmpty(), "ks1 announces itself primary:%s", describe(all, t0))
		elected := prim[0].Time
		Expect(protocol(elected.Sub(started[ks1]))).To(BeNumerically("~", t.refresh, slackOf(t.refresh)),
			"ks1 decides one refresh interval after it started:%s", describe(all, t0))
		for _, peer := range []netip.Addr{ks2, ks3} {
			first := withFlag(anns(s.Pkts, ks1, peer), coopwire.FlagPrimary)
			Expect(first).NotTo(BeEmpty(), "ks1 announces itself primary to %s", nodeOf[peer])
			Expect(has(first[0], coopwire.FlagPolicy)).To(BeTrue(), "ks1's first announcement as primary to %s carries its keys", nodeOf[peer])
		}
		// Nobody claims the role before ks1; ks1 keeps it until it dies;
		// ks2 never claims it while ks1 lives, ks3 never at all.
		for _, p := range between(all, time.Time{}, elected) {
			Expect(has(p, coopwire.FlagPrimary)).To(BeFalse(), "no PRIMARY before the election is over:%s", describe(all, t0))
		}
		for _, p := range between(mine, elected, time.Time{}) {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks1's announcements after it was elected:%s", describe(mine, t0))
		}
		Expect(withFlag(between(anns(s.Pkts, ks2, netip.Addr{}), time.Time{}, killAt), coopwire.FlagPrimary)).To(BeEmpty(), "ks2 while ks1 lives:%s", describe(all, t0))
		Expect(withFlag(anns(s.Pkts, ks3, netip.Addr{}), coopwire.FlagPrimary)).To(BeEmpty(), "ks3:%s", describe(all, t0))
	})

	It("has every key server log the election and ks1's move to primary, with no previous primary (KS events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		for _, ks := range kss {
			evs := bootEvents[ks]
			el := named(evs, "COOP_KS_ELECTION")
			Expect(el).NotTo(BeEmpty(), "%s logs COOP_KS_ELECTION: %v", nodeOf[ks], suitekit.EventNames(evs))
			Expect(el[0].Fields).To(HaveKeyWithValue("previous", "NONE"), "%s's start-up election", nodeOf[ks])
			tp := named(evs, "COOP_KS_TRANS_TO_PRI")
			Expect(tp).To(HaveLen(1), "%s logs one COOP_KS_TRANS_TO_PRI before the failover", nodeOf[ks])
			Expect(tp[0].Fields).To(HaveKeyWithValue("ks", ks1.String()), "%s names ks1", nodeOf[ks])
			Expect(tp[0].Fields).To(HaveKeyWithValue("previous", "NONE"), "%s: no primary before", nodeOf[ks])
			Expect(tp[0].Seq).To(BeNumerically(">", el[0].Seq), "%s: after its election started", nodeOf[ks])
		}
	})

	It("announces from the primary to each peer every refresh interval, and nothing from the secondaries in steady state (CO-05)", func() {
		window := protocol(cadenceTo.Sub(cadenceFrom))
		Expect(window).To(BeNumerically(">=", 4*t.refresh))
		for _, peer := range []netip.Addr{ks2, ks3} {
			got := between(anns(s.Pkts, ks1, peer), cadenceFrom, cadenceTo)
			var iv []time.Duration
			for i := 1; i < len(got); i++ {
				iv = append(iv, protocol(got[i].Time.Sub(got[i-1].Time)))
			}
			report("ks1 -> "+nodeOf[peer]+" refresh intervals", "%v over %v (protocol time; refresh %v ± %v)", rounded(iv), window.Round(time.Millisecond), t.refresh, slackOf(t.refresh))
			Expect(len(iv)).To(BeNumerically(">=", 3), "at least three intervals measured to %s", nodeOf[peer])
			for i, d := range iv {
				Expect(d).To(BeNumerically("~", t.refresh, slackOf(t.refresh)), "interval %d of ks1's announcements to %s: %v", i+1, nodeOf[peer], rounded(iv))
			}
		}
		for _, ks := range []netip.Addr{ks2, ks3} {
			got := between(anns(s.Pkts, ks, netip.Addr{}), cadenceFrom, cadenceTo)
			Expect(got).To(BeEmpty(), "%s (a secondary) announces nothing in steady state:%s", nodeOf[ks], describe(got, cadenceFrom))
		}
	})

	It("has each GM register with the first KS of its list: gm1 and gm2 with ks1, gm3 with ks2, gm4 with ks3, every PULL to that KS", func() {
		for _, gm := range gms {
			ks := firstKS[gm]
			_, ok := registeredAt(s.Pkts, ks, gm, time.Time{})
			Expect(ok).To(BeTrue(), "%s registered with %s", nodeOf[gm], nodeOf[ks])
			to := pullKSs(between(s.Pkts, time.Time{}, killAt), gm, time.Time{})
			Expect(to).To(Equal([]netip.Addr{ks}), "%s's GROUPKEY-PULL messages went to %s alone", nodeOf[gm], nodeOf[ks])
		}
	})

	It("gives every GM the same keys, whichever KS registered it (GM status)", func() {
		suitekit.Require(impl.GM, impl.Status)
		Expect(keysBoot).To(HaveLen(len(gms)), "every GM's status")
		want := keysOf(keysBoot[gm1])
		Expect(want.KEK).NotTo(BeEmpty())
		Expect(want.TEKs).NotTo(BeEmpty())
		for _, gm := range gms {
			st := keysBoot[gm]
			Expect(st.Registered).To(BeTrue(), "%s registered", nodeOf[gm])
			Expect(st.KS).To(Equal(firstKS[gm].String()), "%s's key server", nodeOf[gm])
			Expect(keysOf(st)).To(Equal(want), "%s holds gm1's keys", nodeOf[gm])
		}
	})

	It("announces a GM a secondary registered one policy batch (5 s) later: ks2's announcement to ks1 naming gm3, ks3's naming gm4; ks1 then lists all four (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		for gm, ks := range map[netip.Addr]netip.Addr{gm3: ks2, gm4: ks3} {
			reg, ok := registeredAt(s.Pkts, ks, gm, time.Time{})
			Expect(ok).To(BeTrue(), "%s registered %s", nodeOf[ks], nodeOf[gm])
			after := between(anns(s.Pkts, ks, ks1), reg, killAt)
			Expect(after).NotTo(BeEmpty(), "%s announces to ks1 after registering %s", nodeOf[ks], nodeOf[gm])
			first := after[0]
			Expect(lists(first, gm)).To(BeTrue(), "%s's first announcement to ks1 after registering %s names it:%s", nodeOf[ks], nodeOf[gm], describe(after[:1], reg))
			d := protocol(first.Time.Sub(reg))
			report(nodeOf[ks]+" announces "+nodeOf[gm], "%v after its PULL 4 (protocol time; batch %v ± %v)", d.Round(time.Millisecond), policyBatch, slackOf(policyBatch))
			Expect(d).To(BeNumerically("~", policyBatch, slackOf(policyBatch)), "%s's announcement of %s, batched", nodeOf[ks], nodeOf[gm])
		}
		for _, peer := range []netip.Addr{ks2, ks3} {
			got := between(anns(s.Pkts, ks1, peer), cadenceFrom, cadenceTo)
			Expect(got).NotTo(BeEmpty())
			for _, p := range got {
				Expect(membersOf(p)).To(ConsistOf(gm1, gm2, gm3, gm4), "ks1's steady announcements to %s list the four GMs", nodeOf[peer])
			}
		}
	})

	It("elects ks2 periodic x (1 + retransmit) after the dead primary's last announcement; ks3 never claims the role (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		last := between(anns(s.Pkts, ks1, netip.Addr{}), time.Time{}, restartAt)
		Expect(last).NotTo(BeEmpty())
		tLast := last[len(last)-1].Time
		Expect(tLast).To(BeTemporally("<=", killAt), "ks1's last announcement before it was killed")
		prim := withFlag(anns(s.Pkts, ks2, netip.Addr{}), coopwire.FlagPrimary)
		Expect(prim).NotTo(BeEmpty(), "ks2 announces itself primary:%s", describe(between(allANNs(), killAt.Add(-wall(t.refresh)), restartAt), killAt))
		tNew := prim[0].Time
		d := protocol(tNew.Sub(tLast))
		report("failover", "ks2 primary %v after ks1's last announcement (protocol time; %v wall; expected %v ± %v), %v after the kill",
			d.Round(time.Millisecond), tNew.Sub(tLast).Round(time.Millisecond), t.failover(), slackOf(t.failover()), protocol(tNew.Sub(killAt)).Round(time.Millisecond))
		Expect(d).To(BeNumerically("~", t.failover(), slackOf(t.failover())))
		// From then on ks2 announces itself primary to ks3 (ks1 is dead).
		for _, p := range between(anns(s.Pkts, ks2, ks3), tNew, time.Time{}) {
			Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks2's announcements to ks3 after its takeover")
		}
		Expect(withFlag(anns(s.Pkts, ks3, netip.Addr{}), coopwire.FlagPrimary)).To(BeEmpty(), "ks3 never announces itself primary")
	})

	It("rekeys every GM at once on takeover, under the same KEK, with a sequence number above every one ks1 used or reserved (key log)", func() {
		suitekit.RequireKeyLog()
		suitekit.Require(impl.KS, impl.KeyLog)
		prim := withFlag(anns(s.Pkts, ks2, netip.Addr{}), coopwire.FlagPrimary)
		Expect(prim).NotTo(BeEmpty(), "ks2 announces itself primary")
		tNew := prim[0].Time
		// The highest sequence number the old primary used: its PUSHes,
		// and what its announcements reserved.
		var oldMax uint32
		var oldKEK string
		for _, gm := range gms {
			for _, p := range pushesTo(s.Pkts, ks1, gm) {
				oldMax = max(oldMax, seqOf(p))
				oldKEK = kekOf(p)
			}
		}
		Expect(oldKEK).NotTo(BeEmpty(), "ks1 rekeyed before it died")
		for _, p := range between(anns(s.Pkts, ks1, netip.Addr{}), time.Time{}, killAt) {
			oldMax = max(oldMax, annOf(p).Seq)
		}
		for _, gm := range gms {
			got := between(pushesTo(s.Pkts, ks2, gm), killAt, time.Time{})
			Expect(got).NotTo(BeEmpty(), "ks2's rekey reaches %s", nodeOf[gm])
			first := got[0]
			Expect(protocol(first.Time.Sub(tNew)).Abs()).To(BeNumerically("<=", slackOf(t.refresh)), "ks2 rekeys %s at its takeover", nodeOf[gm])
			Expect(seqOf(first)).To(BeNumerically(">", oldMax), "ks2's first PUSH to %s", nodeOf[gm])
			Expect(kekOf(first)).To(Equal(oldKEK), "ks2's rekey to %s travels under the group's KEK", nodeOf[gm])
			a := between(acks(s.Pkts, gm, ks2), first.Time, time.Time{})
			Expect(a).NotTo(BeEmpty(), "%s acknowledges ks2's rekey", nodeOf[gm])
			Expect(seqOf(a[0])).To(Equal(seqOf(first)), "%s's acknowledgement names ks2's PUSH", nodeOf[gm])
		}
		report("takeover rekey", "sequence number %d after ks1's %d", seqOf(between(pushesTo(s.Pkts, ks2, gm1), killAt, time.Time{})[0]), oldMax)
	})

	It("keeps every GM's KEK and TEKs across the takeover (preserve-keys, GM status)", func() {
		suitekit.Require(impl.GM, impl.Status)
		Expect(m.Groups[0].COOP.Takeover).To(Equal(scenario.TakeoverPreserveKeys))
		Expect(keysBefore).To(HaveLen(len(gms)))
		Expect(keysAfter).To(HaveLen(len(gms)))
		for _, gm := range gms {
			Expect(keysOf(keysAfter[gm])).To(Equal(keysOf(keysBefore[gm])), "%s's keys", nodeOf[gm])
			Expect(keysAfter[gm].Registered).To(BeTrue())
		}
	})

	It("loses no probe host-a -> host-b across the failover (data plane)", func() {
		suitekit.Require(impl.GM, impl.DataPlane)
		Expect(streamed).To(BeTrue(), "the stream ran")
		report("probes across the failover", "%s", probes)
		Expect(streamFrom).To(BeTemporally("<", killAt))
		ack := acks(s.Pkts, gm1, ks2)
		Expect(ack).NotTo(BeEmpty())
		Expect(streamTo).To(BeTemporally(">", ack[0].Time), "the stream ran past the takeover rekey")
		Expect(probes.Sent).To(BeNumerically(">", 100))
		Expect(probes.Received).To(Equal(probes.Sent), "probes %s", probes)
	})

	It("logs ks2's move to primary, after ks1, and its takeover rekey to the four GMs (KS events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		tp := named(ks2Events, "COOP_KS_TRANS_TO_PRI")
		Expect(len(tp)).To(BeNumerically(">=", 2), "ks2's moves: %v", suitekit.EventNames(ks2Events))
		Expect(tp[1].Fields).To(HaveKeyWithValue("ks", ks2.String()))
		Expect(tp[1].Fields).To(HaveKeyWithValue("previous", ks1.String()))
		var takeover []control.Event
		for _, e := range named(ks2Events, "KS_SEND_UNICAST_REKEY") {
			if e.Seq > tp[1].Seq {
				takeover = append(takeover, e)
			}
		}
		Expect(takeover).NotTo(BeEmpty(), "ks2 rekeys after its takeover")
		Expect(takeover[0].Fields).To(HaveKeyWithValue("gms", "4"))
	})

	It("takes the restarted ks1 back as a secondary: no PRIMARY from it for three refresh intervals, ks2 still primary, ks1's announcements carry the keys once it holds them (key log)", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		Expect(protocol(watchedTo.Sub(upAt))).To(BeNumerically(">=", 3*t.refresh), "ks1 watched for three refresh intervals")
		back := between(anns(s.Pkts, ks1, netip.Addr{}), restartAt, time.Time{})
		Expect(back).NotTo(BeEmpty(), "ks1 announces itself again")
		Expect(withFlag(back, coopwire.FlagPrimary)).To(BeEmpty(), "ks1 does not take the primary role back:%s", describe(back, upAt))
		for _, peer := range []netip.Addr{ks1, ks3} {
			got := between(anns(s.Pkts, ks2, peer), upAt, time.Time{})
			Expect(len(got)).To(BeNumerically(">=", 3), "ks2 announces to %s every refresh interval", nodeOf[peer])
			for _, p := range got {
				Expect(has(annOfP(p), coopwire.FlagPrimary)).To(BeTrue(), "ks2 still primary, to %s:%s", nodeOf[peer], describe(got, upAt))
			}
		}
		Expect(syncedAt.IsZero()).To(BeFalse(), "ks2 announced its keys to the restarted ks1")
		synced := between(back, syncedAt.Add(wall(slackOf(t.refresh))), time.Time{})
		Expect(synced).NotTo(BeEmpty(), "ks1 announces something once it holds the keys (the batch for gm1)")
		for _, p := range synced {
			Expect(has(annOfP(p), coopwire.FlagPolicy)).To(BeTrue(), "ks1's announcements once synced carry its keys:%s", describe(back, upAt))
		}
	})

	It("registers gm1 with the restarted ks1 and gives it the group's keys, unchanged (GM status)", func() {
		at, ok := registeredAt(s.Pkts, ks1, gm1, gm1RestartAt)
		Expect(ok).To(BeTrue(), "ks1 registers gm1 again")
		Expect(pullKSs(s.Pkts, gm1, gm1RestartAt)).To(Equal([]netip.Addr{ks1}), "gm1's PULLs went to ks1 alone")
		report("gm1 registered with the restarted ks1", "%v after gm1 restarted (wall)", at.Sub(gm1RestartAt).Round(time.Millisecond))
		suitekit.Require(impl.GM, impl.Status)
		Expect(keysRejoin).To(HaveLen(len(gms)))
		g1, g2 := keysRejoin[gm1], keysRejoin[gm2]
		Expect(g1.Registered).To(BeTrue())
		Expect(g1.KS).To(Equal(ks1.String()))
		Expect(keysOf(g1)).To(Equal(keysOf(g2)), "gm1 holds what gm2 holds")
		// The group's keys did not change: the same KEK, and TEKs among
		// those held before ks1 came back (the oldest may have expired).
		Expect(g1.KEKSPI).To(Equal(keysAfter[gm2].KEKSPI))
		Expect(g1.TEKSPIs).NotTo(BeEmpty())
		for _, spi := range g1.TEKSPIs {
			Expect(keysAfter[gm2].TEKSPIs).To(ContainElement(spi), "TEK %s is one the group held before ks1 came back", spi)
		}
	})

	It("is read the same way by tshark", func() {
		suitekit.Require(impl.KS, impl.KeyLog)
		s.AgreesWithTshark()
	})
})

// annOfP is a packet whose ANN must have decrypted (annOf), returned as
// the packet for has.
func annOfP(p pcap.Packet) pcap.Packet {
	annOf(p)
	return p
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// rounded prints durations to the millisecond.
func rounded(ds []time.Duration) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return "[" + strings.Join(out, " ") + "]"
}

var _ = fmt.Sprint
