package robustness

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/harness/attack"
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

// liveSPI is the SPI of node's TEK for traffic from src (a site prefix):
// it crosses the WAN in clear, the attacker reads it there.
func liveSPI(ctx context.Context, s *suitekit.Scenario, node, src string) uint32 {
	for _, g := range suitekit.GDOI(ctx, s.Lab, node).Groups {
		for i := len(g.TEKs) - 1; i >= 0; i-- {
			if g.TEKs[i].Src == src {
				spi, err := strconv.ParseUint(strings.TrimPrefix(g.TEKs[i].SPI, "0x"), 16, 32)
				Expect(err).NotTo(HaveOccurred())
				return uint32(spi)
			}
		}
	}
	Fail(fmt.Sprintf("%s holds no TEK for traffic from %s", node, src))
	return 0
}

// dataPlaneCounters are a GM's data-plane verdict counters.
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

var _ = Describe("a group member under attack", Ordered, Label("robustness"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = suitekit.StartScenario(ctx, "robustness-gm", "hostile.clab.yml", nil)
		suitekit.WaitRegistered(ctx, s.Lab, "gm1", 20*time.Second)
		suitekit.WaitRegistered(ctx, s.Lab, "gm2", 20*time.Second)
	})

	It("drops and counts truncated, garbage, unknown-SPI and bad-ICV ESP and keeps forwarding", func(ctx SpecContext) {
		spi := liveSPI(ctx, s, "gm2", "198.51.100.0/24")
		keys0 := keysOf(suitekit.GDOI(ctx, s.Lab, "gm2"))
		c0 := dataPlaneCounters(ctx, s, "gm2")
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
		sent := 0
		for range 5 {
			n, err := attack.SendRaw(ctx, fd, corpus, 200)
			Expect(err).NotTo(HaveOccurred())
			sent += n
		}
		rep, err := st.Wait()
		Expect(err).NotTo(HaveOccurred())
		report("probe stream across the attack", "%v", rep)
		alive(s.Lab, "gm2")
		Expect(keysOf(suitekit.GDOI(ctx, s.Lab, "gm2"))).To(Equal(keys0), "gm2's keys")
		Expect(rep.Lost).To(BeZero(), "probes host-a -> host-b lost while gm2 was attacked")
		Eventually(func() uint64 {
			n, _ := badDelta(c0, dataPlaneCounters(ctx, s, "gm2"))
			return n
		}).WithTimeout(5*time.Second).Should(BeNumerically(">=", sent), "gm2's drop counters after %d hostile ESP packets", sent)
		_, grew := badDelta(c0, dataPlaneCounters(ctx, s, "gm2"))
		report("gm2 drop counters", "%v", grew)
	})

	It("drops and counts malformed ISAKMP datagrams", func(ctx SpecContext) {
		keys0 := keysOf(suitekit.GDOI(ctx, s.Lab, "gm1"))
		c0 := counters(ctx, s.Lab, "gm1")
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		corpus := attack.ISAKMPCorpus(3)
		n, err := attack.SendAll(ctx, conn, netip.AddrPortFrom(gm1, 848), corpus, 2000)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() uint64 {
			d, _ := badDelta(c0, counters(ctx, s.Lab, "gm1"))
			return d
		}).WithTimeout(5*time.Second).Should(BeNumerically(">=", n), "gm1's bad-input counters after %d datagrams", n)
		alive(s.Lab, "gm1")
		Expect(keysOf(suitekit.GDOI(ctx, s.Lab, "gm1"))).To(Equal(keys0), "gm1's keys")
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

var _ = Describe("a group member's rekeys under attack", Ordered, Label("robustness"), func() {
	// TEKs of 300 s at 50 times the speed: the first rekey comes about
	// 3.8 s after registration, the next 3.8 s later.
	const scale = 0.02
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = suitekit.StartScenario(ctx, "robustness-push", "hostile.clab.yml", nil,
			suitekit.Scale(scale),
			tekLifetime(300))
		suitekit.WaitRegistered(ctx, s.Lab, "gm1", 20*time.Second)
	})

	It("drops and counts replayed, forged and malformed PUSHes and keeps its keys", func(ctx SpecContext) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		push, err := attack.Sniff(sctx, suitekit.NetNS(s.Lab, "gm1"), ks1, 33)
		Expect(err).NotTo(HaveOccurred(), "no GROUPKEY-PUSH reached gm1")
		// Let gm1 take it, then read its state: the attacks come between
		// this rekey and the next.
		h, err := attack.ParseHeader(push)
		Expect(err).NotTo(HaveOccurred())
		var keys0 keyState
		Eventually(func() uint32 {
			keys0 = keysOf(suitekit.GDOI(ctx, s.Lab, "gm1"))
			return keys0.Seq
		}).WithTimeout(2 * time.Second).Should(BeNumerically(">", 0))
		c0 := counters(ctx, s.Lab, "gm1")
		kl, err := nodeKEK(s, h)
		Expect(err).NotTo(HaveOccurred())
		forged, err := attack.ForgePush(push, kl, keys0.Seq+1000)
		Expect(err).NotTo(HaveOccurred())
		hostile := append([][]byte{push, forged}, payloadsOf(attack.PushCorpus(1, kl))...)
		Expect(attack.Inject(ctx, suitekit.NetNS(s.Lab, "mallory"), ks1, gm1, injectedID0, hostile...)).To(Succeed())
		Eventually(func() uint64 {
			d, _ := badDelta(c0, counters(ctx, s.Lab, "gm1"))
			return d
		}).WithTimeout(time.Second).Should(BeNumerically(">=", len(hostile)), "gm1's bad-input counters after %d hostile PUSHes", len(hostile))
		after := keysOf(suitekit.GDOI(ctx, s.Lab, "gm1"))
		_, grew := badDelta(c0, counters(ctx, s.Lab, "gm1"))
		report("gm1 counters", "%v", grew)
		alive(s.Lab, "gm1")
		Expect(after).To(Equal(keys0), "gm1's keys and sequence number")
	})
})

// nodeKEK is the KEK that h's cookies name, with its key and IV from the
// key server's key log: what the bench knows, not what gm1 says.
func nodeKEK(s *suitekit.Scenario, h attack.Header) (attack.KEK, error) {
	n := s.Lab.Node("ks1")
	kl, err := pcap.ReadKeyLog(fmt.Sprintf("/proc/%d/root%s", n.Holder, suitekit.NodeKeyLog))
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
