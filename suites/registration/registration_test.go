// The registration suite: getvpnd group members authenticate to key
// servers with IKEv1 main mode and register with GROUPKEY-PULL (RFC 6407),
// and fail, retry and fail over as the seeds describe. Every verdict comes
// from the decoded capture (decrypted with the daemons' key logs) and from
// the daemons' control sockets.
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
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// scale is the time scale of the scenarios that assert timers: protocol
// seconds run 20 times faster, so the seeds' 10 s retry interval is 0.5 s.
const scale = 0.05

// scaled is a protocol duration in wall-clock time at scale.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }

// tolerance of a timer measured on the capture (scheduling and the
// exchange's own round trips).
const tolerance = 150 * time.Millisecond

var _ = Describe("registration to one key server", Ordered, Label("registration"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = startScenario(ctx, "basic", "basic.clab.yml", nil)
		suitekit.WaitRegistered(ctx, s.Lab, "gm1", 20*time.Second)
		suitekit.WaitRegistered(ctx, s.Lab, "gm2", 20*time.Second)
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
			Expect(mm[4].ISAKMP.Decrypted).To(BeTrue(), "message 5 decrypted with the key log: %s", mm[4].ISAKMP.DecryptError)
			Expect(mm[4].ISAKMP.Layout).To(HavePrefix("ID,HASH"))
			Expect(mm[5].ISAKMP.Layout).To(HavePrefix("ID,HASH"))

			pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm, ks1)
			Expect(pull).To(HaveLen(4), "GROUPKEY-PULL of %s", gm)
			Expect(pull[0].Time).To(BeTemporally(">", mm[5].Time), "PULL after main mode")
			layouts := []string{"HASH,NONCE,ID", "HASH,NONCE,SA(SAK,SAT,SAT,SAT,SAT,SAT)", "HASH", "HASH,SEQ,KD"}
			for i, p := range pull {
				Expect(p.ISAKMP.Message).To(Equal(i + 1))
				Expect(p.ISAKMP.Encrypted).To(BeTrue())
				Expect(p.ISAKMP.Decrypted).To(BeTrue(), "PULL message %d: %s", i+1, p.ISAKMP.DecryptError)
				Expect(p.ISAKMP.Payloads[0]).To(BeEquivalentTo(isakmp.PayloadHash), "HASH first")
				Expect(p.ISAKMP.Layout).To(Equal(layouts[i]), "PULL message %d", i+1)
				Expect(p.ISAKMP.ICookie).To(Equal(mm[0].ISAKMP.ICookie), "PULL on the main mode's SA")
				Expect(p.ISAKMP.MessageID).To(Equal(pull[0].ISAKMP.MessageID))
				Expect(p.ISAKMP.MessageID).NotTo(BeZero())
			}
			Expect(pull[0].Src).To(Equal(gm))
			Expect(pull[1].Src).To(Equal(ks1))
		}
	})

	It("downloads one KEK, the deny entries, and one TEK per permit entry, as the KS is configured", func(ctx SpecContext) {
		ks := suitekit.GDOI(ctx, s.Lab, "ks1")
		Expect(ks.Groups).To(HaveLen(1))
		group := ks.Groups[0]
		Expect(group.Name).To(Equal("GETVPN"))
		Expect(group.TEKs).To(HaveLen(2), "two permit entries in configs/ks1.yaml")

		pull := s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1)
		sa := payload[*gdoiwire.SA](pull[1])
		Expect(sa.DOI).To(Equal(isakmp.DOIGDOI))
		sak := sa.SAK()
		Expect(sak).NotTo(BeNil())
		Expect(hex.EncodeToString(sak.SPI[:])).To(Equal(group.KEK.SPI))
		Expect(attr(sak.Attributes, gdoiwire.KEKAlgorithm)).To(BeEquivalentTo(gdoiwire.KEKAlgAES))
		Expect(attr(sak.Attributes, gdoiwire.SigAlgorithm)).To(BeEquivalentTo(gdoiwire.SigAlgRSA))
		Expect(attr(sak.Attributes, gdoiwire.SigHashAlgorithm)).To(BeEquivalentTo(gdoiwire.SigHashSHA256))
		Expect(attr(sak.Attributes, gdoiwire.KEKKeyLifetime)).To(BeNumerically("~", 86400, 60))
		dst, err := sak.Dst.Addr()
		Expect(err).NotTo(HaveOccurred())
		Expect(dst).To(Equal(gm1), "unicast rekeys go to the GM itself")
		Expect(sak.Dst.Port).To(BeEquivalentTo(848))

		gcm, err := espwire.ParseTransform("aes256gcm16")
		Expect(err).NotTo(HaveOccurred())
		id, bits, _ := gcm.DOI()
		wantSel := [][2]string{{"198.51.100.0/24", "203.0.113.0/24"}, {"203.0.113.0/24", "198.51.100.0/24"}}
		all := sa.SATs()
		Expect(all).To(HaveLen(5), "3 deny entries, then 2 permit entries")
		// The deny entries come first, as a GM evaluates them, in a
		// private-use SAT without SA (selectors only).
		wantDeny := []struct {
			proto            uint8
			srcPort, dstPort uint16
		}{{17, 0, 848}, {17, 500, 500}, {89, 0, 0}}
		for i, w := range wantDeny {
			d := all[i]
			Expect(d.ProtocolID).To(Equal(gdoiwire.TEKProtoBypass), "SAT %d is a deny entry", i+1)
			Expect(d.Protocol).To(Equal(w.proto))
			Expect([]uint16{d.Src.Port, d.Dst.Port}).To(Equal([]uint16{w.srcPort, w.dstPort}))
			Expect(d.SPI).To(BeZero())
		}
		Expect(group.ACL).To(HaveLen(5))
		gmView := suitekit.GDOI(ctx, s.Lab, "gm1").Groups[0]
		Expect(gmView.ACL).To(HaveExactElements(
			"deny udp 0.0.0.0/0 0.0.0.0/0 eq 848", "deny udp 0.0.0.0/0 eq 500 0.0.0.0/0 eq 500", "deny ospf 0.0.0.0/0 0.0.0.0/0",
			"permit ip 198.51.100.0/24 203.0.113.0/24", "permit ip 203.0.113.0/24 198.51.100.0/24"),
			"the GM shows the downloaded ACL, denies first")
		sats := all[3:]
		for i, sat := range sats {
			Expect(sat.ProtocolID).To(Equal(gdoiwire.TEKProtoESP))
			Expect(sat.TransformID).To(Equal(id), "first transform of the group: aes256gcm16")
			Expect(attr(sat.Attributes, gdoiwire.KeyLength)).To(BeEquivalentTo(bits))
			Expect(attr(sat.Attributes, gdoiwire.SALifeDuration)).To(BeNumerically("~", 3600, 60))
			Expect(sat.AddressPreservation()).To(Equal(gdoiwire.AddrPreserveSrcDst))
			Expect(fmtSPI(sat.SPI)).To(Equal(group.TEKs[i].SPI))
			src, err := sat.Src.Prefix()
			Expect(err).NotTo(HaveOccurred())
			dst, err := sat.Dst.Prefix()
			Expect(err).NotTo(HaveOccurred())
			Expect([2]string{src.String(), dst.String()}).To(Equal(wantSel[i]))
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
		Expect(seq.Seq).To(BeEquivalentTo(group.KEK.Seq))
	})

	It("gives both GMs the same TEK SPIs and keys", func(ctx SpecContext) {
		one := suitekit.GDOI(ctx, s.Lab, "gm1").Groups[0]
		two := suitekit.GDOI(ctx, s.Lab, "gm2").Groups[0]
		ks := suitekit.GDOI(ctx, s.Lab, "ks1").Groups[0]
		Expect(spis(one.TEKs)).To(Equal(spis(ks.TEKs)))
		Expect(spis(two.TEKs)).To(Equal(spis(ks.TEKs)))
		Expect(one.KEK.SPI).To(Equal(ks.KEK.SPI))
		Expect(two.KEK.SPI).To(Equal(ks.KEK.SPI))

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

var _ = Describe("registration with a wrong pre-shared key", Ordered, Label("registration"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = startScenario(ctx, "wrong-psk", "basic-2ks.clab.yml", nil, suitekit.Scale(scale),
			suitekit.EditConfig("gm1-2ks.yaml", func(cfg map[string]any) {
				cfg["ike"].(map[string]any)["pre_shared_keys"] = []any{
					map[string]any{"peer": "192.0.2.1", "key": "not-the-secret"},
					map[string]any{"peer": "192.0.2.2", "key": "gm1-secret"},
				}
			}))
		st := suitekit.WaitRegistered(ctx, s.Lab, "gm1", 30*time.Second)
		Expect(st.Groups[0].GM.KeyServer).To(Equal(ks2.String()))
		suitekit.WaitRegistered(ctx, s.Lab, "gm2", 5*time.Second)
		s.Finish()
	})

	It("fails phase-1 authentication with a notification on the wire, and the KS logs it", func(ctx SpecContext) {
		ns := s.Notifications(ks1, gm1)
		Expect(ns).NotTo(BeEmpty(), "ks1 tells gm1 why")
		for _, n := range ns {
			Expect(n.MessageType).To(BeElementOf(isakmp.NotifyAuthenticationFailed, isakmp.NotifyPayloadMalformed,
				isakmp.NotifyInvalidHashInformation))
		}
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
			Expect(g).To(BeNumerically("~", scaled(10*time.Second), tolerance))
		}
		toKS2 := mm1s(s.OnLink("gm1:eth1", isakmp.ExchangeMainMode, gm1, ks2), gm1)
		Expect(toKS2).NotTo(BeEmpty())
		Expect(toKS2[0].Time.Sub(starts[0].Time)).To(BeNumerically("~", scaled(40*time.Second), tolerance))
		Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).To(ContainElement("GM_CONN_NEXT_SER"))
		Expect(s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks2)).To(HaveLen(4))
	})

	It("is read the same way by tshark", func() { s.AgreesWithTshark() })
})

