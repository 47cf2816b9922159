package suitekit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/getlab/getlab/harness/mroute"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/nsdo"
	. "github.com/onsi/gomega"
)

// Router is a client of the control socket of a multicast router node
// (image getlab/router, label getlab.role: router; harness/mroute),
// reached in its node's file view as a daemon's is.
func Router(lab *netns.Lab, node string) *mroute.Client {
	n := lab.Node(node)
	Expect(n).NotTo(BeNil(), "no node %s", node)
	return mroute.NewClient(fmt.Sprintf("/proc/%d/root%s", n.Holder, mroute.NodeControlSocket))
}

// RouterState reads a router node's routes and counters, failing the spec
// on error.
func RouterState(ctx context.Context, lab *netns.Lab, node string) *mroute.State {
	st, err := Router(lab, node).State(ctx)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "state of router %s", node)
	return st
}

// SendMulticast sends payload from node, from its address src, to group
// (an address and port) with IP TTL ttl: a probe of the multicast routing
// that stands for what a key server sends there.
func SendMulticast(lab *netns.Lab, node string, src netip.Addr, group netip.AddrPort, ttl int, payload []byte) error {
	return SendMulticastN(lab, node, src, group, ttl, 1, 0, func(int) []byte { return payload })
}

// SendMulticastN sends count datagrams, payload(i) the i-th, every gap,
// as SendMulticast does. The socket is made in node's namespace and
// keeps to it while the datagrams are sent from here.
func SendMulticastN(lab *netns.Lab, node string, src netip.Addr, group netip.AddrPort, ttl, count int, gap time.Duration, payload func(int) []byte) error {
	ns, err := lab.NetNS(node)
	if err != nil {
		return err
	}
	var c *net.UDPConn
	if err := nsdo.Do(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	if err := ipv4.NewPacketConn(c).SetMulticastTTL(ttl); err != nil {
		return fmt.Errorf("multicast TTL: %w", err)
	}
	for i := range count {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := c.WriteToUDPAddrPort(payload(i), group); err != nil {
			return err
		}
	}
	return nil
}
