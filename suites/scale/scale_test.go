package scale

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/swarmreport"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// gms is the number of members the suite plays.
const gms = 1000

// The rekey: the KS's triggered-rekey command where it offers one; else
// the first rekey of fallbackTEK-lifetime TEKs, at fallbackScale where
// the KS scales its timers (in protocol time otherwise: label slow).
const (
	fallbackTEK   = 600
	fallbackScale = 0.05
)

// rekeyLabels: a KS rekeyed by its TEKs' lifetime in protocol time takes
// minutes.
func rekeyLabels() Labels {
	if suitekit.Offered(impl.KS, impl.TriggeredRekey) || suitekit.Offered(impl.KS, impl.TimerScale) {
		return Labels{}
	}
	return Label("slow")
}

// scaleModel is Default's group served to the swarm: every member
// authenticates with the wildcard key and is authorized from the swarm's
// prefix; unicast rekeys with RFC 8263 acknowledgements.
func scaleModel() *scenario.Scenario {
	m := scenario.Default()
	m.GroupMembers, m.PreSharedKeys = nil, nil
	m.IKE.KSAlsoAccepts = nil
	m.IKE.KSWildcardKey = swarmKey
	m.Groups[0].Authorization = []netip.Prefix{swarmPrefix}
	return m
}

var _ = Describe("a thousand GMs", Ordered, Label("scale"), suitekit.Checks("KS-45"), rekeyLabels(), func() {
	var (
		s        *suitekit.Scenario
		report   *swarmreport.Report
		w        wire
		rekeyAt  time.Time
		wantAcks bool
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.UnicastRekey, impl.Acks)
		m := scaleModel()
		triggered := suitekit.Offers(impl.KS, impl.TriggeredRekey)
		if !triggered {
			m.Groups[0].TEKLifetime = fallbackTEK
			if tsc := suitekit.Impl(impl.KS).Caps.TimerScale; tsc != nil && tsc.Floor <= fallbackScale {
				m.TimerScale = fallbackScale
			}
		}
		wantAcks = m.Groups[0].Rekey.Acks != scenario.AcksNone
		s = suitekit.StartModelWith(ctx, "scale", topology, m, suitekit.ModelOptions{
			Links: []string{ksLink},
			Edits: []suitekit.Edit{suitekit.SetCmd(topology, swarmNode, swarmArgs(gms, 1))},
		})
		DeferCleanup(func() {
			// The swarm's report beside the capture, whatever happened.
			if r, err := readReport(s.Lab); err == nil {
				_ = r.Write(filepath.Join(s.Dir, swarmNode, "report.json"))
			}
		})
		By("the swarm registers its members")
		Eventually(func(g Gomega) {
			r, err := readReport(s.Lab)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(r.Registrations.Succeeded+r.Registrations.Failed).To(Equal(gms), "registrations done: %+v", r.Registrations)
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		if triggered {
			By("the KS's rekey command")
			rekeyAt = time.Now()
			suitekit.Run(ctx, s.Lab, "ks1", suitekit.Impl(impl.KS).Caps.TriggeredRekey.Command)
		} else {
			By("the first rekey of the TEKs")
			rekeyAt = time.Now()
		}
		Eventually(func(g Gomega) {
			r, err := readReport(s.Lab)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(r.Final).To(BeTrue(), "the swarm's last report (rekeys %+v)", r.Rekeys)
		}).WithContext(ctx).WithTimeout(s.Scaled(fallbackTEK*time.Second) + 60*time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		var err error
		report, err = readReport(s.Lab)
		Expect(err).NotTo(HaveOccurred())
		s.Finish()
		s.Complete(ksLink)
		w = readWire(s.Pkts, rekeyAt)
	}, NodeTimeout(12*time.Minute))

	It("registers every one of them (the swarm's report and PULL 2 and 4 on the wire)", func() {
		g := report.Registrations
		AddReportEntry("registrations", fmt.Sprintf("%d of %d in %.2f s: %.0f/s at %d in flight, %d tries, %d retransmissions",
			g.Succeeded, report.GMs, g.Seconds, g.PerSecond, report.Concurrency, g.Tries, g.Retransmissions))
		AddReportEntry("registration latency (swarm)", fmt.Sprintf("main mode 1 to PULL 4: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
			g.Latency.P50, g.Latency.P90, g.Latency.P99, g.Latency.Max))
		wl := w.latencies()
		AddReportEntry("registration latency (wire)", fmt.Sprintf("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %.0f registrations/s from the first message 1 to the last PULL 4",
			wl.P50, wl.P90, wl.P99, wl.Max, float64(len(w.registered))/w.last.Sub(w.first).Seconds()))
		Expect(report.Failures).To(BeEmpty(), "registrations that gave up, by reason")
		Expect(g.Succeeded).To(Equal(gms), "registered, by the swarm's report (errors: %v)", report.Errors)
		Expect(w.registered).To(HaveLen(gms), "members ks1 sent PULL 2 and 4 in one exchange")
		for _, a := range w.members() {
			Expect(swarmPrefix.Contains(a)).To(BeTrue())
		}
	})

	It("sends the rekey to every one of them, once, and every one acknowledges it", func() {
		Expect(report.Rekeys).NotTo(BeEmpty(), "rekeys the swarm saw")
		rk := report.Rekeys[0]
		AddReportEntry("rekey fan-out (swarm)", fmt.Sprintf("seq %d: first PUSH received to last acknowledgement sent %.1f ms; %d GMs took it, %d acknowledged, %d copies",
			rk.Seq, rk.FanOutMS, rk.GMs, rk.Acked, rk.Copies))
		if !w.firstPush.IsZero() && !w.lastAck.IsZero() {
			AddReportEntry("rekey fan-out (wire)", fmt.Sprintf("first PUSH to last acknowledgement on %s: %.1f ms",
				ksLink, float64(w.lastAck.Sub(w.firstPush).Microseconds())/1000))
		}
		Expect(w.firstPush.After(w.last)).To(BeTrue(), "the rekey starts after the last registration (PULL 4 at %s, first PUSH at %s)", w.last, w.firstPush)
		Expect(rk.GMs).To(Equal(gms), "members that took seq %d (errors: %v)", rk.Seq, report.Errors)
		Expect(rk.Rejected).To(BeZero(), "copies refused (replayed or not verifying)")
		for _, a := range w.members() {
			Expect(w.pushes[a]).To(BeNumerically(">=", 1), "a PUSH from ks1 to %s on the wire", a)
		}
		Expect(w.pushes).To(HaveLen(gms), "members ks1 sent the PUSH to")
		if !wantAcks {
			Expect(w.acks).To(BeEmpty(), "acknowledgements when the KEK asks for none")
			return
		}
		Expect(rk.Acked).To(Equal(gms), "acknowledgements the swarm sent")
		Expect(w.strangeAck).To(BeEmpty(), "acknowledgements from members ks1 sent no PUSH")
		for _, a := range w.members() {
			Expect(w.acks[a]).To(Equal([]uint32{rk.Seq}), "%s's acknowledgement on the wire: one, of seq %d", a, rk.Seq)
		}
	})
})