var _ = Describe("registration when the first key server is down", Ordered, Label("registration"), func() {
	var s *suitekit.Scenario
	BeforeAll(func(ctx SpecContext) {
		s = startScenario(ctx, "first-ks-down", "basic-2ks.clab.yml", func(lab *netns.Lab) {
			// ks1 is unreachable on GDOI: everything to its UDP 848 is dropped.
			imp, err := fault.AddDrop(suitekit.NetNS(lab, "ks1"), fault.Match{Iface: "eth1", Dir: fault.Ingress,
				Proto: unix.IPPROTO_UDP, DstPort: 848})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(imp.Remove)
		}, suitekit.Scale(scale))
		for _, gm := range []string{"gm1", "gm2"} {
			st := suitekit.WaitRegistered(ctx, s.Lab, gm, 30*time.Second)
			Expect(st.Groups[0].GM.KeyServer).To(Equal(ks2.String()), gm)
		}
		s.Finish()
	})

	It("retransmits main mode message 1 to ks1 three times 10 s apart, then registers with ks2", func(ctx SpecContext) {
		for _, gm := range []netip.Addr{gm1, gm2} {
			link := map[netip.Addr]string{gm1: "gm1:eth1", gm2: "gm2:eth1"}[gm]
			sent := mm1s(s.OnLink(link, isakmp.ExchangeMainMode, gm, ks1), gm)
			Expect(sent).To(HaveLen(4), "%s: one message 1 and three retransmissions", gm)
			for _, p := range sent {
				Expect(p.ISAKMP.ICookie).To(Equal(sent[0].ISAKMP.ICookie), "a retransmission is the same message")
			}
			for _, g := range gaps(sent) {
				Expect(g).To(BeNumerically("~", scaled(10*time.Second), tolerance))
			}
			toKS2 := mm1s(s.OnLink(link, isakmp.ExchangeMainMode, gm, ks2), gm)
			Expect(toKS2).NotTo(BeEmpty())
			Expect(toKS2[0].Time.Sub(sent[0].Time)).To(BeNumerically("~", scaled(40*time.Second), tolerance))
			Expect(s.Messages(isakmp.ExchangeMainMode, gm, ks1)).To(HaveLen(1), "ks1 never answered")
			Expect(s.Messages(isakmp.ExchangeGroupkeyPull, gm, ks2)).To(HaveLen(4))
		}
		Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).To(ContainElement("GM_CONN_NEXT_SER"))
		members, err := suitekit.Control(s.Lab, "ks2").Members(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(members).To(HaveLen(2))
	})

	It("is read the same way by tshark", func() { s.AgreesWithTshark() })
})

