package robustness

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// secret marks the payload of a protected flow: host-a -> host-b is
// covered by the group's permit entries, so these octets must never be
// seen on the WAN.
var secret = []byte("SECRET-PLAINTEXT")

// injectedID0 is the first IP identification of the bench's hostile
// packets, which tells them from the daemons' in the capture.
const injectedID0 = 0x4a00

// dataPlaneCounters are a GM's data-plane verdict counters (events).
func dataPlaneCounters(ctx context.Context, s *suitekit.Scenario, node string) map[string]uint64 {
	dp := suitekit.GDOI(ctx, s.Lab, node).DataPlane
	Expect(dp).NotTo(BeNil(), "%s has no data plane", node)
	out := map[string]uint64{}
	for k, v := range dp.Counters {
		out[k] = v
	}
	return out
}

// wanLinks reports whether a capture link is on the WAN side of the GMs
// (everything but the sites' own links).
func wanLink(link string) bool {
	switch link {
	case "gm1:eth2", "host-a:eth1", "gm2:eth2", "host-b:eth1":
		return false
	}
	return true
}

var _ = Describe("a group member under attack", Ordered, Label("robustness"), suitekit.Checks("DP-03", "FS-64"), func() {
	var (
		s *suitekit.Scenario
		// The hostile ESP packets sent gm2 and its counters before them;
		// the malformed datagrams sent gm1 and its counters (events).
		espSent, isakmpSent int
		espC0, isakmpC0     map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		if !suitekit.Offers(impl.GM, impl.DataPlane) {
			return // every spec skips, naming it
		}
		s = startHostile(ctx, "robustness-gm", hostile(), gm1, gm2)
	})
	BeforeEach(func() { suitekit.Require(impl.GM, impl.DataPlane) })

	It("drops truncated, garbage, unknown-SPI and bad-ICV ESP and keeps forwarding with its keys", func(ctx SpecContext) {
		// The SPI crosses the WAN in clear: the attacker reads it there.
		spi := espSPI(ctx, s)
		keys0 := keysOf(ctx, s, "gm2", impl.GM)
		if suitekit.Offers(impl.GM, impl.Events) {
			espC0 = dataPlaneCounters(ctx, s, "gm2")
		}
		st, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
			To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: hostB},
			Rate: 200, Duration: 3 * time.Second,
		})
		Expect(err).NotTo(HaveOccurred())
		corpus := attack.ESPCorpus(1, hostA, hostB, spi, injectedID0)
		fd, err := attack.Raw(suitekit.NetNS(s.Lab, "mallory"))
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		for range 5 {
			n, err := attack.SendRaw(ctx, fd, corpus, 200)
			Expect(err).NotTo(HaveOccurred())
			espSent += n
		}
		rep, err := st.Wait()
		Expect(err).NotTo(HaveOccurred())
		report("probe stream across the attack", "%v", rep)
		alive(s.Lab, "gm2")
		Expect(rep.Lost).To(BeZero(), "probes host-a -> host-b lost while gm2 was attacked")
		Expect(espSPI(ctx, s)).To(Equal(spi), "the SPI of host-a's traffic after the attack")
		keysKept(ctx, s, "gm2", impl.GM, keys0)
	})

	It("counts every hostile ESP packet in its data-plane counters (GM events)", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Events)
		Expect(espSent).To(BeNumerically(">", 0), "the ESP corpus was sent")
		Eventually(func() uint64 {
			n, _ := badDelta(espC0, dataPlaneCounters(ctx, s, "gm2"))
			return n
		}).WithTimeout(5*time.Second).Should(BeNumerically(">=", espSent), "gm2's drop counters after %d hostile ESP packets", espSent)
		_, grew := badDelta(espC0, dataPlaneCounters(ctx, s, "gm2"))
		report("gm2 drop counters", "%v", grew)
	})

	It("drops malformed ISAKMP datagrams and keeps protecting its traffic with its keys", func(ctx SpecContext) {
		spi := espSPI(ctx, s)
		keys0 := keysOf(ctx, s, "gm1", impl.GM)
		if suitekit.Offers(impl.GM, impl.Events) {
			isakmpC0 = counters(ctx, s.Lab, "gm1")
		}
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		isakmpSent, err = attack.SendAll(ctx, conn, netip.AddrPortFrom(gm1, 848), attack.ISAKMPCorpus(3), 2000)
		Expect(err).NotTo(HaveOccurred())
		alive(s.Lab, "gm1")
		Expect(espSPI(ctx, s)).To(Equal(spi), "the SPI gm1 sends host-a's traffic with after the attack")
		keysKept(ctx, s, "gm1", impl.GM, keys0)
	})

	It("counts every malformed datagram (GM events)", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Events)
		Expect(isakmpSent).To(BeNumerically(">", 0), "the ISAKMP corpus was sent")
		Eventually(func() uint64 {
			d, _ := badDelta(isakmpC0, counters(ctx, s.Lab, "gm1"))
			return d
		}).WithTimeout(5*time.Second).Should(BeNumerically(">=", isakmpSent), "gm1's bad-input counters after %d datagrams", isakmpSent)
	})

	// Last: it kills gm1.
	It("sends nothing of a protected flow in clear when its daemon is killed", func(ctx SpecContext) {
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "host-a"), netip.AddrPortFrom(hostA, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		to := netip.AddrPortFrom(hostB, 7777)
		sendFor := func(d time.Duration, from int) int {
			i := from
			for end := time.Now().Add(d); time.Now().Before(end); i++ {
				_, _ = conn.WriteToUDPAddrPort([]byte(fmt.Sprintf("%s-%06d", secret, i)), to)
				time.Sleep(time.Millisecond)
			}
			return i
		}
		n := sendFor(time.Second, 0)
		killedAt := time.Now()
		signal(s.Lab, "gm1", syscall.SIGKILL)
		Eventually(func() string { return s.Lab.Node("gm1").State() }).Should(Equal("exited"))
		sendFor(2*time.Second, n)
		s.Finish()
		var esp, leaked []pcap.Packet
		for _, p := range s.Pkts {
			if !wanLink(p.Link) {
				continue
			}
			if p.ESP != nil && p.Src == hostA && p.Time.Before(killedAt) {
				esp = append(esp, p)
			}
		}
		for _, p := range s.Pkts {
			if wanLink(p.Link) && len(clearPayloads([]pcap.Packet{p}, p.Link, secret)) > 0 {
				leaked = append(leaked, p)
			}
		}
		Expect(esp).NotTo(BeEmpty(), "the flow was protected before the kill")
		Expect(leaked).To(BeEmpty(), "frames of the protected flow in clear on the WAN, first: %v", firstOf(leaked))
	})
})

