// The robustness suite attacks a key server and group members from the
// WAN the way an attacker without keys can (and, for PUSH forgery and
// replay, with what it recorded), while legitimate GMs register and
// traffic flows. It judges any implementation (KS=, GM=): every lab is
// stated in the neutral model, the attacks are the bench's own bytes
// (harness/attack), and the verdicts come from the wire and from the
// nodes' processes as the bench runs them.
//
// Verdicts, for every attack: the process is alive; a legitimate GM
// still registers (the KS's PULL 4 reaching it) within the bound the spec
// states; the keys are what they were (the ESP SPI a GM uses after
// registering again; deepened by a status command where offered); no
// protected flow crosses the WAN in clear. Where an implementation offers
// events (getvpnd's control socket), specs of their own check that every
// bad input was counted; where it cannot scale its timers, the scenarios
// that wait for rekeys or re-registrations run in protocol time and carry
// the label slow.
package robustness

import (
	"context"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// registrationBound is the 95th percentile a legitimate registration must
// stay under while the key server is attacked: without an attack one
// takes tens of milliseconds here, and a GM whose first try is lost waits
// 10 s for its second (the seeds' retry interval), so a KS that loses
// legitimate exchanges under attack fails it by far.
const registrationBound = time.Second

// restarts is how many timed registrations each flood spec makes: with
// twenty, the 95th percentile is the second slowest.
const restarts = 20

var _ = Describe("a key server under attack", Ordered, Label("robustness"), suitekit.Checks("KS-45"), func() {
	var (
		s      *suitekit.Scenario
		before *impl.StatusDoc
		spi0   uint32 // gm1's ESP SPI before the attacks (data-plane GMs)
		// The malformed corpus sent and ks1's counters around it (events).
		malformed int
		c0        map[string]uint64
	)
	BeforeAll(func(ctx SpecContext) {
		s = startHostile(ctx, "robustness-ks", hostile(), gm1, gm2)
		before = keysOf(ctx, s, "ks1", impl.KS)
		if suitekit.Offers(impl.GM, impl.DataPlane) {
			spi0 = espSPI(ctx, s)
		}
	})
	// Every spec leaves the key server alive (with its keys, where its
	// status says them).
	AfterEach(func(ctx SpecContext) {
		alive(s.Lab, "ks1")
		keysKept(ctx, s, "ks1", impl.KS, before)
	})

	It("drops every malformed ISAKMP datagram and keeps registering a GM meanwhile", func(ctx SpecContext) {
		corpus := attack.ISAKMPCorpus(1)
		Expect(len(corpus)).To(BeNumerically(">=", 100))
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		if suitekit.Offers(impl.KS, impl.Events) {
			c0 = counters(ctx, s.Lab, "ks1")
		}
		// Three passes, paced so the corpus spans the registrations.
		sending := background(func() floodResult {
			var r floodResult
			for range 3 {
				n, err := attack.SendAll(ctx, conn, gdoi, corpus, 500)
				if r.Sent += n; err != nil {
					r.Err = err
					break
				}
			}
			return r
		})
		times := registrationTimes(ctx, s.Lab, "gm1", 3, 15*time.Second)
		malformed = finished(sending).Sent
		report("registration under malformed input", "%v", times)
		Expect(p95(times)).To(BeNumerically("<", registrationBound))
		alive(s.Lab, "gm1")
	})

	It("counts every malformed datagram (KS events)", func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.Events)
		Expect(malformed).To(BeNumerically(">=", 300), "the malformed corpus was sent")
		Eventually(func() uint64 {
			n, _ := badDelta(c0, counters(ctx, s.Lab, "ks1"))
			return n
		}).WithTimeout(5*time.Second).Should(BeNumerically(">=", malformed),
			"the key server's bad-input counters after %d malformed datagrams", malformed)
		_, grew := badDelta(c0, counters(ctx, s.Lab, "ks1"))
		report("counters", "%v", grew)
	})

	// The flood of the issue that found it: message 1s with new cookies,
	// half from mallory's own address (which the key server holds no key
	// for) and half spoofing gm2's (which it does), more than a
	// 50,000-entry table, then a steady stream while gm1 and gm2 register
	// again and again. Neither may notice, gm2 included: a responder
	// cannot tell gm2's message 1s from the spoofer's, but the spoofer
	// never sees the answers, and only gm2 comes back with message 3.
	It("keeps registering GMs while one source floods it with half-open main modes", func(ctx SpecContext) {
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		fd, err := attack.Raw(suitekit.NetNS(s.Lab, "mallory"))
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		spoofed := []netip.Addr{gm2}
		pid := s.Lab.Node("ks1").PID
		u0, t0 := usage(pid), time.Now()
		burst, err := attack.HalfOpen(ctx, conn, gdoi, 26000, 0, 0, attack.DefaultPhase1, 200*time.Millisecond)
		Expect(err).NotTo(HaveOccurred())
		report("burst from mallory", "%v", burst)
		n, err := attack.SpoofedHalfOpen(ctx, fd, spoofed, gdoi, 26000, 0, 0, attack.DefaultPhase1)
		Expect(err).NotTo(HaveOccurred())
		report("burst spoofing gm2", "%d message 1s", n)
		// Then a steady 1,000 message 1s a second from each (about
		// 1.6 Mbit/s in all) while gm1 registers again and again.
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		steady := background(func() floodResult {
			st, err := attack.HalfOpen(fctx, conn, gdoi, 0, time.Hour, 1000, attack.DefaultPhase1, 0)
			return floodResult{Stats: st, Err: err}
		})
		spoofing := background(func() floodResult {
			n, err := attack.SpoofedHalfOpen(fctx, fd, spoofed, gdoi, 0, time.Hour, 1000, attack.DefaultPhase1)
			return floodResult{Sent: n, Err: err}
		})
		drained(ctx, s, "ks1", 30*time.Second)
		times := registrationTimes(ctx, s.Lab, "gm1", restarts, 15*time.Second)
		victim := registrationTimes(ctx, s.Lab, "gm2", restarts, 15*time.Second)
		stop()
		report("steady flood", "%v; %d spoofing gm2", finished(steady).Stats, finished(spoofing).Sent)
		u1, t1 := usage(pid), time.Now()
		report("registration under half-open flood", "gm1 %v (p95 %v); gm2, whose address is spoofed, %v (p95 %v)", times, p95(times), victim, p95(victim))
		report("key server", "CPU %.0f%% of a core, RSS %d -> %d KiB", 100*float64(u1.CPU-u0.CPU)/float64(t1.Sub(t0)), u0.RSS>>10, u1.RSS>>10)
		Expect(p95(times)).To(BeNumerically("<", registrationBound))
		Expect(p95(victim)).To(BeNumerically("<", registrationBound), "gm2, whose address the flood spoofs")
	})

	It("keeps registering GMs while a source with no key floods it with message 3s", func(ctx SpecContext) {
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		pid := s.Lab.Node("ks1").PID
		fctx, stop := context.WithCancel(ctx)
		u0, t0 := usage(pid), time.Now()
		// As many message 3s as the key server opens exchanges for, up to
		// 2,000 a second, each asking for a DH computation.
		flood := background(func() floodResult {
			st, err := attack.Message3(fctx, conn, gdoi, 0, time.Hour, 2000, attack.DefaultPhase1, 200*time.Millisecond)
			return floodResult{Stats: st, Err: err}
		})
		time.Sleep(time.Second) // the flood at full rate first
		times := registrationTimes(ctx, s.Lab, "gm1", restarts, 15*time.Second)
		stop()
		st := finished(flood).Stats
		u1, t1 := usage(pid), time.Now()
		cpu := float64(u1.CPU-u0.CPU) / float64(t1.Sub(t0))
		report("message 3 flood", "%v", st)
		report("registration under message-3 flood", "%v (p95 %v)", times, p95(times))
		report("key server", "CPU %.0f%% of a core, RSS %d -> %d KiB", 100*cpu, u0.RSS>>10, u1.RSS>>10)
		// A DH computation for a source that has no key shows on the wire
		// as a message 4; looking the key up first prevents it.
		Expect(st.Message4).To(BeZero(), "message 4s sent to a source with no pre-shared key")
		Expect(p95(times)).To(BeNumerically("<", registrationBound))
	})

	It("writes a bounded log for 100,000 garbage datagrams", func(ctx SpecContext) {
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "mallory"), netip.AddrPortFrom(mallory, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		// The corpus's datagrams of one Ethernet frame or less, over and
		// over: the log is what is measured, and the captures stay small.
		var corpus []attack.Case
		for _, c := range attack.ISAKMPCorpus(7) {
			if len(c.Bytes) <= 1472 {
				corpus = append(corpus, c)
			}
		}
		garbage := make([]attack.Case, 0, 100000)
		for len(garbage) < 100000 {
			garbage = append(garbage, corpus[len(garbage)%len(corpus)])
		}
		size0 := logSize(s.Lab, "ks1")
		var c0 map[string]uint64
		if suitekit.Offers(impl.KS, impl.Events) {
			c0 = counters(ctx, s.Lab, "ks1")
		}
		start := time.Now()
		n, err := attack.SendAll(ctx, conn, gdoi, garbage, 20000)
		Expect(err).NotTo(HaveOccurred())
		if c0 != nil {
			Eventually(func() uint64 { return counters(ctx, s.Lab, "ks1")["packets_received"] - c0["packets_received"] }).
				WithTimeout(10*time.Second).Should(BeNumerically(">=", uint64(n)*99/100), "datagrams the key server read")
		} else {
			// The key server reads its socket in order: once it has
			// registered gm1 again, it has read the garbage sent before.
			registrationTimes(ctx, s.Lab, "gm1", 1, 15*time.Second)
		}
		grew := logSize(s.Lab, "ks1") - size0
		report("log growth", "%d octets for %d garbage datagrams in %v", grew, n, time.Since(start).Round(time.Millisecond))
		// Ten lines a second for each event name, for a few seconds, is
		// some tens of kilobytes; one line per datagram is megabytes.
		Expect(grew).To(BeNumerically("<", 1<<20), "the key server's log grew %d octets", grew)
	})

	// Last. gm1 registered again some fifty times during the attacks; the
	// TEK it got each time is the one it had before them.
	It("keeps its group keys through every attack: gm1 still sends with the TEK it had before them", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.DataPlane)
		Expect(espSPI(ctx, s)).To(Equal(spi0), "the ESP SPI gm1 uses after registering again")
	})
})

