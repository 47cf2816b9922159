package operations

import (
	"encoding/hex"
	"time"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The old-KS lab (S0 §3.6.6.3, GM-86): a KEK of 600 s from a key server
// staged as one of old, which sends the KEK rekey only at the KEK's
// expiry, at timer scale 0.02; TEKs of 3,600 s so that only the KEK moves
// the GMs.
const (
	oldKSKEK   = 600 * time.Second
	oldKSScale = 0.02
)

// cookieHex is a KEK SPI as the decoder prints a header's cookies.
func cookieHex(spi [16]byte) string { return hex.EncodeToString(spi[:]) }

// kekOfRegistration is the KEK SPI and lifetime a registration's
// decrypted PULL message 2 hands the GM, and when the KS sent it (the
// lifetime counts from then, give or take its rounding up to a whole
// second).
func kekOfRegistration(reg []pcap.Packet) (spi [16]byte, life time.Duration, at time.Time, ok bool) {
	for _, p := range reg {
		if p.Src != ks1 || p.ISAKMP.Msg == nil {
			continue
		}
		for _, pl := range p.ISAKMP.Msg.Payloads {
			if sa, isSA := pl.(*gdoiwire.SA); isSA && sa.SAK() != nil {
				v, _ := sa.SAK().Attributes.Uint(gdoiwire.KEKKeyLifetime)
				return sa.SAK().SPI, time.Duration(v) * time.Second, p.Time, true
			}
		}
	}
	return spi, 0, time.Time{}, false
}

var _ = Describe("a group member with a key server of old (GM-86)", Ordered, Label("operations", "versions"), suitekit.Checks("GM-86", "FS-25"), suitekit.SlowAt(oldKSScale), func() {
	var s *suitekit.Scenario
	// wall is protocol time d on the lab's wall clock.
	wall := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * suitekit.TimerScale(oldKSScale))
	}
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.KEKAtExpiry, impl.KeyLog, impl.UnicastRekey)
		m := scenario.Default()
		m.Groups[0].KEKLifetime = int(oldKSKEK / time.Second)
		m.Groups[0].TEKLifetime = 3600
		m.Groups[0].Rekey.KEKAtExpiry = true
		m.TimerScale = suitekit.TimerScale(oldKSScale)
		s = suitekit.StartModel(ctx, "old-ks", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1", suitekit.RegisteredAll(ks1, gm1))
		s.WaitOnWire(ctx, wall(oldKSKEK+200*time.Second)+5*time.Second, "three registrations of gm1", func(pkts []pcap.Packet) bool {
			return len(suitekit.Registrations(pkts, ks1, gm1)) >= 3
		})
		s.Finish()
	})

	It("has the GM register before the KEK's end, get the same KEK with under 190 s left, and register again within 80 s after its expiry", func() {
		regs := suitekit.Registrations(s.Pkts, ks1, gm1)
		Expect(len(regs)).To(BeNumerically(">=", 3))
		kek1, life1, sent1, ok := kekOfRegistration(regs[0])
		Expect(ok).To(BeTrue(), "the first registration's KEK (decrypted PULL 2)")
		expiry := sent1.Add(wall(life1))
		// Registrations are timed from their start, the GM's PULL 1.
		at1, at2, at3 := regs[0][0].Time, regs[1][0].Time, regs[2][0].Time
		kek2, life2, _, ok := kekOfRegistration(regs[1])
		Expect(ok).To(BeTrue())
		slack := 100 * time.Millisecond
		Expect(at2).To(BeTemporally(">=", expiry.Add(-wall(190*time.Second)-slack)), "the second registration no sooner than 190 s before the expiry")
		Expect(at2).To(BeTemporally("<=", expiry.Add(-wall(40*time.Second)+slack)), "and no later than 40 s before it")
		Expect(kek2).To(Equal(kek1), "the old KS gives the same KEK again")
		Expect(life2).To(BeNumerically("<", 190*time.Second), "with under 190 s left: the GM learns its KS is old")
		kek3, _, _, ok := kekOfRegistration(regs[2])
		Expect(ok).To(BeTrue())
		Expect(at3).To(BeTemporally(">", expiry.Add(-slack)), "the third registration after the KEK's expiry")
		Expect(at3).To(BeTemporally("<=", expiry.Add(wall(80*time.Second)+slack)), "within 80 s of it")
		Expect(kek3).NotTo(Equal(kek1), "and it brings the new KEK")
		AddReportEntry("registrations (protocol s after the first)",
			(at2.Sub(at1)*time.Duration(1/oldKSScale)).Round(time.Second).String()+", "+(at3.Sub(at1)*time.Duration(1/oldKSScale)).Round(time.Second).String())
	})

	It("sends the KEK rekey only at the KEK's expiry, under the old KEK", func() {
		kek1, life1, at1, _ := kekOfRegistration(suitekit.Registrations(s.Pkts, ks1, gm1)[0])
		expiry := at1.Add(wall(life1))
		// The first PUSH under the old KEK that carries a new one (its
		// retransmissions follow, an interval apart).
		var first *pcap.Packet
	pushes:
		for _, p := range pushesAfter(s.Pkts, at1) {
			if p.ISAKMP.ICookie+p.ISAKMP.RCookie != cookieHex(kek1) || p.ISAKMP.Msg == nil {
				continue
			}
			for _, pl := range p.ISAKMP.Msg.Payloads {
				if sa, isSA := pl.(*gdoiwire.SA); isSA && sa.SAK() != nil && sa.SAK().SPI != kek1 {
					first = &p
					break pushes
				}
			}
		}
		found := first != nil
		if found {
			Expect(first.Time).To(BeTemporally(">=", expiry.Add(-100*time.Millisecond)), "the KEK rekey at the expiry, not 200 s ahead")
			Expect(first.Time).To(BeTemporally("<=", expiry.Add(wall(5*time.Second)+200*time.Millisecond)), "at most the KS's 5 s of grace after it")
		}
		Expect(found).To(BeTrue(), "a PUSH under the old KEK carrying a new one")
	})
})