func firstOf(ps []pcap.Packet) string {
	if len(ps) == 0 {
		return ""
	}
	return ps[0].String()
}

// TEKs of 300 s at 50 times the speed where both implementations scale
// their timers: the first rekey comes about 3.8 s after registration, the
// next 3.8 s later (190 s each in protocol time: label slow).
const pushScale = 0.02

var _ = Describe("a group member's rekeys under attack", Ordered, Label("robustness"), suitekit.Checks("RK-90", "RK-92", "FS-28"), suitekit.SlowAt(pushScale), func() {
	var (
		s          *suitekit.Scenario
		keys0      *impl.StatusDoc
		c0         map[string]uint64
		pushes     [][]byte
		injectedAt time.Time
		window     time.Duration
	)
	BeforeAll(func(ctx SpecContext) {
		if !suitekit.Offers(impl.KS, impl.UnicastRekey) || !suitekit.Offers(impl.GM, impl.UnicastRekey, impl.Acks) {
			return // every spec skips, naming it
		}
		m := hostile()
		m.Groups[0].TEKLifetime = 300
		m.TimerScale = suitekit.TimerScale(pushScale)
		s = startHostile(ctx, "robustness-push", m, gm1)
		sctx, cancel := context.WithTimeout(ctx, s.Scaled(300*time.Second)+10*time.Second)
		defer cancel()
		push, err := attack.Sniff(sctx, suitekit.NetNS(s.Lab, "gm1"), ks1, uint8(isakmp.ExchangeGroupkeyPush))
		Expect(err).NotTo(HaveOccurred(), "no GROUPKEY-PUSH reached gm1")
		h, err := attack.ParseHeader(push)
		Expect(err).NotTo(HaveOccurred())
		// gm1 acknowledges the rekey (on the wire) before the attacks, so
		// that any later acknowledgement before the next rekey answers
		// one of them.
		s.WaitOnWire(ctx, 5*time.Second, "gm1 acknowledges the rekey", func(pkts []pcap.Packet) bool {
			return len(acksFrom(pkts, gm1)) > 0
		})
		keys0 = keysOf(ctx, s, "gm1", impl.GM)
		if suitekit.Offers(impl.GM, impl.Events) {
			c0 = counters(ctx, s.Lab, "gm1")
		}
		// The recorded PUSH again (its sequence number is spent) and,
		// where the KS's key log gives the bench the KEK, a PUSH with a
		// fresh sequence number and a forged signature and the malformed
		// PUSH corpus under the group's KEK.
		pushes = [][]byte{push}
		if suitekit.Offers(impl.KS, impl.KeyLog) {
			kl, err := nodeKEK(s, h)
			Expect(err).NotTo(HaveOccurred())
			forged, err := attack.ForgePush(push, kl, 1000)
			Expect(err).NotTo(HaveOccurred())
			pushes = append(append(pushes, forged), payloadsOf(attack.PushCorpus(1, kl))...)
		}
		injectedAt = time.Now()
		Expect(attack.Inject(ctx, suitekit.NetNS(s.Lab, "mallory"), ks1, gm1, injectedID0, pushes...)).To(Succeed())
		// A retransmission interval for an acknowledgement that must not
		// come, well before the next rekey.
		window = s.Scaled(10 * time.Second)
		time.Sleep(window)
		s.Finish()
	})
	BeforeEach(func() {
		suitekit.Require(impl.KS, impl.UnicastRekey)
		suitekit.Require(impl.GM, impl.UnicastRekey, impl.Acks)
	})

	It("acknowledges none of the replayed, forged and malformed PUSHes, and stays alive", func() {
		report("hostile PUSHes", "%d (the replay%s)", len(pushes), map[bool]string{true: ", a forged signature and the malformed corpus", false: " alone: the KS writes no key log"}[len(pushes) > 1])
		alive(s.Lab, "gm1")
		var late []pcap.Packet
		for _, p := range acksFrom(s.Pkts, gm1) {
			if !p.Time.Before(injectedAt) && p.Time.Before(injectedAt.Add(window)) {
				late = append(late, p)
			}
		}
		Expect(late).To(BeEmpty(), "acknowledgements from gm1 after the hostile PUSHes, first: %v", firstOf(late))
	})

	It("keeps its keys and sequence number (GM status)", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Status)
		keysKept(ctx, s, "gm1", impl.GM, keys0)
	})

	It("counts every hostile PUSH (GM events)", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Events)
		Eventually(func() uint64 {
			d, _ := badDelta(c0, counters(ctx, s.Lab, "gm1"))
			return d
		}).WithTimeout(time.Second).Should(BeNumerically(">=", len(pushes)), "gm1's bad-input counters after %d hostile PUSHes", len(pushes))
		_, grew := badDelta(c0, counters(ctx, s.Lab, "gm1"))
		report("gm1 counters", "%v", grew)
	})
})

// acksFrom are the GROUPKEY-PUSH-ACKs (exchange 35, in clear) gm sent ks1,
// first copies.
func acksFrom(pkts []pcap.Packet, gm netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPushAck) && p.Src == gm && p.Dst == ks1 {
			out = append(out, p)
		}
	}
	return out
}

// nodeKEK is the KEK that h's cookies name, with its key and IV from the
// key server's key log: what the bench knows, not what gm1 says.
func nodeKEK(s *suitekit.Scenario, h attack.Header) (attack.KEK, error) {
	n := s.Lab.Node("ks1")
	kl, err := pcap.ReadKeyLog(fmt.Sprintf("/proc/%d/root%s", n.Holder, suitekit.Impl(impl.KS).Caps.KeyLog.Path))
	if err != nil {
		return attack.KEK{}, err
	}
	spi := [16]byte(append(h.ICookie[:], h.RCookie[:]...))
	for _, k := range kl.KEK {
		if k.SPI == spi {
			return attack.KEK{SPI: spi, Key: k.Key, IV: k.IV}, nil
		}
	}
	return attack.KEK{}, fmt.Errorf("KEK %x not in ks1's key log", spi)
}

func payloadsOf(cs []attack.Case) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.Bytes
	}
	return out
}