var _ = Describe("a key server's authorization", Ordered, Label("robustness"), suitekit.Checks("KS-63", "FS-46"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		// ks1 authorizes gm1's address only.
		m := hostile()
		m.Groups[0].Authorization = []netip.Prefix{netip.PrefixFrom(gm1, 32)}
		s = startHostile(ctx, "robustness-identity", m, gm1)
	})

	// gm2 holds its own pre-shared key (gm2-secret, configured on ks1 for
	// 192.0.2.12). From its own address it runs main mode twice: once
	// under its own identity, which the key server must accept (the
	// bench's initiator works), once claiming gm1's, which it must
	// refuse: a key authenticates the identity it was given for.
	It("refuses a GM that claims another GM's identity with its own key", func(ctx SpecContext) {
		conn, err := attack.UDP(suitekit.NetNS(s.Lab, "gm2"), netip.AddrPortFrom(gm2, 0))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		own, err := attack.ClaimIdentity(ctx, conn, gdoi, []byte("gm2-secret"), gm2, 3*time.Second)
		Expect(err).NotTo(HaveOccurred())
		report("gm2 as itself", "%v", own)
		Expect(own.Established).To(BeTrue(), "main mode under gm2's own identity: %v", own)
		claimed, err := attack.ClaimIdentity(ctx, conn, gdoi, []byte("gm2-secret"), gm1, 3*time.Second)
		Expect(err).NotTo(HaveOccurred())
		report("gm2 as gm1", "%v", claimed)
		Expect(claimed.Established).To(BeFalse(), "the key server accepted gm2's key for gm1's identity")
		Expect(claimed.Notify).To(BeEquivalentTo(attack.NotifyAuthenticationFailed), "%v", claimed)
		alive(s.Lab, "ks1")
		// gm1 is not disturbed: it registered once and keeps to it.
		alive(s.Lab, "gm1")
		Expect(suitekit.Registrations(s.Peek(), ks1, gm1)).To(HaveLen(1), "ks1's registrations of gm1")
	})
})

