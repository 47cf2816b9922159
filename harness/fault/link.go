package fault

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Node is a topology node as the fault package sees it: a name for messages
// and the path of its network namespace (/run/netns/NAME, /proc/PID/ns/net).
type Node struct {
	Name  string
	NetNS string
}

// LinkDown sets iface in the namespace at netNS administratively down, like
// "ip link set IFACE down". On a veth the peer loses carrier too. The kernel
// drops the interface's IPv6 addresses unless keep_addr_on_down is set.
func LinkDown(netNS, iface string) error {
	return withLink(netNS, iface, "link down", func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkSetDown(l)
	})
}

// LinkUp sets iface in the namespace at netNS administratively up. It does
// not wait for carrier: a veth is operationally up only when both ends are.
func LinkUp(netNS, iface string) error {
	return withLink(netNS, iface, "link up", func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkSetUp(l)
	})
}

// SetMTU sets the MTU of iface in the namespace at netNS; mtu must lie in
// 68..65535 (and within what the driver accepts).
func SetMTU(netNS, iface string, mtu int) error {
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("fault: mtu on %s %s: mtu %d outside 68..65535", nsLabel(netNS), iface, mtu)
	}
	return withLink(netNS, iface, "mtu", func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkSetMTU(l, mtu)
	})
}

// withLink runs fn with a netlink handle in netNS and the link named iface,
// wrapping every error as "fault: WHAT on NS IFACE: ...".
func withLink(netNS, iface, what string, fn func(*netlink.Handle, netlink.Link) error) error {
	err := func() error {
		h, err := routeHandle(netNS)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := findLink(h, iface)
		if err != nil {
			return err
		}
		return fn(h, l)
	}()
	if err != nil {
		return fmt.Errorf("fault: %s on %s %s: %w", what, nsLabel(netNS), iface, err)
	}
	return nil
}

// routeHandle opens an rtnetlink handle in the namespace at netNS.
func routeHandle(netNS string) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(netNS)
	if err != nil {
		return nil, fmt.Errorf("open namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace: %w", err)
	}
	return h, nil
}

// findLink looks iface up, turning the library's not-found error into one
// that names the interface.
func findLink(h *netlink.Handle, iface string) (netlink.Link, error) {
	if iface == "" {
		return nil, errors.New("no interface name")
	}
	l, err := h.LinkByName(iface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("no interface %q in namespace", iface)
		}
		return nil, fmt.Errorf("look up interface: %w", err)
	}
	return l, nil
}

// checkIface reports a clear error if iface does not exist in netNS.
func checkIface(netNS, iface string) error {
	h, err := routeHandle(netNS)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = findLink(h, iface)
	return err
}

// nsLabel is the short name of a namespace path for messages: NAME for
// /run/netns/NAME, the path itself otherwise.
func nsLabel(netNS string) string {
	if strings.HasPrefix(netNS, "/run/netns/") || strings.HasPrefix(netNS, "/var/run/netns/") {
		return filepath.Base(netNS)
	}
	return netNS
}
