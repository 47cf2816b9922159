package robustness

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The seeds' keepalive (interval 15 s, retry 2 s, S2 Table 29-2), five
// times faster where both implementations scale their timers: about 20 s
// of wall time (80 s in protocol time: label slow).
const dpdScale = 0.2

var dpdKeepalive = scenario.Keepalive{Interval: 15, Retry: 2}

// Five R-U-THEREs unanswered in a row make the peer dead (S2: "five
// aggressive DPD retry messages can be missed before the key server is
// marked as down", CO-03): the periodic one and four retries.
const dpdUnanswered = 5

var _ = Describe("a group member's dead peer detection of its key server (RFC 3706)", Ordered, Label("robustness", "dpd"), suitekit.Checks("CO-03", "RFC3706"), suitekit.SlowAt(dpdScale), func() {
	var (
		s *suitekit.Scenario
		// stopped and resumed bound the time ks1's process was stopped
		// (SIGSTOP): it answered nothing in between.
		stopped, resumed time.Time
		keys0            *impl.StatusDoc
	)
	BeforeAll(func(ctx SpecContext) {
		if !suitekit.Offers(impl.GM, impl.DPD) {
			return // every spec skips, naming it
		}
		m := hostile()
		m.IKE.Keepalive = &dpdKeepalive
		m.TimerScale = suitekit.TimerScale(dpdScale)
		s = startHostile(ctx, "robustness-dpd", m, gm1)
		keys0 = keysOf(ctx, s, "gm1", impl.GM)
		interval, retry := s.Scaled(15*time.Second), s.Scaled(2*time.Second)
		s.WaitOnWire(ctx, 4*interval+10*time.Second, "three Informationals from gm1 to ks1, answered", func(pkts []pcap.Packet) bool {
			return len(informationals(pkts, ks1, gm1)) >= 3
		})
		// ks1 stops answering, as a key server that died would, while the
		// network stays up.
		signal(s.Lab, "ks1", syscall.SIGSTOP)
		stopped = time.Now()
		s.WaitOnWire(ctx, interval+dpdUnanswered*retry+10*time.Second, fmt.Sprintf("%d Informationals from gm1 after ks1 stopped", dpdUnanswered), func(pkts []pcap.Packet) bool {
			return len(since(informationals(pkts, gm1, ks1), stopped)) >= dpdUnanswered
		})
		// Two intervals more: a GM that dropped the SA sends nothing.
		silence(ctx, 2*interval)
		// Taken before SIGCONT: what ks1 sends once it runs again (the
		// answers waiting in its socket) is after it.
		resumed = time.Now()
		signal(s.Lab, "ks1", syscall.SIGCONT)
		s.Finish()
	})
	BeforeEach(func() { suitekit.Require(impl.GM, impl.DPD) })

	It("sends an R-U-THERE every interval, and the key server answers each", func() {
		probes := until(informationals(s.Pkts, gm1, ks1), stopped)
		answers := until(informationals(s.Pkts, ks1, gm1), stopped)
		Expect(len(probes)).To(BeNumerically(">=", 3), "Informationals from gm1 before ks1 stopped")
		gaps := protocolGaps(s, probes)
		report("R-U-THERE intervals", "%v of protocol time (keepalive %d s)", gaps, dpdKeepalive.Interval)
		for i, g := range gaps {
			Expect(g.Seconds()).To(BeNumerically("~", dpdKeepalive.Interval, 1), "interval %d between gm1's Informationals", i+1)
		}
		for _, p := range probes {
			Expect(answeredWithin(p, answers, s.Scaled(time.Second))).To(BeTrue(), "ks1 answers gm1's Informational at %v", p.Time)
		}
	})

	It("after the key server stops answering, sends five R-U-THEREs a retry apart, then no more", func() {
		before := until(informationals(s.Pkts, gm1, ks1), stopped)
		after := until(since(informationals(s.Pkts, gm1, ks1), stopped), resumed)
		Expect(after).To(HaveLen(dpdUnanswered), "Informationals from gm1 while ks1 was stopped (%v of protocol time)", protocolSpan(s, stopped, resumed))
		gaps := protocolGaps(s, after)
		report("R-U-THERE retries", "%v of protocol time (retry %d s)", gaps, dpdKeepalive.Retry)
		for i, g := range gaps {
			Expect(g.Seconds()).To(BeNumerically("~", dpdKeepalive.Retry, 0.5), "retry %d", i+1)
		}
		// The first unanswered one is the periodic one, an interval after
		// the last one answered.
		last := before[len(before)-1]
		Expect(protocolSpan(s, last.Time, after[0].Time).Seconds()).To(BeNumerically("~", dpdKeepalive.Interval, 1))
	})

	It("carries its SA's cookies and sequence numbers, one more each time, and the answers echo them", func() {
		suitekit.RequireKeyLog()
		probes := dpdNotifications(s.Pkts, gm1, ks1)
		// Once resumed, ks1 answers what waited in its socket: too late,
		// and not counted.
		var answers []dpdNotice
		for _, a := range dpdNotifications(s.Pkts, ks1, gm1) {
			if a.p.Time.Before(resumed) {
				answers = append(answers, a)
			}
		}
		Expect(len(probes)).To(BeNumerically(">=", 3+dpdUnanswered), "decrypted notifications from gm1")
		answered := map[uint32]bool{}
		for _, a := range answers {
			Expect(a.n.MessageType).To(Equal(isakmp.NotifyDPDRUThereAck), "ks1's notification at %v", a.p.Time)
			answered[a.seq] = true
		}
		for i, p := range probes {
			Expect(p.n.MessageType).To(Equal(isakmp.NotifyDPDRUThere), "gm1's notification at %v", p.p.Time)
			Expect(p.n.ProtocolID).To(Equal(isakmp.ProtoISAKMP), "R-U-THERE protocol (RFC 3706 §5.1)")
			cookies := p.p.ISAKMP.ICookie + p.p.ISAKMP.RCookie
			Expect(hex.EncodeToString(p.n.SPI)).To(Equal(cookies), "R-U-THERE SPI: the phase-1 SA's cookies (RFC 3706 §5.2)")
			if i > 0 {
				Expect(p.seq).To(Equal(probes[i-1].seq+1), "sequence number after %d", probes[i-1].seq)
			}
			Expect(answered[p.seq]).To(Equal(p.p.Time.Before(stopped)), "an answer to R-U-THERE %d (sent %v, ks1 stopped %v)", p.seq, p.p.Time, stopped)
		}
	})

	It("declares the key server dead and keeps its keys and registration", func(ctx SpecContext) {
		// The death is not on the wire (the silence after the fifth
		// R-U-THERE is, above): this spec needs the GM's status or events.
		if !suitekit.Offers(impl.GM, impl.Status) {
			suitekit.Require(impl.GM, impl.Events)
		}
		keysKept(ctx, s, "gm1", impl.GM, keys0)
		if !suitekit.Offers(impl.GM, impl.Events) {
			return // the keys, from the status, stand alone
		}
		var dead []string
		for _, e := range suitekit.Events(ctx, s.Lab, "gm1") {
			if e.Name == "IKE_PEER_DEAD" && e.Fields["peer"] == ks1.String() {
				dead = append(dead, e.Time.Format(time.RFC3339Nano))
			}
		}
		Expect(dead).To(HaveLen(1), "IKE_PEER_DEAD events for ks1 on gm1")
	})
})