var _ = Describe("a key server's phase-1 SAs", Ordered, Label("robustness"), suitekit.Checks("KS-60"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		if !suitekit.Offers(impl.KS, impl.Events) {
			return // the spec skips, naming it
		}
		s = startHostile(ctx, "robustness-churn", hostile(), gm1)
	})

	// Fifteen registrations in a row: enough to pass any sane per-peer
	// cap, few enough that a per-source Diffie-Hellman rate limit (which
	// a GM registering in a tight loop also meets) does not slow them.
	It("keeps a bounded number for a GM that registers again and again (KS events: its SA table)", func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.Events)
		times := registrationTimes(ctx, s.Lab, "gm1", 15, 15*time.Second)
		report("registrations", "%d, p95 %v", len(times), p95(times))
		sas, err := suitekit.Control(s.Lab, "ks1").IKESAs(ctx)
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for _, sa := range sas {
			if a, err := netip.ParseAddrPort(sa.Peer); (err == nil && a.Addr() == gm1) || sa.Peer == gm1.String() {
				n++
			}
		}
		report("phase-1 SAs for gm1", "%d after %d registrations", n, len(times)+1)
		// The newest replaces the oldest past a small per-peer cap.
		Expect(n).To(BeNumerically("<=", 8))
		alive(s.Lab, "ks1")
	})
})

