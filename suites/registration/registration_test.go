// The registration suite: group members authenticate to key servers with
// IKEv1 main mode and register with GROUPKEY-PULL (RFC 6407), and fail,
// retry and fail over as the seeds describe. Every lab is stated in the
// neutral model (harness/scenario) and runs the implementations chosen by
// KS= and GM= (suitekit.Impl). Verdicts come from the wire first: a
// registration is the KS's two PULL messages to the GM in one exchange;
// decrypting them needs a key log, reading state a status command or the
// seeds' events, each declared with suitekit.Require and skipped, naming
// the capability, where the pairing lacks it. Timers run 20 times faster
// where both implementations offer timer-scale, else in protocol time:
// the longest scenario, a failover after four tries 10 s apart, then
// takes 40 s.
package registration

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/control"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// scale is the timer scale of the scenarios that assert timers, where
// both implementations offer timer-scale: protocol seconds run 20 times
// faster, so the seeds' 10 s retry interval is 0.5 s.
const scale = 0.05

// tolerance of a timer measured on the capture (scheduling and the
// exchange's own round trips).
const tolerance = 150 * time.Millisecond

var _ = Describe("registration to one key server", Ordered, Label("registration"), suitekit.Checks("KS-40", "KS-60", "KS-61", "GM-10", "GM-11", "RFC6407-3"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = startModel(ctx, "basic", "basic.clab.yml", scenario.Default(), nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		s.Finish()
	})

	It("authenticates each GM with main mode, then registers it with GROUPKEY-PULL, all on UDP 848", func() {
		for _, gm := range []netip.Addr{gm1, gm2} {
			mm := s.Messages(isakmp.ExchangeMainMode, gm, ks1)
			Expect(mm).To(HaveLen(6), "main mode of %s", gm)
			for i, p := range mm {
				Expect(p.ISAKMP.Message).To(Equal(i+1), "main mode message %d of %s", i+1, gm)
				Expect(p.SrcPort).To(BeEquivalentTo(848))
				Expect(p.DstPort).To(BeEquivalentTo(848))
				from, to := gm, ks1
				if i%2 == 1 {
					from, to = ks1, gm
				}
				Expect(p.Src).To(Equal(from), "main mode message %d", i+1)
				Expect(p.Dst).To(Equal(to))
				Expect(p.ISAKMP.Encrypted).To(Equal(i >= 4), "messages 5 and 6 are encrypted")
			}

			pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm, ks1)
			Expect(pull).To(HaveLen(4), "GROUPKEY-PULL of %s", gm)
			Expect(suitekit.Registrations(s.Pkts, ks1, gm)).To(HaveLen(1), "one registration of %s", gm)
			Expect(pull[0].Time).To(BeTemporally(">", mm[5].Time), "PULL after main mode")
			for i, p := range pull {
				Expect(p.ISAKMP.Message).To(Equal(i + 1))
				Expect(p.Src).To(Equal([]netip.Addr{gm, ks1}[i%2]), "PULL message %d", i+1)
				Expect(p.ISAKMP.Encrypted).To(BeTrue())
				Expect(p.ISAKMP.ICookie).To(Equal(mm[0].ISAKMP.ICookie), "PULL on the main mode's SA")
				Expect(p.ISAKMP.MessageID).To(Equal(pull[0].ISAKMP.MessageID))
				Expect(p.ISAKMP.MessageID).NotTo(BeZero())
			}
			// Message 4 carries the keys (KD: two TEKs of 36 octets, the
			// KEK's 48, the rekey signing key), message 3 a HASH alone.
			Expect(pull[3].Size()).To(BeNumerically(">", pull[2].Size()+200), "PULL 4 carries the keys")
		}
	})

	It("decrypts main mode 5 and 6 and every PULL message with the key log, HASH first", func() {
		suitekit.RequireKeyLog()
		for _, gm := range []netip.Addr{gm1, gm2} {
			mm := s.Messages(isakmp.ExchangeMainMode, gm, ks1)
			Expect(mm).To(HaveLen(6))
			Expect(mm[4].ISAKMP.Decrypted).To(BeTrue(), "message 5 decrypted with the key log: %s", mm[4].ISAKMP.DecryptError)
			Expect(mm[4].ISAKMP.Layout).To(HavePrefix("ID,HASH"))
			Expect(mm[5].ISAKMP.Layout).To(HavePrefix("ID,HASH"))
			pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm, ks1)
			Expect(pull).To(HaveLen(4))
			layouts := []string{"HASH,NONCE,ID", "HASH,NONCE,SA(SAK,SAT,SAT,SAT,SAT,SAT)", "HASH", "HASH,SEQ,KD"}
			for i, p := range pull {
				Expect(p.ISAKMP.Decrypted).To(BeTrue(), "PULL message %d: %s", i+1, p.ISAKMP.DecryptError)
				Expect(p.ISAKMP.Payloads[0]).To(BeEquivalentTo(isakmp.PayloadHash), "HASH first")
				Expect(p.ISAKMP.Layout).To(Equal(layouts[i]), "PULL message %d", i+1)
			}
		}
	})

	It("downloads one KEK, the deny entries, and one TEK per permit entry, as the scenario states", func(ctx SpecContext) {
		suitekit.RequireKeyLog()
		group := s.Model.Groups[0]
		pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1)
		Expect(pull).To(HaveLen(4))
		sa := payload[*gdoiwire.SA](pull[1])
		Expect(sa.DOI).To(Equal(isakmp.DOIGDOI))
		sak := sa.SAK()
		Expect(sak).NotTo(BeNil())
		Expect(attr(sak.Attributes, gdoiwire.KEKAlgorithm)).To(BeEquivalentTo(gdoiwire.KEKAlgAES))
		Expect(attr(sak.Attributes, gdoiwire.SigAlgorithm)).To(BeEquivalentTo(gdoiwire.SigAlgRSA))
		Expect(attr(sak.Attributes, gdoiwire.SigHashAlgorithm)).To(BeEquivalentTo(gdoiwire.SigHashSHA256))
		Expect(attr(sak.Attributes, gdoiwire.KEKKeyLifetime)).To(BeNumerically("~", group.KEKLifetime, 60))
		dst, err := sak.Dst.Addr()
		Expect(err).NotTo(HaveOccurred())
		Expect(dst).To(Equal(gm1), "unicast rekeys go to the GM itself")
		Expect(sak.Dst.Port).To(BeEquivalentTo(848))

		gcm, err := espwire.ParseTransform(group.Transforms[0])
		Expect(err).NotTo(HaveOccurred())
		id, bits, _ := gcm.DOI()
		// The scenario's ACL: the deny entries first, as a GM evaluates
		// them, in a private-use SAT without SA (selectors only), then a
		// TEK per permit entry.
		all := sa.SATs()
		Expect(all).To(HaveLen(len(group.ACL)), "one SAT per ACL entry")
		var denies, permits []scenario.ACE
		for _, e := range group.ACL {
			if e.Action == "deny" {
				denies = append(denies, e)
			} else {
				permits = append(permits, e)
			}
		}
		Expect(denies).To(HaveLen(3))
		for i, w := range denies {
			d := all[i]
			Expect(d.ProtocolID).To(Equal(gdoiwire.TEKProtoBypass), "SAT %d is a deny entry", i+1)
			Expect(d.Protocol).To(Equal(map[string]uint8{"udp": 17, "ospf": 89}[w.Protocol]))
			Expect([]uint16{d.Src.Port, d.Dst.Port}).To(Equal([]uint16{w.SourcePort, w.DestinationPort}))
			Expect(d.SPI).To(BeZero())
		}
		sats := all[len(denies):]
		var tekSPIs []string
		for i, sat := range sats {
			Expect(sat.ProtocolID).To(Equal(gdoiwire.TEKProtoESP))
			Expect(sat.TransformID).To(Equal(id), "first transform of the group")
			Expect(attr(sat.Attributes, gdoiwire.KeyLength)).To(BeEquivalentTo(bits))
			Expect(attr(sat.Attributes, gdoiwire.SALifeDuration)).To(BeNumerically("~", group.TEKLifetime, 60))
			Expect(sat.AddressPreservation()).To(Equal(gdoiwire.AddrPreserveSrcDst))
			src, err := sat.Src.Prefix()
			Expect(err).NotTo(HaveOccurred())
			dst, err := sat.Dst.Prefix()
			Expect(err).NotTo(HaveOccurred())
			Expect([2]string{src.String(), dst.String()}).To(Equal([2]string{permits[i].Source, permits[i].Destination}))
			tekSPIs = append(tekSPIs, hex.EncodeToString(binary.BigEndian.AppendUint32(nil, sat.SPI)))
		}

		kd := payload[*gdoiwire.KD](pull[3])
		for _, sat := range sats {
			kp, ok := kd.Get(gdoiwire.KDTEK, binary.BigEndian.AppendUint32(nil, sat.SPI))
			Expect(ok).To(BeTrue(), "key packet for TEK %#08x", sat.SPI)
			Expect(attrData(kp.Attributes, gdoiwire.TEKAlgorithmKey)).To(HaveLen(36), "AES-256 key and 4-octet salt")
		}
		kek, ok := kd.Get(gdoiwire.KDKEK, sak.SPI[:])
		Expect(ok).To(BeTrue())
		Expect(attrData(kek.Attributes, gdoiwire.KEKAlgorithmKey)).To(HaveLen(16+32), "IV and AES-256 KEK")
		Expect(attrData(kek.Attributes, gdoiwire.SigAlgorithmKey)).NotTo(BeEmpty(), "the rekey signing public key")
		seq := payload[*gdoiwire.SEQ](pull[3])

		// The GM's own word deepens the verdict where it can give it.
		if suitekit.Offers(impl.GM, impl.Status) {
			st := suitekit.Status(ctx, s.Lab, "gm1", impl.GM)
			Expect(st.KEKSPI).To(Equal(hex.EncodeToString(sak.SPI[:])))
			slices.Sort(tekSPIs)
			Expect(st.TEKSPIs).To(Equal(tekSPIs))
			Expect(st.Seq).To(Equal(seq.Seq))
		}
	})

	It("says, through each GM's status command, that it registered with ks1 on the KS's KEK and TEKs", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Status)
		one := suitekit.Status(ctx, s.Lab, "gm1", impl.GM)
		two := suitekit.Status(ctx, s.Lab, "gm2", impl.GM)
		for _, st := range []impl.StatusDoc{one, two} {
			Expect(st.Registered).To(BeTrue())
			Expect(st.KS).To(Equal(ks1.String()))
			Expect(st.TEKSPIs).To(HaveLen(2), "a TEK per permit entry")
			Expect(st.KEKSPI).NotTo(BeEmpty())
		}
		Expect(two.TEKSPIs).To(Equal(one.TEKSPIs))
		Expect(two.KEKSPI).To(Equal(one.KEKSPI))
		if suitekit.Offers(impl.KS, impl.Status) {
			ks := suitekit.Status(ctx, s.Lab, "ks1", impl.KS)
			Expect(ks.KEKSPI).To(Equal(one.KEKSPI))
			Expect(ks.TEKSPIs).To(Equal(one.TEKSPIs))
		}
	})

	It("gives both GMs the same TEK SPIs and keys", func() {
		suitekit.RequireKeyLog()
		// The keys each GM received, from its own decrypted message 4.
		kd1 := payload[*gdoiwire.KD](s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1)[3])
		kd2 := payload[*gdoiwire.KD](s.Messages(isakmp.ExchangeGroupkeyPull, gm2, ks1)[3])
		n := 0
		for _, kp := range kd1.Packets {
			if kp.Type != gdoiwire.KDTEK {
				continue
			}
			other, ok := kd2.Get(gdoiwire.KDTEK, kp.SPI)
			Expect(ok).To(BeTrue())
			Expect(attrData(other.Attributes, gdoiwire.TEKAlgorithmKey)).To(Equal(attrData(kp.Attributes, gdoiwire.TEKAlgorithmKey)))
			n++
		}
		Expect(n).To(Equal(2))
		logged := map[uint32]bool{}
		for _, k := range s.Keys.ESP {
			logged[k.SPI] = true
		}
		Expect(logged).To(HaveLen(2), "the key logs have the two TEKs")
	})

	It("logs the seeds' events in order and lists both GMs on the KS", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Events)
		suitekit.Require(impl.KS, impl.Events)
		for _, node := range []string{"gm1", "gm2"} {
			names := suitekit.EventNames(suitekit.Events(ctx, s.Lab, node))
			Expect(names).To(ContainElements("GM_REGSTER", "GM_REKEY_TRANS_2_UNI", "SA_KEK_UPDATED",
				"SA_TEK_UPDATED", "GM_REGS_COMPL", "GM_INSTALL_POLICIES_SUCCESS"))
			Expect(inOrder(names, "GM_REGSTER", "GM_REKEY_TRANS_2_UNI", "SA_KEK_UPDATED", "SA_TEK_UPDATED",
				"GM_REGS_COMPL", "GM_INSTALL_POLICIES_SUCCESS")).To(BeTrue(), "%s: %v", node, names)
			st := suitekit.GDOI(ctx, s.Lab, node)
			Expect(st.Groups[0].GM.KeyServer).To(Equal(ks1.String()))
			Expect(*st.Groups[0].GM.ReregisterIn).To(BeNumerically("<", 3600-180), "re-registration before TEK expiry")
			Expect(*st.Groups[0].GM.ReregisterIn).To(BeNumerically(">", 3600-252-30))
			Expect(st.Groups[0].ACL).To(HaveExactElements(
				"deny udp 0.0.0.0/0 0.0.0.0/0 eq 848", "deny udp 0.0.0.0/0 eq 500 0.0.0.0/0 eq 500", "deny ospf 0.0.0.0/0 0.0.0.0/0",
				"permit ip 198.51.100.0/24 203.0.113.0/24", "permit ip 203.0.113.0/24 198.51.100.0/24"),
				"the GM shows the downloaded ACL, denies first")
		}
		names := suitekit.EventNames(suitekit.Events(ctx, s.Lab, "ks1"))
		Expect(count(names, "KS_FIRST_GM")).To(Equal(1))
		Expect(count(names, "KS_REGS_COMPL")).To(Equal(2))
		members, err := suitekit.Control(s.Lab, "ks1").Members(ctx)
		Expect(err).NotTo(HaveOccurred())
		var addrs []string
		for _, m := range members {
			addrs = append(addrs, m.Address)
			Expect(m.Group).To(Equal("GETVPN"))
			Expect(m.KeyServer).To(Equal(ks1.String()))
		}
		Expect(addrs).To(ConsistOf(gm1.String(), gm2.String()))
	})

	It("is read the same way by tshark, which decrypts nothing wrongly with the exported keys", func() {
		s.AgreesWithTshark()
	})
})

