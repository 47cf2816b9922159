package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
)

// A GM waits for its registration interface before it registers.
//
// Under containerlab the daemon is the node's process: it starts before
// containerlab has moved the node's links in and before it runs the node's
// exec lines that add the addresses. A first registration sent then fails
// (no interface, or no source address), and the next try comes a whole
// retry interval (10 s) later. So the GM first polls until its registration
// interface exists, is up and holds an IPv4 address (and its GDOI address,
// when one is configured, is assigned), logging once when it starts waiting
// and once when the interface is ready. The wait is bounded in wall time:
// after ifaceWaitMax the GM registers anyway and the protocol's retries and
// GM_REGSTER_IF_DOWN take over, as without the wait.
//
// A KS needs no wait: its socket binds its listen address with IP_FREEBIND
// before the address exists, receives nothing until it does, and answers
// the first request that arrives once it does.

// Wall-time bounds of the wait (not scaled by timers.scale: they are about
// how long a container takes to be wired, not protocol time).
var (
	ifacePoll    = 100 * time.Millisecond
	ifaceWaitMax = 60 * time.Second
)

// ifaceNotReady says why the GM cannot register from the interface name
// with the address local yet ("" when it can). Either may be unset: no
// name checks only the address, an unspecified local only the interface.
func ifaceNotReady(name string, local netip.Addr) string {
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Sprintf("registration interface %s does not exist yet", name)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return fmt.Sprintf("registration interface %s is down", name)
		}
		addrs, err := ifi.Addrs()
		if err != nil || !hasIPv4(addrs) {
			return fmt.Sprintf("registration interface %s has no IPv4 address yet", name)
		}
	}
	if local.IsValid() && !local.IsUnspecified() {
		addrs, err := net.InterfaceAddrs()
		if err != nil || !holds(addrs, local) {
			return fmt.Sprintf("GDOI address %s is not configured yet", local)
		}
	}
	return ""
}

func hasIPv4(addrs []net.Addr) bool {
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return true
		}
	}
	return false
}

func holds(addrs []net.Addr, want netip.Addr) bool {
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == want {
				return true
			}
		}
	}
	return false
}

// waitRegistrationInterface waits, as described above, until the GM of cfg
// can register from local (unspecified: from whatever address the
// interface gets). It returns false only when ctx ends first.
func waitRegistrationInterface(ctx context.Context, cfg *config.Config, local netip.Addr, ev *events.Log) bool {
	name := registrationInterface(cfg)
	why := ifaceNotReady(name, local)
	if why == "" {
		return true
	}
	start := time.Now()
	ev.Logf("warn", "%s: waiting for it before registering (checking every %v, for up to %v)", why, ifacePoll, ifaceWaitMax)
	t := time.NewTicker(ifacePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		why = ifaceNotReady(name, local)
		waited := time.Since(start).Round(time.Millisecond)
		if why == "" {
			ev.Logf("info", "%s ready after %v: registering", ifaceLabel(name, local), waited)
			return true
		}
		if waited >= ifaceWaitMax {
			ev.Logf("warn", "%s after %v: registering anyway (retried every 10 s)", why, waited)
			return true
		}
	}
}

// ifaceLabel names what was waited for in the "ready" line.
func ifaceLabel(name string, local netip.Addr) string {
	switch {
	case name == "":
		return fmt.Sprintf("GDOI address %s", local)
	case local.IsValid() && !local.IsUnspecified():
		return fmt.Sprintf("registration interface %s (address %s)", name, local)
	}
	return "registration interface " + name
}
