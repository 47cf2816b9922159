package suitekit

import (
	"context"
	"fmt"
	"time"

	"github.com/getlab/getlab/harness/netns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// WaitLinksUp waits, at most within, until both ends of every link of
// lab's topology are operationally up (carrier). The kernel tells a veth
// end, and a bridge its port, that the peer came up through its link
// watch, which batches such events up to a second apart: a lab whose
// processes start at once may spend that second with a bridge port not
// forwarding, so that a node is cut off from part of the WAN for its first
// second (a key server missing the start-up election of the others).
// Call it from StartScenario's or StartModel's before, which runs before
// any process starts.
func WaitLinksUp(ctx context.Context, lab *netns.Lab, within time.Duration) {
	start := time.Now()
	Eventually(func() error {
		for _, l := range lab.Topology().Links {
			for _, end := range []struct{ node, iface string }{{l.A.Node, l.A.Iface}, {l.B.Node, l.B.Iface}} {
				if err := LinkOperUp(lab, end.node, end.iface); err != nil {
					return err
				}
			}
		}
		return nil
	}).WithContext(ctx).WithTimeout(within).WithPolling(10*time.Millisecond).Should(Succeed(), "every link of the lab up")
	GinkgoWriter.Printf("links up after %v\n", time.Since(start).Round(time.Millisecond))
}

// LinkOperUp reports, as an error saying why not, whether node's
// interface iface is operationally up: it has carrier, and the kernel's
// link watch has told its bridge, if it is a bridge port. A link set up
// again (harness/fault.LinkUp) carries frames only from then on.
func LinkOperUp(lab *netns.Lab, node, iface string) error {
	err := operUp(NetNS(lab, node), iface)
	if err != nil {
		return fmt.Errorf("%s:%s: %w", node, iface, err)
	}
	return nil
}

func operUp(path, iface string) error {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(iface)
	if err != nil {
		return err
	}
	if st := l.Attrs().OperState; st != netlink.OperUp {
		return fmt.Errorf("operational state %s", st)
	}
	return nil
}