var _ = Describe("registration with a wrong pre-shared key", Ordered, Label("registration"), suitekit.Checks("KS-61", "GM-14", "GM-21"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		m := twoKS()
		// gm1 has a wrong key for ks1 only; ks1 keeps the right one.
		m.PreSharedKeys = []scenario.PSK{
			{GM: "gm1", KS: "ks1", Key: "gm1-secret", GMKey: "not-the-secret"},
			{GM: "gm1", KS: "ks2", Key: "gm1-secret"},
			{GM: "gm2", Key: "gm2-secret"},
		}
		m.TimerScale = suitekit.TimerScale(scale)
		s = startModel(ctx, "wrong-psk", "basic-2ks.clab.yml", m, nil)
		s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm2 and refuses gm1",
			func(pkts []pcap.Packet) bool {
				return suitekit.RegisteredAll(ks1, gm2)(pkts) && len(suitekit.Refusals(pkts, ks1, gm1)) > 0
			})
		// The failover to ks2 takes 40 protocol seconds: 2 s at scale,
		// 40 s where the pairing cannot scale its timers.
		s.WaitOnWire(ctx, s.Scaled(40*time.Second)+15*time.Second, "ks2 registers gm1", suitekit.RegisteredAll(ks2, gm1))
		s.Finish()
	})

	It("fails phase-1 authentication: ks1 answers gm1 with a notification, never main mode 6 or a PULL, and keeps serving gm2", func() {
		Expect(suitekit.Refusals(s.Pkts, ks1, gm1)).NotTo(BeEmpty(), "ks1 tells gm1")
		for _, p := range s.Messages(isakmp.ExchangeMainMode, gm1, ks1) {
			if p.Src == ks1 {
				Expect(p.ISAKMP.Message).To(BeNumerically("<", 6), "no main mode 6 from ks1 to gm1")
			}
		}
		Expect(suitekit.Registrations(s.Pkts, ks1, gm1)).To(BeEmpty())
		for _, p := range s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1) {
			Expect(p.Src).To(Equal(gm1), "no PULL message from ks1 to gm1")
		}
		Expect(suitekit.Registrations(s.Pkts, ks1, gm2)).To(HaveLen(1), "ks1 keeps serving gm2")
	})

	It("says why in the notification, read with ks1's key log, and in the KS's events", func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.KeyLog)
		ns := s.Notifications(ks1, gm1)
		Expect(ns).NotTo(BeEmpty(), "ks1's notification read with its key log")
		for _, n := range ns {
			Expect(n.MessageType).To(BeElementOf(isakmp.NotifyAuthenticationFailed, isakmp.NotifyPayloadMalformed,
				isakmp.NotifyInvalidHashInformation))
		}
	})

	It("logs the authentication failure on the KS", func(ctx SpecContext) {
		suitekit.Require(impl.KS, impl.Events)
		evs := suitekit.Events(ctx, s.Lab, "ks1")
		Expect(withField(evs, "IKE_AUTH_FAILED", "peer", gm1.String())).NotTo(BeEmpty())
		Expect(withField(evs, "KS_REGS_COMPL", "gm", gm1.String())).To(BeEmpty())
		Expect(withField(evs, "KS_REGS_COMPL", "gm", gm2.String())).NotTo(BeEmpty(), "ks1 keeps serving gm2")
	})

	It("tries ks1 once and three more times 10 s apart, then ks2 40 s after the first try", func(ctx SpecContext) {
		starts := mm1s(s.OnLink("gm1:eth1", isakmp.ExchangeMainMode, gm1, ks1), gm1)
		Expect(starts).To(HaveLen(4), "one try and three retries")
		cookies := map[string]bool{}
		for _, p := range starts {
			cookies[p.ISAKMP.ICookie] = true
		}
		Expect(cookies).To(HaveLen(4), "each retry is a fresh main mode after the failure")
		for _, g := range gaps(starts) {
			Expect(g).To(BeNumerically("~", s.Scaled(10*time.Second), tolerance))
		}
		toKS2 := mm1s(s.OnLink("gm1:eth1", isakmp.ExchangeMainMode, gm1, ks2), gm1)
		Expect(toKS2).NotTo(BeEmpty())
		Expect(toKS2[0].Time.Sub(starts[0].Time)).To(BeNumerically("~", s.Scaled(40*time.Second), tolerance))
		Expect(suitekit.Registrations(s.Pkts, ks2, gm1)).To(HaveLen(1), "ks2 registers gm1")
		if suitekit.Offers(impl.GM, impl.Events) {
			Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).To(ContainElement("GM_CONN_NEXT_SER"))
		}
	})

	It("is read the same way by tshark", func() { s.AgreesWithTshark() })
})

