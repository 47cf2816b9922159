// Package match holds Gomega matchers for decoded captures, so a spec says
// what it expects on the wire in its own words:
//
//	Expect(pkts).To(ContainElement(And(
//		match.Exchange(isakmp.ExchangeGroupkeyPull, 1),
//		match.From(gm1), match.To(ks1),
//		match.FirstPayload(isakmp.PayloadHash))))
//	Expect(esp).To(HaveEach(match.PreservesAddresses()))
//
// Each matcher takes a pcap.Packet (or *pcap.Packet) and fails with a
// message that shows the packet's one-line summary.
package match

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap"
	"github.com/onsi/gomega/types"
)

func packet(actual any) (*pcap.Packet, error) {
	switch p := actual.(type) {
	case pcap.Packet:
		return &p, nil
	case *pcap.Packet:
		return p, nil
	}
	return nil, fmt.Errorf("match: expected a pcap.Packet, got %T", actual)
}

// packetMatcher is a Gomega matcher over one packet whose failure message
// shows the packet's summary line rather than the whole struct.
type packetMatcher struct {
	desc string
	fn   func(p *pcap.Packet) bool
}

func matcher(desc string, fn func(p *pcap.Packet) bool) types.GomegaMatcher {
	return packetMatcher{desc: desc, fn: fn}
}

func (m packetMatcher) Match(actual any) (bool, error) {
	p, err := packet(actual)
	if err != nil {
		return false, err
	}
	return m.fn(p), nil
}

func (m packetMatcher) FailureMessage(actual any) string { return m.message(actual, "to") }

func (m packetMatcher) NegatedFailureMessage(actual any) string { return m.message(actual, "not to") }

func (m packetMatcher) message(actual any, to string) string {
	p, err := packet(actual)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("Expected packet\n\t%s\n%s %s", p.String(), to, m.desc)
}

// Exchange matches an ISAKMP message of exchange x at position msg in its
// exchange (0: any position).
func Exchange(x isakmp.ExchangeType, msg int) types.GomegaMatcher {
	desc := fmt.Sprintf("be %s", x)
	if msg > 0 {
		desc += fmt.Sprintf(" message %d", msg)
	}
	return matcher(desc, func(p *pcap.Packet) bool {
		return p.ISAKMP != nil && p.ISAKMP.Type == uint8(x) && (msg == 0 || p.ISAKMP.Message == msg)
	})
}

// FirstPayload matches an ISAKMP message (decrypted or clear) whose first
// payload has type t — "HASH first" for every GROUPKEY-PULL message.
func FirstPayload(t isakmp.PayloadType) types.GomegaMatcher {
	return matcher("have "+t.String()+" as its first payload", func(p *pcap.Packet) bool {
		return p.ISAKMP != nil && len(p.ISAKMP.Payloads) > 0 && p.ISAKMP.Payloads[0] == uint8(t)
	})
}

// Layout matches an ISAKMP message whose payload layout is exactly s, as
// isakmp.Layout writes it ("HASH,NONCE,SA(SAK,GAP,SAT)").
func Layout(s string) types.GomegaMatcher {
	return matcher("have the payload layout "+s, func(p *pcap.Packet) bool {
		return p.ISAKMP != nil && p.ISAKMP.Layout == s
	})
}

// From matches a packet whose (outer) source address is a.
func From(a netip.Addr) types.GomegaMatcher {
	return matcher("come from "+a.String(), func(p *pcap.Packet) bool { return p.Src == a })
}

// To matches a packet whose (outer) destination address is a.
func To(a netip.Addr) types.GomegaMatcher {
	return matcher("go to "+a.String(), func(p *pcap.Packet) bool { return p.Dst == a })
}

// OnLink matches a packet captured on the named link end ("gm1:eth1").
func OnLink(name string) types.GomegaMatcher {
	return matcher("be seen on "+name, func(p *pcap.Packet) bool { return p.Link == name })
}

// ESP matches an ESP packet with the given SPI (0: any SPI).
func ESP(spi uint32) types.GomegaMatcher {
	desc := "be ESP"
	if spi != 0 {
		desc += fmt.Sprintf(" with SPI 0x%08x", spi)
	}
	return matcher(desc, func(p *pcap.Packet) bool { return p.ESP != nil && (spi == 0 || p.ESP.SPI == spi) })
}

// PreservesAddresses matches a decrypted tunnel-mode ESP packet whose
// outer source and destination equal its inner ones: GETVPN's header
// preservation (RFC 6407 ADDRESS_PRESERVATION source-and-destination).
func PreservesAddresses() types.GomegaMatcher {
	return matcher("be decrypted ESP whose outer addresses equal its inner addresses", func(p *pcap.Packet) bool {
		e := p.ESP
		return e != nil && e.Decrypted && e.InnerSrc.IsValid() && e.InnerSrc == p.Src && e.InnerDst == p.Dst
	})
}

// Clean matches a packet that decoded without complaint: not malformed and,
// where keys were given, not failing to decrypt.
func Clean() types.GomegaMatcher {
	return matcher("decode cleanly", func(p *pcap.Packet) bool {
		if p.Malformed != "" {
			return false
		}
		if p.ESP != nil && p.ESP.DecryptError != "" {
			return false
		}
		return p.ISAKMP == nil || p.ISAKMP.DecryptError == ""
	})
}

// Summary lists packets one per line, for failure messages and reports.
func Summary(pkts []pcap.Packet) string {
	var b strings.Builder
	for i := range pkts {
		b.WriteString(pkts[i].String())
		b.WriteByte('\n')
	}
	return b.String()
}
