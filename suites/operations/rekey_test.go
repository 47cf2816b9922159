package operations

import (
	"context"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/control"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// rekeyTEK is the group's TEK lifetime in the triggered-rekey lab: the
// seeds' example, whose TEK_SLT is MAX(90 s, 5 % of 7200 s) = 360 s
// (S0 §3.16.2, RK-51).
const (
	rekeyTEK  = 7200 * time.Second
	rekeySLT  = 360 * time.Second
	rekeyWait = 5 * time.Second // wall: the command to its PUSH on the wire
)

// tekLifetimes are the TEK SPIs a decrypted PULL 2 or PUSH carries, with
// the lifetimes their SATs state.
func tekLifetimes(p pcap.Packet) map[uint32]time.Duration {
	out := map[uint32]time.Duration{}
	if p.ISAKMP == nil || p.ISAKMP.Msg == nil {
		return out
	}
	for _, pl := range p.ISAKMP.Msg.Payloads {
		sa, ok := pl.(*gdoiwire.SA)
		if !ok {
			continue
		}
		for _, sat := range sa.SATs() {
			if sat.ProtocolID != gdoiwire.TEKProtoESP {
				continue
			}
			life, _ := sat.Attributes.Uint(gdoiwire.SALifeDuration)
			out[sat.SPI] = time.Duration(life) * time.Second
		}
	}
	return out
}

// pushesAfter are ks1's GROUPKEY-PUSHes to gm1 sent at or after t, every
// copy: the same bytes go to every GM, so the decoder marks gm1's a
// repeat of gm2's. They are decrypted once Finish has read the key logs.
func pushesAfter(pkts []pcap.Packet, t time.Time) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPush) &&
			p.Src == ks1 && p.Dst == gm1 && !p.Time.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

// runAt runs an operator's command in node and returns when it started.
func runAt(ctx context.Context, s *suitekit.Scenario, node string, cmd []string) time.Time {
	at := time.Now()
	suitekit.Run(ctx, s.Lab, node, cmd)
	return at
}

// deletes are the ESP SPIs the Delete payloads of a decrypted PUSH name.
func deletes(p pcap.Packet) []uint32 {
	var out []uint32
	for _, pl := range p.ISAKMP.Msg.Payloads {
		if d, ok := pl.(*isakmp.Delete); ok && d.SPISize == 4 {
			for _, spi := range d.SPIs {
				out = append(out, uint32(spi[0])<<24|uint32(spi[1])<<16|uint32(spi[2])<<8|uint32(spi[3]))
			}
		}
	}
	return out
}

var _ = Describe("a triggered rekey", Ordered, Label("operations"), suitekit.Checks("RK-51", "FS-43"), suitekit.SlowAt(versionsScale), func() {
	var (
		s                *suitekit.Scenario
		registered       map[uint32]time.Duration
		replaceAt, nowAt time.Time
	)
	run := func(ctx context.Context, cmd []string) time.Time { return runAt(ctx, s, "ks1", cmd) }
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.TriggeredRekey, impl.KeyLog, impl.UnicastRekey)
		m := scenario.Default()
		m.Groups[0].TEKLifetime = int(rekeyTEK / time.Second)
		m.TimerScale = suitekit.TimerScale(versionsScale)
		s = suitekit.StartModel(ctx, "triggered-rekey", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		rc := suitekit.Impl(impl.KS).Caps.TriggeredRekey
		replaceAt = run(ctx, rc.Command)
		s.WaitOnWire(ctx, rekeyWait, "ks1's PUSH after the rekey command", func(pkts []pcap.Packet) bool {
			return len(pushesAfter(pkts, replaceAt)) > 0
		})
		nowAt = run(ctx, rc.ReplaceNow)
		s.WaitOnWire(ctx, rekeyWait, "ks1's PUSH after the replace-now command", func(pkts []pcap.Packet) bool {
			return len(pushesAfter(pkts, nowAt)) > 0
		})
		s.Finish()
		regs := suitekit.Registrations(s.Pkts, ks1, gm1)
		Expect(regs).NotTo(BeEmpty())
		for _, p := range regs[0] {
			for spi, life := range tekLifetimes(p) {
				if registered == nil {
					registered = map[uint32]time.Duration{}
				}
				registered[spi] = life
			}
		}
		Expect(registered).NotTo(BeEmpty(), "the TEKs of gm1's registration (decrypted PULL 2)")
	})

	It("sends new TEKs at once and shortens the old ones to TEK_SLT (policy replace, RK-51)", func() {
		push := pushesAfter(s.Pkts, replaceAt)[0]
		Expect(push.ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
		AddReportEntry("policy-replace PUSH", push.Time.Sub(replaceAt).String()+" after the command")
		teks := tekLifetimes(push)
		var fresh int
		for spi, life := range teks {
			if _, old := registered[spi]; old {
				Expect(life).To(BeNumerically("~", rekeySLT, time.Second), "old TEK %08x shortened to TEK_SLT = 360 s", spi)
				continue
			}
			fresh++
			Expect(life).To(BeNumerically("~", rekeyTEK, 10*time.Second), "new TEK %08x with the full lifetime", spi)
		}
		Expect(fresh).To(BeNumerically(">", 0), "the PUSH carries new TEKs")
		for spi := range registered {
			Expect(teks).To(HaveKey(spi), "the old TEK %08x is still carried, shortened", spi)
		}
		Expect(deletes(push)).To(BeEmpty(), "policy replace deletes nothing")
	})

	It("deletes the old TEKs at once with replace-now: a Delete payload and no old TEK in the PUSH", func() {
		before := tekLifetimes(pushesAfter(s.Pkts, replaceAt)[0])
		push := pushesAfter(s.Pkts, nowAt)[0]
		Expect(push.ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
		teks := tekLifetimes(push)
		del := deletes(push)
		Expect(del).NotTo(BeEmpty(), "a Delete payload")
		for _, spi := range del {
			Expect(before).To(HaveKey(spi), "it deletes TEKs the group held (%08x)", spi)
			Expect(teks).NotTo(HaveKey(spi), "a deleted TEK is not carried too")
		}
		Expect(len(del)).To(Equal(len(before)), "every TEK held before is deleted")
		Expect(teks).NotTo(BeEmpty(), "new TEKs")
	})
})

