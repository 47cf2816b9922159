package topo

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

func (p *parser) links(n *yaml.Node, t *Topology) {
	d := deref(n)
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(lineNode(n, d), "topology", "links must be a list, not %s", describe(d))
		return
	}
	if len(d.Content) == 0 {
		p.errorf(lineNode(n, d), "topology", "links must not be an empty list (leave it out instead)")
		return
	}
	nodes := map[string]*Node{}
	for _, nd := range t.Nodes {
		nodes[nd.Name] = nd
	}
	used := map[Endpoint]int{}          // endpoint -> index of the link that uses it
	bridgeIfaces := map[string]string{} // interface name -> bridge node using it
	for i, ln := range d.Content {
		where := fmt.Sprintf("links[%d]", i)
		l, ok := p.link(ln, where)
		if !ok {
			continue
		}
		good := true
		for _, ep := range []Endpoint{l.A, l.B} {
			if !p.checkEndpoint(ln, where, ep, nodes) {
				good = false
			}
		}
		if !good {
			continue
		}
		if l.A == l.B {
			p.errorf(ln, where, "both endpoints are %q", l.A.String())
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			if prev, dup := used[ep]; dup {
				p.errorf(ln, where, "interface %q of node %q is already used by links[%d]", ep.Iface, ep.Node, prev)
				good = false
			}
		}
		if !good {
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			nd := nodes[ep.Node]
			if nd.IsBridge() {
				// containerlab leaves a bridge's ports in the host's
				// namespace, where names must be unique across bridges.
				if other, dup := bridgeIfaces[ep.Iface]; dup && other != ep.Node {
					p.errorf(ln, where, "interface %q of bridge %q is also a port of bridge %q; containerlab puts bridge ports in the host namespace, so they need distinct names", ep.Iface, ep.Node, other)
					good = false
				}
			}
		}
		if !good {
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			used[ep] = i
			nd := nodes[ep.Node]
			nd.Interfaces = append(nd.Interfaces, ep.Iface)
			if nd.IsBridge() {
				bridgeIfaces[ep.Iface] = ep.Node
			}
		}
		t.Links = append(t.Links, l)
	}
}

// link parses one entry of topology.links.
func (p *parser) link(n *yaml.Node, where string) (*Link, bool) {
	es, ok := p.entries(n, where, "a link")
	if !ok {
		return nil, false
	}
	var endpoints, typ, typKey *yaml.Node
	l := &Link{}
	good := true
	for _, e := range es {
		switch e.key {
		case "endpoints":
			endpoints = e.val
		case "type":
			typ, typKey = e.val, e.keyN
		case "mtu":
			mtu, ok := p.mtu(e.val, where)
			if !ok {
				good = false
			}
			l.MTU = mtu
		default:
			p.unknownField(e.keyN, where, e.key, linkFields, "link")
			good = false
		}
	}
	extended := false
	if typ != nil {
		s, ok := p.str(typ, where, "type")
		switch {
		case !ok:
			return nil, false
		case s == "veth":
			extended = true
		case contains(linkTypes, s):
			p.errorf(typKey, where, "link type %q is not supported by getlab (only veth)", s)
			return nil, false
		default:
			p.errorf(typKey, where, "%q is not a containerlab link type", s)
			return nil, false
		}
	}
	if endpoints == nil {
		p.errorf(n, where, "field %q is required", "endpoints")
		return nil, false
	}
	d := deref(endpoints)
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(lineNode(endpoints, d), where, "field %q must be a list, not %s", "endpoints", describe(d))
		return nil, false
	}
	if len(d.Content) != 2 {
		p.errorf(lineNode(endpoints, d), where, "a link needs exactly 2 endpoints, not %d", len(d.Content))
		return nil, false
	}
	var eps [2]Endpoint
	for j, en := range d.Content {
		var ep Endpoint
		var ok bool
		if extended {
			ep, ok = p.extendedEndpoint(en, fmt.Sprintf("%s.endpoints[%d]", where, j))
		} else {
			ep, ok = p.briefEndpoint(en, where)
		}
		if !ok {
			good = false
		}
		eps[j] = ep
	}
	if !good {
		return nil, false
	}
	l.A, l.B = eps[0], eps[1]
	l.Line = lineNode(n, deref(n)).Line
	return l, true
}