// The failover runs in protocol time where the timers cannot be scaled:
// 40 s, the suite's longest scenario, which the wire alone judges.
var _ = Describe("registration when the first key server is down", Ordered, Label("registration"), suitekit.Checks("GM-20", "GM-21", "FS-27"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		m := twoKS()
		m.TimerScale = suitekit.TimerScale(scale)
		s = startModel(ctx, "first-ks-down", "basic-2ks.clab.yml", m, func(lab *netns.Lab) {
			// ks1 is unreachable on GDOI: everything to its UDP 848 is dropped.
			imp, err := fault.AddDrop(suitekit.NetNS(lab, "ks1"), fault.Match{Iface: "eth1", Dir: fault.Ingress,
				Proto: unix.IPPROTO_UDP, DstPort: 848})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(imp.Remove)
		})
		s.WaitOnWire(ctx, s.Scaled(40*time.Second)+15*time.Second, "ks2 registers gm1 and gm2", suitekit.RegisteredAll(ks2, gm1, gm2))
		s.Finish()
	})

	It("retransmits main mode message 1 to ks1 three times 10 s apart, then registers with ks2", func() {
		for _, gm := range []netip.Addr{gm1, gm2} {
			link := map[netip.Addr]string{gm1: "gm1:eth1", gm2: "gm2:eth1"}[gm]
			sent := mm1s(s.OnLink(link, isakmp.ExchangeMainMode, gm, ks1), gm)
			Expect(sent).To(HaveLen(4), "%s: one message 1 and three retransmissions", gm)
			for _, p := range sent {
				Expect(p.ISAKMP.ICookie).To(Equal(sent[0].ISAKMP.ICookie), "a retransmission is the same message")
			}
			for _, g := range gaps(sent) {
				Expect(g).To(BeNumerically("~", s.Scaled(10*time.Second), tolerance))
			}
			toKS2 := mm1s(s.OnLink(link, isakmp.ExchangeMainMode, gm, ks2), gm)
			Expect(toKS2).NotTo(BeEmpty())
			Expect(toKS2[0].Time.Sub(sent[0].Time)).To(BeNumerically("~", s.Scaled(40*time.Second), tolerance))
			Expect(s.Messages(isakmp.ExchangeMainMode, gm, ks1)).To(HaveLen(1), "ks1 never answered")
			Expect(suitekit.Registrations(s.Pkts, ks2, gm)).To(HaveLen(1), "ks2 registers %s", gm)
		}
	})

	It("logs the move to the next KS on the GM and lists both GMs on ks2", func(ctx SpecContext) {
		suitekit.Require(impl.GM, impl.Events)
		suitekit.Require(impl.KS, impl.Events)
		Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).To(ContainElement("GM_CONN_NEXT_SER"))
		members, err := suitekit.Control(s.Lab, "ks2").Members(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(members).To(HaveLen(2))
	})

	It("says registered with ks2 in each GM's status", func(ctx SpecContext) {
		for _, gm := range []string{"gm1", "gm2"} {
			st := suitekit.Status(ctx, s.Lab, gm, impl.GM)
			Expect(st.Registered).To(BeTrue(), gm)
			Expect(st.KS).To(Equal(ks2.String()), gm)
		}
	})

	It("is read the same way by tshark", func() { s.AgreesWithTshark() })
})

