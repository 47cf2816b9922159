package operations

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The GM-removal lab's numbers (S0 §3.16.1): 3600 s TEKs, so a transient
// removal leaves them TEK_SLT = MAX(90 s, 5 % of 3600 s) = 180 s, and an
// immediate one has GMs register again within MIN(RLT, 2 % of 3600 s) =
// 72 s. gm2 is staged at GDOI 1.0.2: policy-replace, not gm-removal
// (1.0.3, S0 Table 3).
const (
	removalTEK    = 3600 * time.Second
	removalSLT    = 180 * time.Second
	removalBound  = 72 * time.Second
	removalStaged = "1.0.2"
)

// kekDeleted reports whether a decrypted PUSH deletes a KEK: a Delete
// payload of protocol ISAKMP with a 16-octet SPI (the KEK's cookies).
func kekDeleted(p pcap.Packet) bool {
	for _, pl := range p.ISAKMP.Msg.Payloads {
		if d, ok := pl.(*isakmp.Delete); ok && d.ProtocolID == isakmp.ProtoISAKMP && d.SPISize == 16 && len(d.SPIs) > 0 {
			return true
		}
	}
	return false
}

// registeredAfter is the start (the GM's PULL message 1) of gm's first
// registration with ks1 at or after t, zero when none.
func registeredAfter(pkts []pcap.Packet, gm netip.Addr, t time.Time) time.Time {
	for _, r := range suitekit.Registrations(pkts, ks1, gm) {
		if !r[0].Time.Before(t) {
			return r[0].Time
		}
	}
	return time.Time{}
}

var _ = Describe("GM removal", Ordered, Label("operations"), suitekit.Checks("RK-60", "RK-61", "RK-62", "FS-40", "FS-41", "FS-42"), suitekit.SlowAt(versionsScale), func() {
	var (
		s               *suitekit.Scenario
		removeAt, nowAt time.Time
		events          []control.Event
	)
	run := func(ctx context.Context, cmd []string) time.Time { return runAt(ctx, s, "ks1", cmd) }
	// wall is protocol time d on the wall clock of the lab.
	wall := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * suitekit.TimerScale(versionsScale))
	}
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.GMRemoval, impl.KeyLog, impl.UnicastRekey, impl.GDOIVersions)
		suitekit.Require(impl.GM, impl.GDOIVersions)
		m := scenario.Default()
		m.Groups[0].TEKLifetime = int(removalTEK / time.Second)
		m.GroupMembers[1].GDOIVersion = removalStaged
		m.TimerScale = suitekit.TimerScale(versionsScale)
		s = suitekit.StartModel(ctx, "gm-removal", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		rc := suitekit.Impl(impl.KS).Caps.GMRemoval
		removeAt = run(ctx, rc.Command)
		s.WaitOnWire(ctx, wall(removalSLT)+5*time.Second, "gm1 registers again after the removal", func(pkts []pcap.Packet) bool {
			return len(pushesAfter(pkts, removeAt)) > 0 && !registeredAfter(pkts, gm1, removeAt).IsZero()
		})
		nowAt = run(ctx, rc.Now)
		s.WaitOnWire(ctx, wall(removalBound)+5*time.Second, "gm1 registers again after the immediate removal", func(pkts []pcap.Packet) bool {
			return len(pushesAfter(pkts, nowAt)) > 0 && !registeredAfter(pkts, gm1, nowAt).IsZero()
		})
		if suitekit.Offers(impl.KS, impl.Events) {
			events = suitekit.Events(ctx, s.Lab, "ks1")
		}
		s.Finish()
	})

	It("sends a transient removal as a PUSH under the current KEK that deletes it, and no TEK (RK-60)", func() {
		push := pushesAfter(s.Pkts, removeAt)[0]
		Expect(push.ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
		Expect(kekDeleted(push)).To(BeTrue(), "a Delete payload for the KEK")
		Expect(deletes(push)).To(BeEmpty(), "a transient removal deletes no TEK: GMs shorten them")
		AddReportEntry("transient removal PUSH", push.Time.Sub(removeAt).String()+" after the command")
	})

	It("has gm1 register again before its shortened TEKs end (TEK_SLT = 180 s of 3600 s TEKs)", func() {
		push := pushesAfter(s.Pkts, removeAt)[0]
		at := registeredAfter(s.Pkts, gm1, removeAt)
		Expect(at).NotTo(BeZero())
		Expect(at.Sub(push.Time)).To(BeNumerically("<", wall(removalSLT)), "re-registration within TEK_SLT of the removal")
		AddReportEntry("re-registration after the removal", (at.Sub(push.Time)*time.Duration(1/suitekit.TimerScale(versionsScale))).String()+" of protocol time")
	})

	It("withholds the removal from a GM whose GDOI version lacks gm-removal, read on the wire, and warns (RK-62)", func() {
		v, ok := mainModeVersion(s.Pkts, gm2, ks1, 3)
		Expect(ok).To(BeTrue())
		Expect(v).To(Equal(removalStaged), "gm2 announces %s in main mode", removalStaged)
		for _, p := range s.Pkts {
			if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPush) && p.Src == ks1 && p.Dst == gm2 && !p.Time.Before(removeAt) && p.Time.Before(nowAt) {
				Fail("ks1 sent gm2 a GROUPKEY-PUSH after the removal command: gm-removal is not among its features")
			}
		}
		if suitekit.Offers(impl.KS, impl.Events) {
			var warned bool
			for _, e := range events {
				warned = warned || (e.Name == "KS_FEATURE_UNSUPPORTED" && strings.Contains(e.Fields["devices"], gm2.String()))
			}
			Expect(warned).To(BeTrue(), "ks1 warns that gm2 cannot support GM-REMOVAL")
		}
	})

	It("deletes every key at once with now, and gm1 registers again within MIN(RLT, 2 % of CLT) = 72 s (RK-61)", func() {
		push := pushesAfter(s.Pkts, nowAt)[0]
		Expect(push.ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
		Expect(kekDeleted(push)).To(BeTrue(), "a Delete payload for the KEK")
		Expect(deletes(push)).NotTo(BeEmpty(), "Delete payloads for the TEKs")
		at := registeredAfter(s.Pkts, gm1, nowAt)
		Expect(at.Sub(push.Time)).To(BeNumerically("<", wall(removalBound)+100*time.Millisecond), "re-registration within the bound")
	})
})
