// The impairment suite: GDOI and the GETVPN data plane across links that
// delay, jitter, reorder, lose and drop chosen messages, staged by the
// wire nodes of topologies/impair.clab.yml (harness/wire: wks in front of
// the key server, wgm2 in front of gm2) with rules a spec sets through
// their control sockets. Verdicts come from the wire: the capture sees
// each frame on both sides of a wire (ks1:eth1 and wks:eth2, gm2:eth1 and
// wgm2:eth2), so a spec knows what the wire did and what the daemons did
// about it. Labs run in the neutral model (harness/scenario) with the
// implementations KS= and GM= choose, at timer scale 0.1: the 200 ms of
// delay the seeds' WAN figures call for stay small beside the 10 s
// (1 s of wall time) retransmission interval.
package impair

import (
	"context"
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

// Addresses of impair.clab.yml (basic.clab.yml's).
var (
	ks1   = netip.MustParseAddr("192.0.2.1")
	gm1   = netip.MustParseAddr("192.0.2.11")
	gm2   = netip.MustParseAddr("192.0.2.12")
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")
)

// The labs' timers: TEKs of 300 s, retransmissions 10 s apart, two of
// them, unicast rekeys acknowledged; at scale 0.1 the first rekey comes
// 19 s (wall) after the KS started.
const (
	scale         = 0.1
	tekLifetime   = 300 * time.Second
	retransmitInt = 10 * time.Second
)

var runScale = suitekit.TimerScale(scale)

func model() *scenario.Scenario {
	m := scenario.Default()
	g := &m.Groups[0]
	g.TEKLifetime = int(tekLifetime / time.Second)
	g.Rekey = scenario.Rekey{
		Transport:  "unicast",
		Retransmit: scenario.Retransmit{Interval: int(retransmitInt / time.Second), Count: 2},
		Acks:       scenario.AcksSHA256,
	}
	m.TimerScale = runScale
	return m
}

// needs are what every scenario here needs of both roles: unicast rekeys
// with acknowledgements.
var needs = map[impl.Role][]impl.Capability{
	impl.KS: {impl.UnicastRekey, impl.Acks},
	impl.GM: {impl.UnicastRekey, impl.Acks},
}

// start deploys impair.clab.yml for model m into reports/out/impair-<name>/,
// runs before (the wires' rules, set before any daemon sends) and waits
// until ks1 has registered both GMs: within the seeds' retry budget of
// five passes (GM-21: attempts at 0, 70, 210, 490 and 970 s of protocol
// time with one KS), and a pass's own 40 s.
func start(ctx context.Context, name string, m *scenario.Scenario, before func(*suitekit.Scenario)) *suitekit.Scenario {
	s := suitekit.StartModelKSFirst(ctx, "impair-"+name, "impair.clab.yml", m, nil, func(s *suitekit.Scenario) {
		if before != nil {
			before(s)
		}
	})
	s.WaitOnWire(ctx, s.Scaled(retryBudget), "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
	return s
}

// retryBudget is when a GM that keeps failing against one KS starts its
// fifth registration, plus that attempt's 40 s (S0 §3.6.5.3, GM-21).
const retryBudget = (970 + 40) * time.Second

// onLink returns the ISAKMP frames of exchange x on link from src to dst,
// every copy, in capture order.
func onLink(pkts []pcap.Packet, link string, x isakmp.ExchangeType, src, dst netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Link == link && p.ISAKMP != nil && p.ISAKMP.Type == uint8(x) && p.Src == src && p.Dst == dst {
			out = append(out, p)
		}
	}
	return out
}

// firstSeen maps each GROUPKEY-PUSH (by its message octets, which are the
// same on both sides of a wire) to when it was first seen on link.
func firstSeen(pushes []pcap.Packet) map[string]time.Time {
	at := map[string]time.Time{}
	for _, p := range pushes {
		k := string(p.IPPacket())
		if _, ok := at[k]; !ok {
			at[k] = p.Time
		}
	}
	return at
}

var _ = Describe("rekeys and data across 200 ms ± 50 ms of delay with reordering", Ordered, Label("impair"), suitekit.Checks("RK-10", "RK-12"), suitekit.SlowAt(scale), func() {
	var (
		s      *suitekit.Scenario
		probes traffic.Report
		wstats map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(model(), needs)
		// Everything crossing gm2's link, both ways: its registration, the
		// rekeys and acknowledgements, and the ESP of the probe stream.
		s = start(ctx, "delay", model(), func(s *suitekit.Scenario) {
			// 200 ms ± 50 ms of protocol time, in wall time at the lab's
			// timer scale.
			// GDOI is delayed alike; the rest (the probes' ESP) has a
			// fifth of its frames sent at once, ahead of those delayed.
			d, j := s.Scaled(200*time.Millisecond), s.Scaled(50*time.Millisecond)
			suitekit.Impair(ctx, s.Lab, "wgm2", fmt.Sprintf(`seed: 1
rules:
  - {name: gdoi, match: {proto: isakmp}, delay: %v, jitter: %v}
  - {name: wan, delay: %v, jitter: %v, reorder: 0.2}
`, d, j, d, j))
		})
		// gm2 has its keys once PULL message 4 is through the wire.
		s.WaitOnWire(ctx, 10*time.Second, "gm2 gets PULL message 4", func(pkts []pcap.Packet) bool {
			for _, p := range onLink(pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPull, ks1, gm2) {
				if p.ISAKMP.Message == 4 {
					return true
				}
			}
			return false
		})
		var st *traffic.Stream
		if suitekit.Offers(impl.GM, impl.DataPlane) {
			var err error
			st, err = traffic.StartStream(ctx, traffic.StreamConfig{
				From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
				To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: hostB},
				Port: 7000, Rate: 50, Size: 64,
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _, _ = st.Stop() })
		}
		// Two rekeys, then a rekey's acknowledgement time more.
		s.WaitOnWire(ctx, s.Scaled(2*tekLifetime), "two rekeys acknowledged by gm2", func(pkts []pcap.Packet) bool {
			return len(onLink(pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)) >= 2
		})
		if st != nil {
			var err error
			probes, err = st.Stop()
			Expect(err).NotTo(HaveOccurred())
		}
		wstats = suitekit.WireStats(ctx, s.Lab, "wgm2").Taken
		s.Finish()
	})

	It("delays each rekey to gm2 by the wire's 150 to 250 ms (protocol time)", func() {
		core := firstSeen(onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2))
		at := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		Expect(at).NotTo(BeEmpty())
		for _, p := range at {
			sent, ok := core[string(p.IPPacket())]
			Expect(ok).To(BeTrue(), "frame %d: a PUSH gm2 got that never crossed the core", p.Index)
			// The capture's timestamps carry its own scheduling: a lower
			// bound only, which no scheduling can make shorter.
			took := time.Duration(float64(p.Time.Sub(sent)) / runScale)
			Expect(took).To(BeNumerically(">=", 150*time.Millisecond), "frame %d crossed the wire in %v (protocol time)", p.Index, took)
		}
		Expect(wstats["gdoi"]).To(BeNumerically(">", 0), "GDOI frames the wire took")
	})

	It("has gm2 take every rekey once and acknowledge it, no retransmission needed", func() {
		pushes := onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		acks := onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)
		Expect(len(acks)).To(BeNumerically(">=", 2))
		var seqs []uint32
		for _, a := range acks {
			Expect(a.ISAKMP.SEQ).NotTo(BeNil(), "frame %d: an acknowledgement names its rekey", a.Index)
			seqs = append(seqs, *a.ISAKMP.SEQ)
		}
		Expect(seqs[:2]).To(Equal([]uint32{1, 2}), "one acknowledgement per rekey, in order")
		// 500 ms of round trip at most, under the 10 s retransmission
		// interval: one transmission per rekey.
		Expect(firstSeen(pushes)).To(HaveLen(len(pushes)), "a PUSH to gm2 sent twice")
	})

	It("delivers every probe host-a -> host-b once though the wire reordered their ESP: no false replay", func() {
		suitekit.Require(impl.GM, impl.DataPlane)
		Expect(probes.Sent).To(BeNumerically(">", 500))
		Expect(probes.Lost).To(BeZero(), "probes lost: %+v", probes)
		Expect(probes.Duplicated).To(BeZero())
		Expect(probes.Reordered).To(BeNumerically(">", 0), "the wire reordered nothing end to end: %+v", probes)
	})
})

