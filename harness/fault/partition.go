package fault

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Partition cuts IP traffic between the node sets a and b until Remove
// (which heals it): every node of one side drops packets to and from the
// addresses of the other side's nodes, IPv4 and IPv6, in its input and
// output hooks. The addresses are read from the nodes' interfaces at call
// time (all but loopback, link-local and multicast ones); addresses added
// later are not cut. Traffic a node merely forwards is not affected, and
// neither is traffic between addresses that are not the nodes' own (such as
// hosts behind a GM whose packets keep their addresses in ESP).
func Partition(a, b []Node) (*Impairment, error) {
	desc := fmt.Sprintf("partition %s | %s", nodeNames(a), nodeNames(b))
	wrap := func(err error) error {
		return fmt.Errorf("fault: partition %s from %s: %w", nodeNames(a), nodeNames(b), err)
	}
	if len(a) == 0 || len(b) == 0 {
		return nil, wrap(errors.New("both sides need at least one node"))
	}
	side := map[any]int{} // namespace -> 1 (a) or 2 (b)
	for s, nodes := range [][]Node{a, b} {
		for _, n := range nodes {
			k := nsIdentity(n.NetNS)
			if prev, ok := side[k]; ok && prev != s+1 {
				return nil, wrap(fmt.Errorf("node %s is on both sides", n.Name))
			}
			side[k] = s + 1
		}
	}
	addrsA, err := sideAddrs(a)
	if err != nil {
		return nil, wrap(err)
	}
	addrsB, err := sideAddrs(b)
	if err != nil {
		return nil, wrap(err)
	}
	specs := map[string][]ruleSpec{}
	done := map[any]bool{} // one share per namespace, however it is named
	for s, nodes := range [][]Node{a, b} {
		cut := addrsB
		if s == 1 {
			cut = addrsA
		}
		for _, n := range nodes {
			if k := nsIdentity(n.NetNS); !done[k] {
				done[k] = true
				specs[n.NetNS] = cutRules(cut)
			}
		}
	}
	imp, err := install(desc, specs)
	if err != nil {
		return nil, wrap(err)
	}
	return imp, nil
}

// cutRules drops packets to any of addrs (output) and from any (input).
func cutRules(addrs []netip.Addr) []ruleSpec {
	var specs []ruleSpec
	for _, x := range addrs {
		host := netip.PrefixFrom(x, x.BitLen())
		specs = append(specs,
			ruleSpec{chain: "output", exprs: Match{Dst: host}.packetExprs()},
			ruleSpec{chain: "input", exprs: Match{Src: host}.packetExprs()})
	}
	return specs
}

// sideAddrs collects the addresses of a side's nodes, without duplicates.
// A node without any address is an error: it is likely not configured yet.
func sideAddrs(nodes []Node) ([]netip.Addr, error) {
	seen := map[netip.Addr]bool{}
	var all []netip.Addr
	for _, n := range nodes {
		as, err := nodeAddrs(n.NetNS)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if len(as) == 0 {
			return nil, fmt.Errorf("node %s: no address to cut", n.Name)
		}
		for _, x := range as {
			if !seen[x] {
				seen[x] = true
				all = append(all, x)
			}
		}
	}
	return all, nil
}

// nodeAddrs lists the unicast, non-loopback, non-link-local addresses of
// every interface in the namespace at netNS.
func nodeAddrs(netNS string) ([]netip.Addr, error) {
	h, err := routeHandle(netNS)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	list, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range list {
		if a.IPNet == nil {
			continue
		}
		x, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		x = x.Unmap()
		if x.IsLoopback() || x.IsLinkLocalUnicast() || x.IsMulticast() || x.IsUnspecified() {
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

func nodeNames(nodes []Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}