// TEKs of 300 s, 20 times faster where both implementations scale their
// timers: a GM re-registers 234 to 240 protocol seconds after registering,
// 12 s of wall time (4 minutes in protocol time: label slow).
const restartScale = 0.05

var _ = Describe("group members after their key server restarts", Ordered, Label("robustness"), suitekit.Checks("GM-80", "GM-81"), suitekit.SlowAt(restartScale), func() {
	var (
		s           *suitekit.Scenario
		restartedAt time.Time
	)
	BeforeAll(func(ctx SpecContext) {
		m := hostile()
		m.Groups[0].TEKLifetime = 300
		m.TimerScale = suitekit.TimerScale(restartScale)
		s = startHostile(ctx, "robustness-ks-restart", m, gm1, gm2)
		// The key server restarts and forgets every phase-1 SA; the GMs
		// learn it when they next talk to it, to re-register.
		restartedAt = time.Now()
		Expect(s.Lab.Restart("ks1", 2*time.Second)).To(Succeed())
		s.WaitOnWire(ctx, s.Scaled(300*time.Second)+15*time.Second, "ks1 registers gm1 and gm2 again", func(pkts []pcap.Packet) bool {
			return len(registeredAfter(pkts, gm1, restartedAt)) > 0 && len(registeredAfter(pkts, gm2, restartedAt)) > 0
		})
		s.Finish()
	})

	It("re-register at once on a fresh phase-1 SA", func(ctx SpecContext) {
		for _, gm := range []struct {
			name string
			addr netip.Addr
		}{{"gm1", gm1}, {"gm2", gm2}} {
			var firstPull time.Time
			for _, p := range s.OnLink(gm.name+":eth1", isakmp.ExchangeGroupkeyPull, gm.addr, ks1) {
				if p.Src == gm.addr && p.Time.After(restartedAt) {
					firstPull = p.Time
					break
				}
			}
			Expect(firstPull).NotTo(BeZero(), "%s sent a GROUPKEY-PULL after the restart", gm.name)
			regs := registeredAfter(s.Pkts, gm.addr, restartedAt)
			Expect(regs).NotTo(BeEmpty())
			done := regs[0][len(regs[0])-1].Time // PULL 4
			took := time.Duration(float64(done.Sub(firstPull)) / s.Model.TimerScale)
			report(gm.name+" recovery", "%v of protocol time from its first PULL to the restarted KS until PULL 4", took.Round(time.Millisecond))
			// The restarted KS tells the GM its phase-1 SA is gone
			// (INVALID-COOKIE) and the GM starts a new main mode: a few
			// round trips, not a retransmission schedule.
			Expect(took).To(BeNumerically("<", 5*time.Second), "%s's recovery", gm.name)
		}
		var told bool
		for _, n := range append(s.Notifications(ks1, gm1), s.Notifications(ks1, gm2)...) {
			told = told || n.MessageType == isakmp.NotifyInvalidCookie
		}
		Expect(told).To(BeTrue(), "INVALID-COOKIE from the restarted key server")
	})
})

