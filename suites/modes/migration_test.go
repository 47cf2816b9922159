package modes

import (
	"time"

	"github.com/getlab/getlab/gateway/control"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Ports of the migration lab.
const (
	mgAB       = 7500 // host-a -> host-b, all along
	mgBA       = 7501 // host-b -> host-a, all along
	mgSpoof    = 7502 // clear matching traffic injected at gm2 from the WAN
	mgWarmUp   = 7503
	mgInjected = 20
	// mgPhase is how long each step of the migration carries the streams.
	mgPhase = time.Second
)

// teks are the TEK SATs a decrypted GROUPKEY-PULL or -PUSH carries, by
// SPI.
func teks(p pcap.Packet) map[uint32]*gdoiwire.SAT {
	out := map[uint32]*gdoiwire.SAT{}
	if p.ISAKMP == nil || p.ISAKMP.Msg == nil {
		return out
	}
	for _, pl := range p.ISAKMP.Msg.Payloads {
		if sa, ok := pl.(*gdoiwire.SA); ok {
			for _, sat := range sa.SATs() {
				if sat.ProtocolID == gdoiwire.TEKProtoESP {
					out[sat.SPI] = sat
				}
			}
		}
	}
	return out
}

// The seeds' receive-only migration (GM-62, OP-11): the key server's
// group starts receive-only, so both GMs send their sites' traffic in clear
// and accept ESP and clear; the operator drops receive-only from the key
// server's config and reloads it (nothing is sent), then rekeys: the GMs
// encrypt and still accept clear (inbound-optional); at the next rekey
// they are conformant (both): clear matching traffic is dropped. Probe
// streams each way run across every step and lose nothing.
var _ = Describe("the receive-only migration (GM-62, OP-11)", Ordered, Label("modes", "migration"), suitekit.Checks("GM-62", "OP-11"), suitekit.SlowAt(modesScale), func() {
	var (
		s                                 *suitekit.Scenario
		receiveOnly, optional, both       window
		reloadAt, rekey1At                time.Time
		ab, ba                            traffic.Report
		st0a, st0b, stR, st1b, st2b, st2a control.GDOI
		events                            []control.Event
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.SADirection, impl.Reload, impl.TriggeredRekey)
		suitekit.Require(impl.GM, impl.DataPlane, impl.SADirection)
		m := scenario.Default()
		m.Groups[0].ReceiveOnly = true
		m.TimerScale = suitekit.TimerScale(modesScale)
		s = suitekit.StartModel(ctx, "modes-migration", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		routeSites(ctx, s)
		warmUp(ctx, s, mgWarmUp)
		settle(ctx, s, "inbound-only", "ks", "gm1", "gm2")
		if gmState() {
			st0a = suitekit.GDOI(ctx, s.Lab, "gm1")
			st0b = suitekit.GDOI(ctx, s.Lab, "gm2")
		}
		abs := startStream(ctx, s, "host-a", "host-b", hostA, hostB, mgAB, 0)
		bas := startStream(ctx, s, "host-b", "host-a", hostB, hostA, mgBA, 0)
		receiveOnly.open()
		time.Sleep(mgPhase)
		receiveOnly.close()

		// "no sa receive-only" in the KS's config, reread.
		m2 := *m
		m2.Groups = append([]scenario.Group(nil), m.Groups...)
		m2.Groups[0].ReceiveOnly = false
		suitekit.RewriteConfig(s.Lab, "ks1", impl.KS, &m2)
		reloadAt = time.Now()
		suitekit.Run(ctx, s.Lab, "ks1", suitekit.Impl(impl.KS).Caps.Reload.Command)
		time.Sleep(mgPhase / 2)
		if gmState() {
			stR = suitekit.GDOI(ctx, s.Lab, "gm1")
		}

		rekey1At = triggerRekey(ctx, s, "inbound-optional")
		optional.open()
		injectClear(ctx, s, hostA, hostB, mgSpoof, mgInjected, "clear-to-optional")
		time.Sleep(mgPhase)
		optional.close()
		if gmState() {
			st1b = suitekit.GDOI(ctx, s.Lab, "gm2")
		}

		triggerRekey(ctx, s, "both")
		both.open()
		injectClear(ctx, s, hostA, hostB, mgSpoof, mgInjected, "clear-to-both")
		time.Sleep(mgPhase)
		both.close()
		var err error
		ab, err = abs.Stop()
		Expect(err).NotTo(HaveOccurred())
		ba, err = bas.Stop()
		Expect(err).NotTo(HaveOccurred())
		if gmState() {
			st2a = suitekit.GDOI(ctx, s.Lab, "gm1")
			st2b = suitekit.GDOI(ctx, s.Lab, "gm2")
			events = suitekit.Events(ctx, s.Lab, "gm2")
		}
		s.Finish()
	})

	It("loses no probe across the migration, either way", func() {
		for _, r := range []traffic.Report{ab, ba} {
			Expect(r.Sent).To(BeNumerically(">", 3*probeRate*int(mgPhase/time.Second)), "%s", r)
			Expect(r.Received).To(Equal(r.Sent), "%s", r)
			Expect(r.Duplicated).To(BeZero(), "%s", r)
		}
		AddReportEntry("streams", ab.String()+"\n"+ba.String())
	})

	It("has the GMs send matching traffic in clear under receive-only", func() {
		s.Complete("gm1:eth1", "gm2:eth1")
		Expect(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, receiveOnly)).To(BeEmpty(), "ESP from gm1")
		Expect(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, receiveOnly)).To(BeEmpty(), "ESP from gm2")
		Expect(len(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, mgAB, receiveOnly))).To(BeNumerically(">=", probeRate/2), "clear probes from gm1")
		Expect(len(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, mgBA, receiveOnly))).To(BeNumerically(">=", probeRate/2), "clear probes from gm2")
	})

	It("sends nothing on the reload: the change waits for a rekey", func() {
		Expect(fromKS(s.Pkts, window{reloadAt, rekey1At})).To(BeEmpty(), "ks1's ISAKMP between the reload and the rekey")
	})

	It("has the GMs encrypt after the reload and a rekey, and still accept clear (inbound-optional)", func() {
		s.Complete("gm1:eth1", "gm2:eth1", "gm2:eth2")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, mgAB, optional)).To(BeEmpty(), "clear probes from gm1")
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, mgBA, optional)).To(BeEmpty(), "clear probes from gm2")
		Expect(len(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, optional))).To(BeNumerically(">=", probeRate/2), "ESP from gm1")
		Expect(len(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, optional))).To(BeNumerically(">=", probeRate/2), "ESP from gm2")
		Expect(marked(s.Pkts, "gm2:eth1", mgSpoof, "clear-to-optional")).To(HaveLen(mgInjected), "clear matching packets at gm2's WAN side")
		Expect(marked(s.Pkts, "gm2:eth2", mgSpoof, "clear-to-optional")).To(HaveLen(mgInjected), "accepted: forwarded to host-b")
	})

	It("has the GMs conformant after the next rekey (both): ESP out, clear matching traffic dropped", func() {
		s.Complete("gm1:eth1", "gm2:eth1", "gm2:eth2")
		Expect(clearUDP(s.Pkts, "gm1:eth1", hostA, hostB, mgAB, both)).To(BeEmpty())
		Expect(clearUDP(s.Pkts, "gm2:eth1", hostB, hostA, mgBA, both)).To(BeEmpty())
		Expect(len(espFrames(s.Pkts, "gm1:eth1", hostA, hostB, both))).To(BeNumerically(">=", probeRate/2))
		Expect(len(espFrames(s.Pkts, "gm2:eth1", hostB, hostA, both))).To(BeNumerically(">=", probeRate/2))
		Expect(marked(s.Pkts, "gm2:eth1", mgSpoof, "clear-to-both")).To(HaveLen(mgInjected), "clear matching packets at gm2's WAN side")
		Expect(marked(s.Pkts, "gm2:eth2", mgSpoof, "clear-to-both")).To(BeEmpty(), "dropped: none forwarded to host-b")
	})

	It("hands out receiver-only TEKs (SA_DIRECTION 2) at registration, and symmetric ones in the first rekey after the reload (key log)", func() {
		suitekit.RequireKeyLog()
		regs := suitekit.Registrations(s.Pkts, ks1, gm1)
		Expect(regs).NotTo(BeEmpty())
		registered := map[uint32]bool{}
		for _, p := range regs[0] {
			for spi, sat := range teks(p) {
				registered[spi] = true
				Expect(sat.Direction()).To(Equal(gdoiwire.SADirReceiverOnly), "TEK %08x of gm1's registration", spi)
			}
		}
		Expect(registered).NotTo(BeEmpty(), "the TEKs of gm1's registration (decrypted PULL)")
		// The second rekey's PUSH carries three generations of TEKs and
		// crosses the WAN in IP fragments, which the decoder does not
		// reassemble: the first one is read.
		for _, at := range []time.Time{rekey1At} {
			ps := pushes(s.Pkts, gm1, at)
			Expect(ps).NotTo(BeEmpty())
			Expect(ps[0].ISAKMP.Decrypted).To(BeTrue(), "the PUSH decrypts with ks1's key log")
			fresh := 0
			for spi, sat := range teks(ps[0]) {
				if registered[spi] {
					continue
				}
				fresh++
				Expect(sat.Direction()).To(Equal(gdoiwire.SADirSymmetric), "new TEK %08x after the reload", spi)
			}
			Expect(fresh).To(BeNumerically(">", 0), "new TEKs in the PUSH")
		}
	})

	It("shows inbound-only, inbound-optional and both, set by the key server, with its events and counters (GM state)", func() {
		suitekit.Require(impl.GM, impl.Events)
		Expect(direction(st0a)).To(Equal("inbound-only/ks"), "gm1 under receive-only")
		Expect(direction(st0b)).To(Equal("inbound-only/ks"), "gm2 under receive-only")
		Expect(direction(stR)).To(Equal("inbound-only/ks"), "gm1 after the reload, before the rekey")
		Expect(direction(st1b)).To(Equal("inbound-optional/ks"), "gm2 after the first rekey")
		Expect(direction(st2a)).To(Equal("both/ks"), "gm1 after the second rekey")
		Expect(direction(st2b)).To(Equal("both/ks"), "gm2 after the second rekey")
		Expect(counter(st1b, "in_clear_optional") - counter(st0b, "in_clear_optional")).To(BeNumerically(">=", mgInjected))
		Expect(counter(st2b, "in_drop_clear_permit") - counter(st1b, "in_drop_clear_permit")).To(BeNumerically(">=", mgInjected))
		Expect(counter(st2a, "out_clear_inbound_only")).To(BeNumerically(">", 0))
		Expect(suitekit.EventNames(events)).To(ContainElements("GM_SA_INGRESS", "GM_CONV_SA_DUPLEX"))
	})
})