// With a GM whose GDOI version lacks policy-replace (1.0.1), the key
// server sends a triggered rekey without it: the old TEKs keep their
// lifetimes, and it warns (S0 §3.16.2, RK-51).
var _ = Describe("a triggered rekey toward a GM without policy-replace", Ordered, Label("operations", "versions"), suitekit.Checks("RK-51", "FS-43"), suitekit.SlowAt(versionsScale), func() {
	var (
		s          *suitekit.Scenario
		registered map[uint32]time.Duration
		rekeyAt    time.Time
		events     []control.Event
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.TriggeredRekey, impl.KeyLog, impl.UnicastRekey, impl.GDOIVersions)
		suitekit.Require(impl.GM, impl.GDOIVersions)
		m := scenario.Default()
		m.Groups[0].TEKLifetime = int(rekeyTEK / time.Second)
		m.GroupMembers[1].GDOIVersion = "1.0.1"
		m.TimerScale = suitekit.TimerScale(versionsScale)
		s = suitekit.StartModel(ctx, "rekey-without-policy-replace", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		rekeyAt = runAt(ctx, s, "ks1", suitekit.Impl(impl.KS).Caps.TriggeredRekey.Command)
		s.WaitOnWire(ctx, rekeyWait, "ks1's PUSH after the rekey command", func(pkts []pcap.Packet) bool {
			return len(pushesAfter(pkts, rekeyAt)) > 0
		})
		if suitekit.Offers(impl.KS, impl.Events) {
			events = suitekit.Events(ctx, s.Lab, "ks1")
		}
		s.Finish()
		registered = map[uint32]time.Duration{}
		for _, p := range suitekit.Registrations(s.Pkts, ks1, gm1)[0] {
			for spi, life := range tekLifetimes(p) {
				registered[spi] = life
			}
		}
		Expect(registered).NotTo(BeEmpty(), "the TEKs of gm1's registration (decrypted PULL 2)")
	})

	It("sends new TEKs and leaves the old ones their lifetimes, gm2's version 1.0.1 read from main mode", func() {
		v, _ := mainModeVersion(s.Pkts, gm2, ks1, 3)
		Expect(v).To(Equal("1.0.1"))
		push := pushesAfter(s.Pkts, rekeyAt)[0]
		Expect(push.ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
		teks := tekLifetimes(push)
		for spi := range registered {
			Expect(teks).To(HaveKey(spi), "the old TEK %08x is carried", spi)
			// 7200 s less the minutes of protocol time since the
			// registration: far above policy replace's TEK_SLT, 360 s.
			Expect(teks[spi]).To(BeNumerically(">", 10*rekeySLT), "old TEK %08x not shortened", spi)
		}
		Expect(len(teks)).To(BeNumerically(">", len(registered)), "new TEKs too")
	})

	It("warns that some devices cannot support policy-replace (events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		var warned bool
		for _, e := range events {
			warned = warned || (e.Name == "KS_FEATURE_UNSUPPORTED" && e.Fields["feature"] == "POLICY-REPLACE" && strings.Contains(e.Fields["devices"], gm2.String()))
		}
		Expect(warned).To(BeTrue(), "KS_FEATURE_UNSUPPORTED naming gm2")
	})
})
