package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/getlab/getlab/gateway/wire/esp"
	"gopkg.in/yaml.v3"
)

// MaxACEs is the most entries a group ACL may have (S0 L1917-1947: "up to
// 100 ACL entries"; IOS honours only the first 100 and logs GDOI_ACL_NUM;
// getvpnd refuses the configuration instead).
const MaxACEs = 100

// ACE is one access-control entry, written in YAML as a mapping:
//
//	{action: permit, protocol: udp, source: 10.1.0.0/16, destination: any,
//	 destination_port: 848}
//
// source and destination are "any" (the default), an address or a prefix;
// ports (tcp and udp only) are a number or a "low-high" range. A permit
// entry of a KS group's acl may name the ESP transform of its TEK
// (transform: 3des-sha1); see Group.Transforms for the rule.
type ACE struct {
	Permit bool // permit, else deny
	// Protocol is the IP protocol number; 0 ("ip") matches every protocol.
	Protocol uint8
	// Source and Destination are the zero Prefix for "any".
	Source, Destination         netip.Prefix
	SourcePort, DestinationPort PortRange
	// Transform is the transform the entry names; the zero Transform (an
	// invalid one) when it names none and takes the group's default.
	Transform esp.Transform
}

// NamesTransform reports whether the entry names its own transform.
func (e ACE) NamesTransform() bool { return e.Transform != esp.Transform{} }

// PortRange is an inclusive range of ports; the zero value matches any port.
type PortRange struct{ Lo, Hi uint16 }

// Any reports whether r matches every port.
func (r PortRange) Any() bool { return r == PortRange{} }

func (r PortRange) String() string {
	switch {
	case r.Any():
		return "any"
	case r.Lo == r.Hi:
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

var protocolNames = map[string]uint8{
	"ip": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47,
	"esp": 50, "ahp": 51, "ah": 51, "icmpv6": 58, "eigrp": 88, "ospf": 89,
	"pim": 103,
}

// ProtocolName names an IP protocol number the way the config writes it.
func ProtocolName(p uint8) string {
	for _, n := range []string{"ip", "icmp", "igmp", "tcp", "udp", "gre", "esp", "ahp", "icmpv6", "eigrp", "ospf", "pim"} {
		if protocolNames[n] == p {
			return n
		}
	}
	return strconv.Itoa(int(p))
}

func (e ACE) String() string {
	var b strings.Builder
	if e.Permit {
		b.WriteString("permit ")
	} else {
		b.WriteString("deny ")
	}
	b.WriteString(ProtocolName(e.Protocol))
	for _, x := range []struct {
		p netip.Prefix
		r PortRange
	}{{e.Source, e.SourcePort}, {e.Destination, e.DestinationPort}} {
		if x.p.IsValid() {
			b.WriteString(" " + x.p.String())
		} else {
			b.WriteString(" any")
		}
		if !x.r.Any() {
			b.WriteString(" eq " + x.r.String())
		}
	}
	if e.NamesTransform() {
		b.WriteString(" transform " + e.Transform.String())
	}
	return b.String()
}

// mirror returns the entry with source and destination swapped.
func (e ACE) mirror() ACE {
	e.Source, e.Destination = e.Destination, e.Source
	e.SourcePort, e.DestinationPort = e.DestinationPort, e.SourcePort
	return e
}

func (d *decoder) acl(n *yaml.Node, path string, dst *[]ACE) {
	d.list(n, path, func(n *yaml.Node, p string) {
		var e ACE
		action := ""
		proto := ""
		var sp, dp, tr *yaml.Node
		d.fields(n, p, map[string]func(*yaml.Node, string){
			"action":           func(n *yaml.Node, p string) { d.str(n, p, &action) },
			"protocol":         func(n *yaml.Node, p string) { d.str(n, p, &proto) },
			"source":           func(n *yaml.Node, p string) { d.prefix(n, p, &e.Source) },
			"destination":      func(n *yaml.Node, p string) { d.prefix(n, p, &e.Destination) },
			"source_port":      func(n *yaml.Node, p string) { sp = n; d.ports(n, p, &e.SourcePort) },
			"destination_port": func(n *yaml.Node, p string) { dp = n; d.ports(n, p, &e.DestinationPort) },
			"transform":        func(n *yaml.Node, p string) { tr = n; d.transform(n, p, &e.Transform) },
		})
		if n.Kind != yaml.MappingNode {
			return
		}
		switch action {
		case "permit":
			e.Permit = true
		case "deny":
		case "":
			d.errorf(join(p, "action"), "missing (permit or deny)")
		default:
			d.errorf(join(p, "action"), "%q is not permit or deny", action)
		}
		if proto == "" {
			proto = "ip"
		}
		if v, ok := protocolNames[proto]; ok {
			e.Protocol = v
		} else if v, err := strconv.ParseUint(proto, 10, 8); err == nil && v > 0 {
			e.Protocol = uint8(v)
		} else {
			d.errorf(join(p, "protocol"), "%q is not a protocol name (ip, icmp, tcp, udp, esp, ospf, pim, ...) or number 1-255", proto)
		}
		if tr != nil && !e.Permit {
			// A deny entry makes no TEK; a GM's local_acl is deny-only.
			d.errorf(join(p, "transform"), "only a permit entry of a KS group's acl names a transform (a deny entry makes no TEK)")
		}
		if e.Protocol != 6 && e.Protocol != 17 {
			if sp != nil {
				d.errorf(join(p, "source_port"), "ports need protocol tcp or udp")
			}
			if dp != nil {
				d.errorf(join(p, "destination_port"), "ports need protocol tcp or udp")
			}
		}
		if e.Source.IsValid() && e.Destination.IsValid() && e.Source.Addr().Is4() != e.Destination.Addr().Is4() {
			d.errorf(p, "source %s and destination %s are of different address families", e.Source, e.Destination)
		}
		*dst = append(*dst, e)
	})
}

// ports reads a port or a "low-high" range.
func (d *decoder) ports(n *yaml.Node, path string, dst *PortRange) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || a == 0 || b == 0 {
		d.errorf(path, "%q is not a port (1-65535) or port range (\"1024-2047\")", s)
		return
	}
	if a > b {
		d.errorf(path, "%q: range is backwards", s)
		return
	}
	*dst = PortRange{uint16(a), uint16(b)}
}