// registeredAfter are ks1's registrations of gm (suitekit.Registrations)
// whose first message is after t.
func registeredAfter(pkts []pcap.Packet, gm netip.Addr, t time.Time) [][]pcap.Packet {
	var out [][]pcap.Packet
	for _, r := range suitekit.Registrations(pkts, ks1, gm) {
		if r[0].Time.After(t) {
			out = append(out, r)
		}
	}
	return out
}

var _ = Describe("a key server with a wildcard key under a spoofed flood", Ordered, Label("robustness"), suitekit.Checks("KS-61"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		// Any address may try main mode with the wildcard key, as with
		// "crypto isakmp key ... address 0.0.0.0": every spoofed source
		// has a key, so the per-source caps alone do not bound the state.
		m := hostile()
		m.IKE.KSWildcardKey = "wildcard-secret"
		s = startHostile(ctx, "robustness-spoofed", m, gm1)
	})

	It("keeps registering GMs while message 1s come from a thousand spoofed addresses", func(ctx SpecContext) {
		fd, err := attack.Raw(suitekit.NetNS(s.Lab, "mallory"))
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		// 198.18.0.0/15 (RFC 2544's benchmarking range): addresses no
		// node has. ks1 routes them to mallory, who drops the answers.
		var srcs []netip.Addr
		for i := range 1000 {
			srcs = append(srcs, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
		}
		run(ctx, s, "ks1", "ip", "route", "add", "198.18.0.0/15", "via", mallory.String())
		before := keysOf(ctx, s, "ks1", impl.KS)
		pid := s.Lab.Node("ks1").PID
		u0, t0 := usage(pid), time.Now()
		n, err := attack.SpoofedHalfOpen(ctx, fd, srcs, gdoi, 52000, 0, 0, attack.DefaultPhase1)
		Expect(err).NotTo(HaveOccurred())
		fctx, stop := context.WithCancel(ctx)
		spoofing := background(func() floodResult {
			n, err := attack.SpoofedHalfOpen(fctx, fd, srcs, gdoi, 0, time.Hour, 2000, attack.DefaultPhase1)
			return floodResult{Sent: n, Err: err}
		})
		drained(ctx, s, "ks1", 30*time.Second)
		times := registrationTimes(ctx, s.Lab, "gm1", restarts, 15*time.Second)
		stop()
		u1, t1 := usage(pid), time.Now()
		report("spoofed flood", "%d message 1s at once, then %d at 2,000/s", n, finished(spoofing).Sent)
		report("registration under spoofed flood", "%v (p95 %v)", times, p95(times))
		report("key server", "CPU %.0f%% of a core, RSS %d -> %d KiB", 100*float64(u1.CPU-u0.CPU)/float64(t1.Sub(t0)), u0.RSS>>10, u1.RSS>>10)
		alive(s.Lab, "ks1")
		keysKept(ctx, s, "ks1", impl.KS, before)
		Expect(p95(times)).To(BeNumerically("<", registrationBound))
		// A responder that keeps full state for every message 1 grows by
		// tens of megabytes here; one that bounds it does not.
		Expect(u1.RSS-u0.RSS).To(BeNumerically("<", 32<<20), "the key server's memory grew %d KiB", (u1.RSS-u0.RSS)>>10)
	})
})