// rejection runs one refused registration of gm1 on basic.clab.yml while
// gm2 registers normally.
func rejection(name string, edit suitekit.Edit, notify isakmp.NotifyType, protected bool, ksEvent string) bool {
	return Describe("registration refused: "+name, Ordered, Label("registration"), func() {
		var s *suitekit.Scenario
		BeforeAll(func(ctx SpecContext) {
			s = startScenario(ctx, name, "basic.clab.yml", nil, suitekit.Scale(scale), edit)
			suitekit.WaitRegistered(ctx, s.Lab, "gm2", 20*time.Second)
			Eventually(func(g Gomega) {
				evs, err := suitekit.Control(s.Lab, "gm1").Events(ctx, 0, 0)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(withField(evs, "REG_FAILED", "ks", ks1.String())).To(HaveLen(2))
			}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
			s.Finish()
		})

		It("is refused with "+notify.String()+" on the wire and a clear event on both sides", func(ctx SpecContext) {
			ns := s.Notifications(ks1, gm1)
			Expect(ns).NotTo(BeEmpty())
			for _, n := range ns {
				Expect(n.MessageType).To(Equal(notify))
			}
			infos := s.Messages(isakmp.ExchangeInformational, ks1, gm1)
			for _, p := range infos {
				Expect(p.ISAKMP.Encrypted).To(Equal(protected), "protected by the phase-1 SA: %v", protected)
				if protected {
					Expect(p.ISAKMP.Layout).To(Equal("HASH,N"))
				}
			}
			Expect(withField(suitekit.Events(ctx, s.Lab, "ks1"), ksEvent, "", "")).NotTo(BeEmpty())
			st := suitekit.GDOI(ctx, s.Lab, "gm1").Groups[0].GM
			Expect(st.State).NotTo(Equal("registered"))
			Expect(st.LastError).To(ContainSubstring(notify.String()))
			Expect(suitekit.EventNames(suitekit.Events(ctx, s.Lab, "gm1"))).NotTo(ContainElement("GM_REGS_COMPL"))
			for _, p := range s.Messages(isakmp.ExchangeGroupkeyPull, gm1, ks1) {
				Expect(p.Src).To(Equal(gm1), "no SA and no keys for gm1: only its own message 1s")
				Expect(p.ISAKMP.Message).To(Equal(1))
			}
		})

		It("keeps serving the other GMs", func(ctx SpecContext) {
			members, err := suitekit.Control(s.Lab, "ks1").Members(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(members).To(HaveLen(1))
			Expect(members[0].Address).To(Equal(gm2.String()))
			Expect(s.Messages(isakmp.ExchangeGroupkeyPull, gm2, ks1)).To(HaveLen(4))
		})

		It("is read the same way by tshark", func() { s.AgreesWithTshark() })
	})
}

var _ = rejection("unknown group", suitekit.EditConfig("gm1.yaml", func(cfg map[string]any) {
	cfg["groups"].([]any)[0].(map[string]any)["id"] = 9999
}), isakmp.NotifyInvalidIDInformation, true, "KS_BAD_ID")

var _ = rejection("unauthorized identity", suitekit.EditConfig("ks1.yaml", func(cfg map[string]any) {
	cfg["groups"].([]any)[0].(map[string]any)["authorization"] = []any{"192.0.2.12"}
}), isakmp.NotifyAuthenticationFailed, true, "UNAUTHORIZED_IPADDR")

var _ = rejection("proposal the KS does not accept", suitekit.EditConfig("gm1.yaml", func(cfg map[string]any) {
	cfg["ike"].(map[string]any)["policies"] = []any{
		map[string]any{"encryption": "3des", "hash": "sha1", "dh_group": 14, "lifetime": 1200},
	}
}), isakmp.NotifyNoProposalChosen, false, "IKE_AUTH_FAILED")

// payload returns the first payload of type T of a decoded message.
func payload[T isakmp.Payload](p pcap.Packet) T {
	Expect(p.ISAKMP.Msg).NotTo(BeNil(), "frame %d not decoded", p.Index)
	for _, pl := range p.ISAKMP.Msg.Payloads {
		if v, ok := pl.(T); ok {
			return v
		}
	}
	var zero T
	Fail("frame has no such payload: " + p.ISAKMP.Layout)
	return zero
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

func fmtSPI(spi uint32) string {
	return "0x" + hex.EncodeToString(binary.BigEndian.AppendUint32(nil, spi))
}

func spis(teks []control.TEK) []string {
	var out []string
	for _, t := range teks {
		out = append(out, t.SPI)
	}
	return out
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
