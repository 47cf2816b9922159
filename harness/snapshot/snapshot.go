// Package snapshot records a node's network state as text, for the
// artifacts a spec leaves behind: links, addresses, routes, neighbours and
// nftables tables, read through netlink from the node's namespace path, so
// it works the same for a netns node and a container.
package snapshot

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// Node returns the state of the network namespace at nsPath.
func Node(nsPath string) (string, error) {
	ns, err := vnetns.GetFromPath(nsPath)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer h.Close()

	var b strings.Builder
	links, err := h.LinkList()
	if err != nil {
		return "", fmt.Errorf("snapshot: links: %w", err)
	}
	names := map[int]string{}
	b.WriteString("links:\n")
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
	}
	for _, l := range links {
		a := l.Attrs()
		master := ""
		if a.MasterIndex != 0 {
			master = " master " + names[a.MasterIndex]
		}
		fmt.Fprintf(&b, "  %d: %s %s %s mtu %d mac %s%s rx %d/%d tx %d/%d (packets/dropped)\n",
			a.Index, a.Name, l.Type(), a.OperState, a.MTU, a.HardwareAddr, master,
			stat(a, true, false), stat(a, true, true), stat(a, false, false), stat(a, false, true))
	}
	b.WriteString("addresses:\n")
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return "", fmt.Errorf("snapshot: addresses: %w", err)
	}
	for _, a := range addrs {
		fmt.Fprintf(&b, "  %s %s\n", names[a.LinkIndex], a.IPNet)
	}
	b.WriteString("routes:\n")
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("snapshot: routes: %w", err)
	}
	var lines []string
	for _, r := range routes {
		dst := "default"
		if r.Dst != nil {
			dst = r.Dst.String()
		}
		line := "  " + dst
		if r.Gw != nil {
			line += " via " + r.Gw.String()
		}
		line += " dev " + names[r.LinkIndex]
		if r.Table != 254 {
			line += fmt.Sprintf(" table %d", r.Table)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\nneighbours:\n")
	neigh, err := h.NeighList(0, netlink.FAMILY_V4)
	if err == nil {
		for _, n := range neigh {
			fmt.Fprintf(&b, "  %s lladdr %s dev %s state %#x\n", n.IP, n.HardwareAddr, names[n.LinkIndex], n.State)
		}
	}
	b.WriteString("nftables tables:\n")
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err == nil {
		tables, err := conn.ListTables()
		if err == nil {
			for _, t := range tables {
				fmt.Fprintf(&b, "  %s (family %d)\n", t.Name, t.Family)
			}
		}
	}
	return b.String(), nil
}

func stat(a *netlink.LinkAttrs, rx, dropped bool) uint64 {
	s := a.Statistics
	if s == nil {
		return 0
	}
	switch {
	case rx && dropped:
		return s.RxDropped
	case rx:
		return s.RxPackets
	case dropped:
		return s.TxDropped
	}
	return s.TxPackets
}
