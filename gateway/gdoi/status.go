package gdoi

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/getlab/getlab/gateway/show"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// KEKStatus describes a KEK for the control API, elapsed protocol time
// after it was made or received.
func KEKStatus(k *KEK, elapsed time.Duration, seq uint32) *show.KEK {
	return &show.KEK{
		SPI: hex.EncodeToString(k.SPI[:]), Algorithm: k.Algorithm.String(), KeyBits: k.KeyBits,
		SigHash: k.SigHash.String(), SigAlgorithm: k.SigAlg.String(), SigKeyBits: k.SigKeyBits,
		Lifetime: k.Lifetime.Seconds(), Remaining: max(0, (k.Lifetime - elapsed).Seconds()), Seq: seq,
	}
}

// TEKStatus describes a TEK for the control API.
func TEKStatus(t *TEK, elapsed time.Duration) show.TEK {
	return show.TEK{
		SPI: fmt.Sprintf("0x%08x", t.SPI), Transform: t.Transform.String(), Protocol: t.Protocol,
		Src: t.Src.String(), Dst: t.Dst.String(), SrcPort: t.SrcPort, DstPort: t.DstPort,
		Lifetime: t.Lifetime.Seconds(), Remaining: max(0, (t.Lifetime - elapsed).Seconds()),
		AddressPreservation: cmp.Or(t.AddrPreserve, gdoiwire.DefaultAddrPreserve).String(),
		Direction:           cmp.Or(t.Direction, gdoiwire.DefaultSADirection).String(),
	}
}

// SelectorString is a TEK's selectors as an ACL line: "permit ip
// 198.51.100.0/24 203.0.113.0/24", with the protocol and ports when set.
func SelectorString(t *TEK) string { return t.Selector.ACE(true) }

// ACE is the selector as an ACL line, "permit ..." or "deny ...".
func (t Selector) ACE(permit bool) string {
	proto, ok := protocolNames[t.Protocol]
	if !ok {
		proto = fmt.Sprint(t.Protocol)
	}
	action := "deny"
	if permit {
		action = "permit"
	}
	s := fmt.Sprintf("%s %s %s", action, proto, t.Src)
	if t.SrcPort != 0 {
		s += fmt.Sprintf(" eq %d", t.SrcPort)
	}
	s += " " + t.Dst.String()
	if t.DstPort != 0 {
		s += fmt.Sprintf(" eq %d", t.DstPort)
	}
	return s
}

// protocolNames are the IP protocols an ACL line names (as IOS and the
// configuration write them); others are shown as numbers.
var protocolNames = map[uint8]string{
	0: "ip", 1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ahp", 58: "icmpv6", 88: "eigrp", 89: "ospf", 103: "pim",
}