var _ = Describe("the first rekey to gm2 lost on its link only", Ordered, Label("impair"), suitekit.Checks("RK-30", "FS-21"), suitekit.SlowAt(scale), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(model(), needs)
		s = start(ctx, "drop-first-push", model(), func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wgm2", "rules:\n  - {name: first-push, from: eth2, match: {exchange: groupkey-push}, nth: 1, drop: true}\n")
		})
		s.WaitOnWire(ctx, s.Scaled(tekLifetime), "gm2 acknowledges the first rekey", func(pkts []pcap.Packet) bool {
			return len(onLink(pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)) >= 1
		})
		Expect(suitekit.WireStats(ctx, s.Lab, "wgm2").Taken).To(HaveKeyWithValue("first-push", uint64(1)))
		s.Finish()
	})

	It("retransmits the rekey to gm2 one interval later, which reaches it and is acknowledged", func() {
		core := onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		got := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		Expect(len(core)).To(BeNumerically(">=", 2), "the PUSH and its retransmission on the core side")
		Expect(got).To(HaveLen(1), "gm2 gets one PUSH: the retransmission")
		Expect(string(got[0].IPPacket())).NotTo(Equal(string(core[0].IPPacket())), "gm2 got the first transmission, which the wire dropped")
		Expect(string(got[0].IPPacket())).To(Equal(string(core[1].IPPacket())), "gm2 got the retransmission")
		gap := core[1].Time.Sub(core[0].Time)
		Expect(float64(gap)/runScale).To(BeNumerically("~", float64(retransmitInt), float64(3*time.Second)), "retransmitted %v (protocol) after the first", time.Duration(float64(gap)/runScale))
		acks := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)
		Expect(acks).NotTo(BeEmpty())
		Expect(acks[0].Time).To(BeTemporally(">", got[0].Time))
	})

	It("sends gm1 the rekey once, acknowledged: the loss was gm2's alone", func() {
		Expect(onLink(s.Pkts, "gm1:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm1)).To(HaveLen(1))
		Expect(onLink(s.Pkts, "gm1:eth1", isakmp.ExchangeGroupkeyPushAck, gm1, ks1)).To(HaveLen(1))
	})
})