// rejection runs one refused registration of gm1 on basic.clab.yml while
// gm2 registers normally. edit states the refusal in the model.
func rejection(name string, edit func(*scenario.Scenario), notify isakmp.NotifyType, protected bool, ksEvent string) bool {
	return Describe("registration refused: "+name, Ordered, Label("registration"), suitekit.Checks("KS-63", "GM-13", "FS-46"), func() {
		var s *suitekit.Scenario
		BeforeAll(func(ctx SpecContext) {
			m := scenario.Default()
			m.TimerScale = suitekit.TimerScale(scale)
			edit(m)
			s = startModel(ctx, name, "basic.clab.yml", m, nil)
			// Two refusals where the retry is quick (scaled), one in
			// protocol time, where the retry comes 10 s later.
			want := 1
			if m.TimerScale < 1 {
				want = 2
			}
			s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm2 and refuses gm1", func(pkts []pcap.Packet) bool {
				return suitekit.RegisteredAll(ks1, gm2)(pkts) && len(suitekit.Refusals(pkts, ks1, gm1)) >= want
			})
			s.Finish()
		})

		It("is refused with an Informational "+map[bool]string{true: "protected by the phase-1 SA", false: "in clear"}[protected]+", never a PULL message from the KS", func() {
			infos := suitekit.Refusals(s.Pkts, ks1, gm1)
			Expect(infos).NotTo(BeEmpty())
			for _, p := range infos {
				Expect(p.ISAKMP.Encrypted).To(Equal(protected), "protected by the phase-1 SA: %v", protected)
			}
			Expect(suitekit.Registrations(s.Pkts, ks1, gm1)).To(BeEmpty())
			for _, p := range s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1) {
				Expect(p.Src).To(Equal(gm1), "no SA and no keys for gm1: only its own message 1s")
				Expect(p.ISAKMP.Message).To(Equal(1))
			}
			Expect(suitekit.Registrations(s.Pkts, ks1, gm2)).To(HaveLen(1), "ks1 keeps serving gm2")
		})

		It("says "+notify.String()+" in the notification", func() {
			if protected {
				suitekit.RequireKeyLog()
			}
			ns := s.Notifications(ks1, gm1)
			Expect(ns).NotTo(BeEmpty())
			for _, n := range ns {
				Expect(n.MessageType).To(Equal(notify))
			}
			if protected {
				for _, p := range suitekit.Refusals(s.Pkts, ks1, gm1) {
					Expect(p.ISAKMP.Layout).To(Equal("HASH,N"))
				}
			}
		})

		It("leaves gm1 unregistered in its status", func(ctx SpecContext) {
			Expect(suitekit.Status(ctx, s.Lab, "gm1", impl.GM).Registered).To(BeFalse())
			Expect(suitekit.Status(ctx, s.Lab, "gm2", impl.GM).Registered).To(BeTrue())
		})

		It("logs a clear event on both sides and lists gm2 alone on the KS", func(ctx SpecContext) {
			suitekit.Require(impl.GM, impl.Events)
			suitekit.Require(impl.KS, impl.Events)
			Expect(withField(suitekit.Events(ctx, s.Lab, "ks1"), ksEvent, "", "")).NotTo(BeEmpty())
			st := suitekit.GDOI(ctx, s.Lab, "gm1").Groups[0].GM
			Expect(st.State).NotTo(Equal("registered"))
			Expect(st.LastError).To(ContainSubstring(notify.String()))
			Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).NotTo(ContainElement("GM_REGS_COMPL"))
			members, err := suitekit.Control(s.Lab, "ks1").Members(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(members).To(HaveLen(1))
			Expect(members[0].Address).To(Equal(gm2.String()))
		})

		It("is read the same way by tshark", func() { s.AgreesWithTshark() })
	})
}

