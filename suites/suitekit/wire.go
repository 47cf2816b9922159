package suitekit

import (
	"context"
	"fmt"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/wire"
	. "github.com/onsi/gomega"
)

// Wire is a client of the control socket of an impairment node (image
// getlab/wire, label getlab.role: wire; harness/wire), reached in its
// node's file view as a daemon's is.
func Wire(lab *netns.Lab, node string) *wire.Client {
	n := lab.Node(node)
	Expect(n).NotTo(BeNil(), "no node %s", node)
	return wire.Dial(fmt.Sprintf("/proc/%d/root%s", n.Holder, wire.NodeControlSocket))
}

// Impair sets the rules of the wire node (YAML, harness/wire.Rules),
// failing the spec if the wire refuses them.
func Impair(ctx context.Context, lab *netns.Lab, node, rules string) {
	ExpectWithOffset(1, Wire(lab, node).SetRules(ctx, rules)).To(Succeed(), "rules of wire %s", node)
}

// WireStats reads the wire node's counters, failing the spec on error.
func WireStats(ctx context.Context, lab *netns.Lab, node string) wire.StatsReply {
	st, err := Wire(lab, node).Stats(ctx)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "stats of wire %s", node)
	return st
}
