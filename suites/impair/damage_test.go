package impair

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/harness/wire"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// hostB2 is a second address of host-b: its traffic, ESP with the same
// source, is what the rate rule takes.
var hostB2 = netip.MustParseAddr("203.0.113.11")

// The wire's remaining kinds of damage on gm2's link, at once and each on
// its own traffic: corrupted ESP towards gm2, random loss and a rate limit
// away from it, and every second GROUPKEY-PUSH lost. Each is judged by
// what the wire says it did against what the endpoints saw.
var _ = Describe("corruption, random and every-Nth loss and a rate limit on gm2's link", Ordered, Label("impair"), suitekit.Checks("DP-03", "RK-30", "FS-21"), suitekit.SlowAt(scale), func() {
	const (
		corruptP = 0.1
		lossP    = 0.2
		rateBPS  = 1e6
	)
	var (
		s                       *suitekit.Scenario
		toB, fromB, rated       traffic.Report
		wst                     wire.StatsReply
		duration                time.Duration
		pushesCore, pushesAtGM2 []pcap.Packet
	)
	BeforeAll(func(ctx SpecContext) {
		m := model()
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{
			impl.KS: {impl.UnicastRekey, impl.Acks},
			impl.GM: {impl.UnicastRekey, impl.Acks, impl.DataPlane},
		})
		s = start(ctx, "damage", m, func(s *suitekit.Scenario) {
			suitekit.Impair(ctx, s.Lab, "wgm2", fmt.Sprintf(`seed: 7
rules:
  # An octet near the end of the ciphertext of a tenth of host-a's ESP.
  - {name: corrupt, from: eth2, match: {proto: esp, src: %v}, corrupt: {offset: -20, probability: %g}}
  # Every second GROUPKEY-PUSH to gm2.
  - {name: second-push, from: eth2, match: {exchange: groupkey-push}, loss: {every: 2}}
  # A fifth of host-b's ESP, at random.
  - {name: lose, from: eth1, match: {proto: esp, src: %v}, loss: {random: %g}}
  # host-b's second address through a 1 Mbit/s link with a 20-frame queue.
  - {name: rate, from: eth1, match: {proto: esp, src: %v}, rate: 1mbit, queue: 20}
`, hostA, corruptP, hostB, lossP, hostB2))
		})
		var out strings.Builder
		Expect(s.Lab.Exec(ctx, "host-b", []string{"ip", "addr", "add", hostB2.String() + "/24", "dev", "eth1"}, nil, &out, &out)).To(Succeed(), "%s", out.String())
		time.Sleep(time.Second) // gm2 installs what PULL 4 brought
		stream := func(from, to string, src, dst netip.Addr, port uint16, rate, size int) *traffic.Stream {
			st, err := traffic.StartStream(ctx, traffic.StreamConfig{
				From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, from), Addr: src},
				To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, to), Addr: dst},
				Port: port, Rate: rate, Size: size,
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _, _ = st.Stop() })
			return st
		}
		began := time.Now()
		a := stream("host-a", "host-b", hostA, hostB, 7701, 100, 64)
		b := stream("host-b", "host-a", hostB, hostA, 7702, 100, 64)
		// 2.4 Mbit/s of ESP offered to a 1 Mbit/s link.
		r := stream("host-b", "host-a", hostB2, hostA, 7703, 250, 1100)
		// Two rekeys, the second's first PUSH lost to the every-second rule.
		s.WaitOnWire(ctx, s.Scaled(2*tekLifetime)+10*time.Second, "two rekeys acknowledged by gm2", func(pkts []pcap.Packet) bool {
			return len(onLink(pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)) >= 2
		})
		var err error
		toB, err = a.Stop()
		Expect(err).NotTo(HaveOccurred())
		fromB, err = b.Stop()
		Expect(err).NotTo(HaveOccurred())
		rated, err = r.Stop()
		Expect(err).NotTo(HaveOccurred())
		duration = time.Since(began)
		wst = suitekit.WireStats(ctx, s.Lab, "wgm2")
		s.Finish()
		pushesCore = onLink(s.Pkts, "wgm2:eth2", isakmp.ExchangeGroupkeyPush, ks1, gm2)
		pushesAtGM2 = onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPush, ks1, gm2)
	})

	It("loses exactly the ESP packets it corrupted: gm2 delivers none of them and nothing else is lost", func() {
		corrupted := wst.Corrupted[1]
		Expect(toB.Sent).To(BeNumerically(">", 1000))
		Expect(toB.Lost).To(Equal(corrupted), "host-a → host-b: %+v", toB)
		Expect(toB.Duplicated).To(BeZero())
		share := float64(corrupted) / float64(toB.Sent)
		Expect(share).To(BeNumerically("~", corruptP, 5*math.Sqrt(corruptP*(1-corruptP)/float64(toB.Sent))))
		AddReportEntry("corruption", fmt.Sprintf("%d of %d ESP packets corrupted (%.1f %%), %d probes lost", corrupted, toB.Sent, 100*share, toB.Lost))
	})

	It("loses a fifth of host-b's ESP at random, the probes losing exactly what the wire dropped", func() {
		Expect(fromB.Lost).To(Equal(wst.Taken["lose"]-fromB.Received), "host-b → host-a: %+v; the rule took %d", fromB, wst.Taken["lose"])
		share := float64(fromB.Lost) / float64(fromB.Sent)
		Expect(share).To(BeNumerically("~", lossP, 5*math.Sqrt(lossP*(1-lossP)/float64(fromB.Sent))))
		AddReportEntry("random loss", fmt.Sprintf("%d of %d lost (%.1f %%)", fromB.Lost, fromB.Sent, 100*share))
	})

	It("drops every second PUSH to gm2 and a retransmission brings each rekey through", func() {
		Expect(len(pushesCore)).To(BeNumerically(">=", 3))
		Expect(len(pushesAtGM2)).To(Equal(len(pushesCore)-len(pushesCore)/2), "PUSHes through the wire: %d of %d", len(pushesAtGM2), len(pushesCore))
		acks := onLink(s.Pkts, "gm2:eth1", isakmp.ExchangeGroupkeyPushAck, gm2, ks1)
		Expect(len(acks)).To(BeNumerically(">=", 2), "each rekey acknowledged")
		Expect(suitekit.Registrations(s.Pkts, ks1, gm2)).To(HaveLen(1), "gm2 never had to register again")
		AddReportEntry("every second PUSH", fmt.Sprintf("%d PUSHes sent to gm2, %d arrived, %d rekeys acknowledged", len(pushesCore), len(pushesAtGM2), len(acks)))
	})

	It("holds host-b's second stream to 1 Mbit/s on the wire, tail-dropping what its queue cannot hold", func() {
		var frames []pcap.Packet
		for _, p := range s.Pkts {
			if p.Link == "wgm2:eth2" && p.Proto == "ESP" && p.Src == hostB2 {
				frames = append(frames, p)
			}
		}
		Expect(len(frames)).To(BeNumerically(">", 100))
		bits := 0
		for _, p := range frames[1:] {
			bits += 8 * p.Size()
		}
		bps := float64(bits) / frames[len(frames)-1].Time.Sub(frames[0].Time).Seconds()
		Expect(bps).To(BeNumerically("~", rateBPS, 0.1*rateBPS), "the rate on the core side")
		Expect(rated.Received).To(BeNumerically("==", len(frames)), "every frame the wire let through was delivered")
		Expect(rated.Lost).To(BeNumerically(">", rated.Sent/3), "2.4 Mbit/s offered to 1 Mbit/s")
		AddReportEntry("rate", fmt.Sprintf("%.3f Mbit/s on the core side over %d frames; %d of %d probes delivered in %.0f s", bps/1e6, len(frames), rated.Received, rated.Sent, duration.Seconds()))
	})
})