var _ = Describe("registration across 30 % burst loss on the key server's link", Ordered, Label("impair"), suitekit.Checks("GM-21"), suitekit.SlowAt(scale), func() {
	var (
		s     *suitekit.Scenario
		taken map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(model(), needs)
		// Gilbert-Elliott: p/(p+r) = 0.3 of the frames in the bad state,
		// which loses them all, in bursts of 1/r ≈ 2.1 frames. The state
		// moves per frame, and a registration's retransmissions, 10 s
		// apart, are often each other's next frame on the link: a burst
		// can take all of one message's tries, and the GM backs off as
		// the seeds say (70, 140, 280 s): start waits for five passes.
		s = start(ctx, "burst-loss", model(), func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wks", "seed: 5\nrules:\n  - {name: burst, match: {proto: isakmp}, loss: {gilbert: {p: 0.2, r: 0.47}}}\n")
		})
		taken = suitekit.WireStats(ctx, s.Lab, "wks").Taken
		s.Finish()
	})

	It("registers both GMs, retransmitting what the bursts lost", func() {
		for _, gm := range []netip.Addr{gm1, gm2} {
			Expect(suitekit.Registrations(s.Pkts, ks1, gm)).NotTo(BeEmpty(), "%s registered", gm)
		}
		Expect(taken["burst"]).To(BeNumerically(">", 0))
		// What the KS sent (before the wire) against what reached the
		// core (after it): frames were lost.
		sent, arrived := 0, 0
		for _, p := range s.Pkts {
			if p.ISAKMP != nil && p.Src == ks1 {
				switch p.Link {
				case "ks1:eth1":
					sent++
				case "wks:eth2":
					arrived++
				}
			}
		}
		Expect(arrived).To(BeNumerically("<", sent), "no frame of the KS's lost by the wire")
	})
})

// acksBySEQ counts gm's acknowledgements on link by the SEQ they name.
func acksBySEQ(pkts []pcap.Packet, link string, gm netip.Addr) map[uint32]int {
	n := map[uint32]int{}
	for _, a := range onLink(pkts, link, isakmp.ExchangeGroupkeyPushAck, gm, ks1) {
		Expect(a.ISAKMP.SEQ).NotTo(BeNil(), "frame %d: an acknowledgement names its rekey", a.Index)
		n[*a.ISAKMP.SEQ]++
	}
	return n
}

