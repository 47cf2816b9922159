package dataplane

import (
	"net/netip"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// selector is one ACL entry's match: a downloaded entry (single ports) or a
// local one (port ranges).
type selector struct {
	protocol         uint8 // 0: any
	src, dst         netip.Prefix
	srcPort, dstPort config.PortRange // zero: any
}

var anyV4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

func orAny(p netip.Prefix) netip.Prefix {
	if p.IsValid() {
		return p
	}
	return anyV4
}

func onePort(p uint16) config.PortRange { return config.PortRange{Lo: p, Hi: p} }

func fromGDOI(s gdoi.Selector) selector {
	return selector{protocol: s.Protocol, src: orAny(s.Src), dst: orAny(s.Dst), srcPort: onePort(s.SrcPort), dstPort: onePort(s.DstPort)}
}

func fromACE(e config.ACE) selector {
	return selector{protocol: e.Protocol, src: orAny(e.Source), dst: orAny(e.Destination), srcPort: e.SourcePort, dstPort: e.DestinationPort}
}

// mirror swaps source and destination.
func (s selector) mirror() selector {
	s.src, s.dst = s.dst, s.src
	s.srcPort, s.dstPort = s.dstPort, s.srcPort
	return s
}

// match reports whether the flow matches. An entry with ports matches only
// packets whose ports are known: a non-first fragment never matches it.
func (s *selector) match(f *ipv4.Flow) bool {
	if s.protocol != 0 && s.protocol != f.Protocol {
		return false
	}
	if !s.src.Contains(f.Src) || !s.dst.Contains(f.Dst) {
		return false
	}
	if !s.srcPort.Any() && (!f.HasPorts || f.SrcPort < s.srcPort.Lo || f.SrcPort > s.srcPort.Hi) {
		return false
	}
	if !s.dstPort.Any() && (!f.HasPorts || f.DstPort < s.dstPort.Lo || f.DstPort > s.dstPort.Hi) {
		return false
	}
	return true
}