// informationals are the first copies of the Informational messages from a
// to b, in time order.
func informationals(pkts []pcap.Packet, a, b netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && !p.ISAKMP.Repeat && p.ISAKMP.Type == uint8(isakmp.ExchangeInformational) && p.Src == a && p.Dst == b {
			out = append(out, p)
		}
	}
	return out
}

func since(pkts []pcap.Packet, t time.Time) []pcap.Packet {
	for i, p := range pkts {
		if p.Time.After(t) {
			return pkts[i:]
		}
	}
	return nil
}

func until(pkts []pcap.Packet, t time.Time) []pcap.Packet {
	for i, p := range pkts {
		if !p.Time.Before(t) {
			return pkts[:i]
		}
	}
	return pkts
}

// protocolGaps are the times between consecutive packets, in protocol time.
func protocolGaps(s *suitekit.Scenario, pkts []pcap.Packet) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(pkts); i++ {
		out = append(out, protocolSpan(s, pkts[i-1].Time, pkts[i].Time).Round(10*time.Millisecond))
	}
	return out
}

func protocolSpan(s *suitekit.Scenario, from, to time.Time) time.Duration {
	return time.Duration(float64(to.Sub(from)) / s.Model.TimerScale)
}

// answeredWithin reports whether one of answers follows p within d.
func answeredWithin(p pcap.Packet, answers []pcap.Packet, d time.Duration) bool {
	for _, a := range answers {
		if !a.Time.Before(p.Time) && a.Time.Sub(p.Time) <= d {
			return true
		}
	}
	return false
}

// dpdNotice is a decrypted DPD notification and the packet it came in.
type dpdNotice struct {
	p   pcap.Packet
	n   *isakmp.Notification
	seq uint32
}

// dpdNotifications are the decrypted notifications from a to b that have
// DPD's form (protocol ISAKMP, 4 octets of data: the sequence number).
func dpdNotifications(pkts []pcap.Packet, a, b netip.Addr) []dpdNotice {
	var out []dpdNotice
	for _, p := range informationals(pkts, a, b) {
		ExpectWithOffset(1, p.ISAKMP.Decrypted).To(BeTrue(), "Informational at %v decrypted with the key log: %s", p.Time, p.ISAKMP.DecryptError)
		for _, pl := range p.ISAKMP.Msg.Payloads {
			n, ok := pl.(*isakmp.Notification)
			if !ok || len(n.Data) != 4 {
				continue
			}
			out = append(out, dpdNotice{p: p, n: n, seq: binary.BigEndian.Uint32(n.Data)})
		}
	}
	return out
}

// silence lets d of wall time pass, in which the verdicts expect nothing
// to be sent.
func silence(ctx SpecContext, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