var _ = Describe("every rekey to gm2 duplicated on its link", Ordered, Label("impair"), suitekit.Checks("RK-90", "FS-28"), suitekit.SlowAt(scale), func() {
	var (
		s        *suitekit.Scenario
		counters map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(model(), needs)
		s = start(ctx, "duplicate-push", model(), func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wgm2", "rules:\n  - {name: twice, from: eth2, match: {exchange: groupkey-push}, duplicate: 1}\n")
		})
		s.WaitOnWire(ctx, s.Scaled(2*tekLifetime), "gm2 acknowledges two rekeys", func(pkts []pcap.Packet) bool {
			return len(acksBySEQ(pkts, "gm2:eth1", gm2)) >= 2
		})
		time.Sleep(s.Scaled(retransmitInt)) // a retransmission would come by now
		if suitekit.Offers(impl.GM, impl.Events) {
			var err error
			counters, err = suitekit.Control(s.Lab, "gm2").Counters(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		s.Finish()
	})

	It("has gm2 take each rekey once: one acknowledgement per SEQ, the copy not acknowledged, nothing retransmitted", func() {
		got := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		sent := onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		Expect(len(sent)).To(BeNumerically(">=", 2))
		Expect(got).To(HaveLen(2*len(sent)), "every PUSH reaches gm2 twice")
		for seq, n := range acksBySEQ(s.Pkts, "gm2:eth1", gm2) {
			Expect(n).To(Equal(1), "acknowledgements of SEQ %d", seq)
		}
		Expect(firstSeen(sent)).To(HaveLen(len(sent)), "the KS retransmitted a PUSH gm2 had acknowledged")
	})

	It("counts each copy as a replay (GM counters)", func() {
		suitekit.Require(impl.GM, impl.Events)
		sent := onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		Expect(counters["rekey_replayed"]).To(BeEquivalentTo(len(sent)), "counters %v", counters)
	})
})

var _ = Describe("a rekey to gm2 held on its link and released after a newer one", Ordered, Label("impair"), suitekit.Checks("RK-90", "FS-28"), suitekit.SlowAt(scale), func() {
	var (
		s        *suitekit.Scenario
		released int
		counters map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(model(), needs)
		// The first rekey and its two retransmissions: three PUSHes.
		s = start(ctx, "held-push", model(), func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wgm2", "rules:\n  - {name: held, from: eth2, match: {exchange: groupkey-push}, count: 3, hold: old}\n")
		})
		s.WaitOnWire(ctx, s.Scaled(2*tekLifetime), "gm2 acknowledges the second rekey", func(pkts []pcap.Packet) bool {
			return len(acksBySEQ(pkts, "gm2:eth1", gm2)) >= 1
		})
		Expect(suitekit.WireStats(ctx, s.Lab, "wgm2").Held).To(HaveKeyWithValue("old", 3))
		var err error
		released, err = suitekit.Wire(s.Lab, "wgm2").Release(ctx, "old", 0)
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(s.Scaled(retransmitInt))
		if suitekit.Offers(impl.GM, impl.Events) {
			counters, err = suitekit.Control(s.Lab, "gm2").Counters(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		s.Finish()
	})

	It("delivers the three old PUSHes after the newer one, and gm2 acknowledges none of them", func() {
		Expect(released).To(Equal(3))
		got := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		Expect(got).To(HaveLen(4), "the newer rekey, then the three held")
		acks := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)
		Expect(acks).To(HaveLen(1), "only the newer rekey is acknowledged")
		Expect(acks[0].Time).To(BeTemporally("<", got[1].Time), "acknowledged before the old ones came")
		for _, p := range got[1:] {
			Expect(p.ISAKMP.SEQ).NotTo(BeNil(), "frame %d decrypts with the key log", p.Index)
			Expect(*p.ISAKMP.SEQ).To(BeNumerically("<", *acks[0].ISAKMP.SEQ), "a held PUSH is older than the one acknowledged")
		}
	})

	It("refuses them as replays and keeps the newer keys (GM counters and state)", func() {
		suitekit.Require(impl.GM, impl.Events)
		Expect(counters["rekey_replayed"]).To(BeEquivalentTo(3), "counters %v", counters)
	})
})
