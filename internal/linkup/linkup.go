// Package linkup brings up an interface of a node's own process: the
// bench's forwarding nodes (the impairment wire, the multicast router)
// start before or while their topology's links are made, so they wait for
// their interfaces to appear and set them up themselves.
package linkup

import (
	"fmt"
	"os"
	"time"

	"github.com/vishvananda/netlink"
)

// Wait waits up to wait for interface name to exist, then sets it up.
// With noIPv6, IPv6 is turned off on it first: a node that stands for a
// cable must not send router solicitations or MLD reports of its own.
func Wait(name string, wait time.Duration, noIPv6 bool) error {
	deadline := time.Now().Add(wait)
	for {
		l, err := netlink.LinkByName(name)
		if err == nil {
			if noIPv6 {
				_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("%s: up: %w", name, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("interface %s: %w", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