// gm1 asks for group 9999, which the KS does not serve.
var _ = rejection("unknown group", func(m *scenario.Scenario) {
	m.GroupMembers[0].GroupIDs = map[string]uint32{m.Groups[0].Name: 9999}
}, isakmp.NotifyInvalidIDInformation, true, "KS_BAD_ID")

// The group authorizes gm2's identity only.
var _ = rejection("unauthorized identity", func(m *scenario.Scenario) {
	m.Groups[0].Authorization = []netip.Prefix{netip.MustParsePrefix("192.0.2.12/32")}
}, isakmp.NotifyAuthenticationFailed, true, "UNAUTHORIZED_IPADDR")

// gm1 proposes 3DES-SHA1, which no KS accepts.
var _ = rejection("proposal the KS does not accept", func(m *scenario.Scenario) {
	m.GroupMembers[0].Proposal = &scenario.IKESuite{Encryption: "3des", Hash: "sha1", DHGroup: 14}
}, isakmp.NotifyNoProposalChosen, false, "IKE_AUTH_FAILED")

// payload returns the first payload of type T of a decoded message.
func payload[T isakmp.Payload](p pcap.Packet) T {
	Expect(p.ISAKMP.Msg).NotTo(BeNil(), "frame %d not decoded", p.Index)
	v, ok := isakmp.First[T](p.ISAKMP.Msg)
	Expect(ok).To(BeTrue(), "frame %d has no such payload: %s", p.Index, p.ISAKMP.Layout)
	return v
}

func attr(as isakmp.Attributes, t uint16) uint64 {
	for _, a := range as {
		if a.Type == t {
			v, ok := a.Uint()
			Expect(ok).To(BeTrue())
			return v
		}
	}
	Fail("no attribute " + isakmp.IKEAttrName(t))
	return 0
}

func attrData(as isakmp.Attributes, t uint16) []byte {
	for _, a := range as {
		if a.Type == t {
			return a.Data
		}
	}
	return nil
}

// mm1s are the main mode message 1s (first message, sent by from) among
// ps: retransmissions included.
func mm1s(ps []pcap.Packet, from netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range ps {
		if p.Src == from && p.ISAKMP.Message == 1 {
			out = append(out, p)
		}
	}
	return out
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// inOrder reports whether want appears in names as a subsequence.
func inOrder(names []string, want ...string) bool {
	i := 0
	for _, n := range names {
		if i < len(want) && n == want[i] {
			i++
		}
	}
	return i == len(want)
}

// withField returns the events named name whose field key is value (any
// when key is "").
func withField(evs []control.Event, name, key, value string) []control.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e control.Event) bool {
		return e.Name != name || (key != "" && e.Fields[key] != value)
	})
}
