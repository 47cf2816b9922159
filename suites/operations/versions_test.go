package operations

import (
	"net/netip"
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

// Addresses of basic.clab.yml.
var (
	ks1 = netip.MustParseAddr("192.0.2.1")
	gm1 = netip.MustParseAddr("192.0.2.11")
	gm2 = netip.MustParseAddr("192.0.2.12")
)

// staged is the GDOI version gm2 is staged at: another major version than
// any GETVPN release's (all are 1.x, S0 Table 3), so that no key server
// may register it (PV-01 rule 1).
const staged = "2.0.0"

// versionsScale runs the lab 10 times faster where both implementations
// scale their timers (nothing here waits on a protocol timer but gm2's
// retries).
const versionsScale = 0.1

// mainModeVersion is the GDOI version the Vendor ID of from's main mode
// message n to to carries ("" when it carries none).
func mainModeVersion(pkts []pcap.Packet, from, to netip.Addr, n int) (string, bool) {
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeMainMode) && p.ISAKMP.Message == n && p.Src == from && p.Dst == to {
			return p.ISAKMP.GDOIVersion, true
		}
	}
	return "", false
}

var _ = Describe("GDOI version negotiation", Ordered, Label("operations", "versions"), suitekit.Checks("PV-01", "PV-03", "KS-44", "FS-52"), suitekit.SlowAt(versionsScale), func() {
	var (
		s        *suitekit.Scenario
		features control.Features
		events   []control.Event
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.GDOIVersions)
		suitekit.Require(impl.GM, impl.GDOIVersions)
		m := scenario.Default()
		m.GroupMembers[1].GDOIVersion = staged
		m.TimerScale = suitekit.TimerScale(versionsScale)
		s = suitekit.StartModel(ctx, "versions", "basic.clab.yml", m, nil)
		// gm2 tries ks1 again after its refusal: wait for the refusal and
		// one more try, and gm1's registration.
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and refuses gm2", func(pkts []pcap.Packet) bool {
			return suitekit.RegisteredAll(ks1, gm1)(pkts) && len(suitekit.Refusals(pkts, ks1, gm2)) > 0
		})
		if suitekit.Offers(impl.KS, impl.Events) {
			var err error
			features, err = suitekit.Control(s.Lab, "ks1").Features(ctx)
			Expect(err).NotTo(HaveOccurred())
			events = suitekit.Events(ctx, s.Lab, "ks1")
		}
		s.Finish()
	})

	It("has every daemon announce its GDOI version in main mode, messages 3 (GM) and 4 (KS), as configured", func() {
		for _, gm := range []struct {
			addr netip.Addr
			want string
		}{{gm1, ""}, {gm2, staged}} {
			v, ok := mainModeVersion(s.Pkts, gm.addr, ks1, 3)
			Expect(ok).To(BeTrue(), "main mode message 3 from %s", gm.addr)
			Expect(v).NotTo(BeEmpty(), "%s's message 3 carries a GDOI version vendor ID", gm.addr)
			if gm.want != "" {
				Expect(v).To(Equal(gm.want), "%s is staged at %s", gm.addr, gm.want)
			}
			kv, ok := mainModeVersion(s.Pkts, ks1, gm.addr, 4)
			Expect(ok).To(BeTrue(), "main mode message 4 to %s", gm.addr)
			Expect(kv).To(HavePrefix("1."), "ks1's message 4 to %s carries a 1.x GDOI version", gm.addr)
		}
		kv, _ := mainModeVersion(s.Pkts, ks1, gm1, 4)
		gv, _ := mainModeVersion(s.Pkts, gm1, ks1, 3)
		AddReportEntry("versions on the wire", "ks1 "+kv+", gm1 "+gv+", gm2 "+staged)
	})

	It("refuses a GM of another major version (PV-01) and never registers it, while it registers the others", func() {
		Expect(suitekit.Registrations(s.Pkts, ks1, gm1)).NotTo(BeEmpty(), "ks1 registers gm1")
		Expect(suitekit.Registrations(s.Pkts, ks1, gm2)).To(BeEmpty(), "ks1 never sends gm2 PULL message 4")
		Expect(suitekit.Refusals(s.Pkts, ks1, gm2)).NotTo(BeEmpty(), "ks1 tells gm2 with a notification")
	})

	It("records the version each GM announced and logs the refusal (KS state and events)", func() {
		suitekit.Require(impl.KS, impl.Events)
		gv, _ := mainModeVersion(s.Pkts, gm1, ks1, 3)
		f := features
		Expect(f.Groups).To(HaveLen(1))
		versions := map[string]string{}
		for _, d := range f.Groups[0].Members {
			versions[d.Address] = d.Version
		}
		Expect(versions).To(HaveKeyWithValue(gm1.String(), gv), "ks1 shows the version gm1 announced on the wire")
		Expect(versions).NotTo(HaveKey(gm2.String()), "gm2 is no member")
		var refused bool
		for _, e := range events {
			refused = refused || (e.Name == "KS_GM_VERSION_MISMATCH" && e.Fields["ip"] == gm2.String())
		}
		Expect(refused).To(BeTrue(), "ks1 logs KS_GM_VERSION_MISMATCH for gm2")
	})
})
