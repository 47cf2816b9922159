package operations

import (
	"bytes"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// clearQuiet is how long the spec watches the wire after the clear for
// anything the KS sends the GMs (wall time; 20 protocol s at the scale).
const clearQuiet = 2 * time.Second

var _ = Describe(`"clear crypto gdoi" on a key server`, Ordered, Label("operations"), suitekit.SlowAt(versionsScale), func() {
	var (
		s                 *suitekit.Scenario
		clearAt           time.Time
		before, kept, reg impl.StatusDoc
		members           []control.Member
		events            []control.Event
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.Clear)
		suitekit.Require(impl.GM, impl.Status)
		m := scenario.Default()
		m.Groups[0].TEKLifetime = int(rekeyTEK / time.Second) // no scheduled rekey while it runs
		m.TimerScale = suitekit.TimerScale(versionsScale)
		s = suitekit.StartModel(ctx, "clear", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		before = suitekit.Status(ctx, s.Lab, "gm1", impl.GM)
		clearAt = time.Now()
		var out, errb bytes.Buffer
		cmd := suitekit.Impl(impl.KS).Caps.Clear.Command
		Expect(s.Lab.Exec(ctx, "ks1", cmd, nil, &out, &errb)).To(Succeed(), "%v on ks1: %s", cmd, errb.String())
		time.Sleep(clearQuiet)
		kept = suitekit.Status(ctx, s.Lab, "gm1", impl.GM)
		if suitekit.Offers(impl.KS, impl.Events) {
			var err error
			members, err = suitekit.Control(s.Lab, "ks1").Members(ctx)
			Expect(err).NotTo(HaveOccurred())
			events = suitekit.Events(ctx, s.Lab, "ks1")
		}
		// gm1 registers again: the KS's policy is a new one.
		restartAt := time.Now()
		Expect(fault.Restart(s.Lab, "gm1")).To(Succeed())
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 again", func(pkts []pcap.Packet) bool {
			for _, r := range suitekit.Registrations(pkts, ks1, gm1) {
				if r[0].Time.After(restartAt) {
					return true
				}
			}
			return false
		})
		reg = suitekit.WaitStatusRegistered(ctx, s.Lab, "gm1", ks1, 10*time.Second)
		s.Finish()
	})

	It("sends the GMs nothing, and they keep their keys (KS-53: out of sync until the TEKs expire)", func() {
		for _, p := range s.Pkts {
			if p.ISAKMP != nil && p.Src == ks1 && p.Time.After(clearAt) && p.Time.Before(clearAt.Add(clearQuiet)) {
				Expect(p.ISAKMP.Type).NotTo(Equal(uint8(isakmp.ExchangeGroupkeyPush)), "a GROUPKEY-PUSH after the clear")
			}
		}
		Expect(kept.KEKSPI).To(Equal(before.KEKSPI), "gm1's KEK after the clear")
		Expect(kept.TEKSPIs).To(Equal(before.TEKSPIs), "gm1's TEKs after the clear")
	})

	It("deletes the policy: a GM that registers again gets new keys", func() {
		Expect(reg.KEKSPI).NotTo(Equal(before.KEKSPI), "the KEK of gm1's new registration")
		for _, spi := range reg.TEKSPIs {
			Expect(before.TEKSPIs).NotTo(ContainElement(spi), "an old TEK in gm1's new registration")
		}
	})

	It("empties the member table and logs KS_CLEAR_REGISTER (KS state and events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		Expect(members).To(BeEmpty(), "ks1's members right after the clear")
		var logged bool
		for _, e := range events {
			logged = logged || e.Name == "KS_CLEAR_REGISTER"
		}
		Expect(logged).To(BeTrue(), "KS_CLEAR_REGISTER")
	})
})