func (p *parser) mtu(n *yaml.Node, where string) (int, bool) {
	d := deref(n)
	var v int
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!int" || d.Decode(&v) != nil {
		p.errorf(lineNode(n, d), where, "field %q must be a whole number, not %s", "mtu", describe(d))
		return 0, false
	}
	if v < MinMTU || v > MaxMTU {
		p.errorf(lineNode(n, d), where, "mtu %d is outside %d..%d", v, MinMTU, MaxMTU)
		return 0, false
	}
	return v, true
}

func (p *parser) briefEndpoint(n *yaml.Node, where string) (Endpoint, bool) {
	d := deref(n)
	if d != nil && d.Kind == yaml.MappingNode {
		p.errorf(lineNode(n, d), where, "an endpoint written as a mapping needs the extended link form (type: veth)")
		return Endpoint{}, false
	}
	s, ok := p.str(n, where, "endpoints")
	if !ok {
		return Endpoint{}, false
	}
	node, iface, found := strings.Cut(s, ":")
	if !found || node == "" || iface == "" {
		p.errorf(lineNode(n, d), where, "endpoint %q is not of the form NODE:INTERFACE", s)
		return Endpoint{}, false
	}
	return Endpoint{Node: node, Iface: iface}, true
}

func (p *parser) extendedEndpoint(n *yaml.Node, where string) (Endpoint, bool) {
	es, ok := p.entries(n, where, "an endpoint of a veth link")
	if !ok {
		return Endpoint{}, false
	}
	var ep Endpoint
	var hasNode, hasIface bool
	good := true
	for _, e := range es {
		switch e.key {
		case "node":
			hasNode = true
			if ep.Node, ok = p.nonEmptyStr(e.val, where, "node"); !ok {
				good = false
			}
		case "interface":
			hasIface = true
			if ep.Iface, ok = p.nonEmptyStr(e.val, where, "interface"); !ok {
				good = false
			}
		default:
			p.unknownField(e.keyN, where, e.key, endpointFields, "endpoint")
			good = false
		}
	}
	if !hasNode {
		p.errorf(n, where, "field %q is required", "node")
		good = false
	}
	if !hasIface {
		p.errorf(n, where, "field %q is required", "interface")
		good = false
	}
	return ep, good
}

// checkEndpoint checks that an endpoint names a defined node and a usable
// interface name.
func (p *parser) checkEndpoint(n *yaml.Node, where string, ep Endpoint, nodes map[string]*Node) bool {
	good := true
	if nodes[ep.Node] == nil {
		if p.declared[ep.Node] {
			// The node itself is in error and was reported already.
			return false
		}
		if contains(specialNodes, ep.Node) {
			p.errorf(n, where, "endpoint %q: containerlab's special node %q is not supported by getlab", ep.String(), ep.Node)
		} else {
			p.errorf(n, where, "endpoint %q: node %q is not defined in topology.nodes", ep.String(), ep.Node)
		}
		good = false
	}
	switch i := ep.Iface; {
	case len(i) > MaxIfaceNameLen:
		p.errorf(n, where, "endpoint %q: interface name %q is %d bytes long; Linux allows at most %d", ep.String(), i, len(i), MaxIfaceNameLen)
		good = false
	case !ifaceRE.MatchString(i) || i == "." || i == "..":
		p.errorf(n, where, "endpoint %q: interface name %q may hold only letters, digits, '.', '_' and '-'", ep.String(), i)
		good = false
	case i == "eth0" || i == "lo":
		p.errorf(n, where, "endpoint %q: interface %q is reserved (eth0 is containerlab's management interface; data links are eth1, eth2, ...)", ep.String(), i)
		good = false
	}
	return good
}
