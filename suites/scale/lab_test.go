package scale

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/swarmreport"
	"github.com/getlab/getlab/pcap"
)

// The lab of topologies/scale.clab.yml: ks1 on the WAN at 192.0.2.1, the
// swarm's node at 192.0.2.2 with its members in swarmPrefix, which ks1
// routes to it.
var (
	ks1         = netip.MustParseAddr("192.0.2.1")
	swarmPrefix = netip.MustParsePrefix("198.18.0.0/18")
)

const (
	topology  = "scale.clab.yml"
	swarmNode = "swarm"
	// swarmKey is the pre-shared key of every member: the key server's
	// wildcard key.
	swarmKey = "swarm-secret"
	// ksLink is the only link captured: every exchange of every member
	// crosses it once.
	ksLink = "ks1:eth1"
)

// swarmArgs are the swarm's flags for count members that stop once they
// all registered (or gave up) and rekeys rekeys settled.
func swarmArgs(count, rekeys int) []string {
	return []string{
		"--ks", ks1.String(), "--group", "1234", "--psk", swarmKey,
		"--count", strconv.Itoa(count), "--prefix", swarmPrefix.String(), "--interface", "eth1",
		"--concurrency", "64", "--retry-interval", "5s", "--tries", "4",
		"--exit-after-rekeys", strconv.Itoa(rekeys), "--rekey-settle", "15s",
	}
}

// readReport reads the swarm's report in its node's file view.
func readReport(lab *netns.Lab) (*swarmreport.Report, error) {
	n := lab.Node(swarmNode)
	if n == nil {
		return nil, fmt.Errorf("no node %s", swarmNode)
	}
	return swarmreport.Read(fmt.Sprintf("/proc/%d/root%s", n.Holder, swarmreport.NodeReport))
}

// wire is what the capture of ksLink says of the members, read in one
// pass: PULL 2 and 4 from ks1 in one exchange make a registration.
type wire struct {
	// registered maps each member registered on the wire to its
	// registration's latency: its first main mode message 1 to PULL 4.
	registered map[netip.Addr]time.Duration
	// first and last: the first member's main mode message 1, the last
	// PULL 4.
	first, last time.Time
	// pushes are ks1's GROUPKEY-PUSH copies to members at or after
	// rekeyAt, by member; acks the acknowledgements' sequence numbers
	// (read in clear) by member, in order.
	pushes     map[netip.Addr]int
	acks       map[netip.Addr][]uint32
	firstPush  time.Time
	lastAck    time.Time
	strangeAck []netip.Addr // acknowledgements from members ks1 sent no PUSH
}

func readWire(pkts []pcap.Packet, rekeyAt time.Time) wire {
	w := wire{registered: map[netip.Addr]time.Duration{}, pushes: map[netip.Addr]int{}, acks: map[netip.Addr][]uint32{}}
	mm1 := map[netip.Addr]time.Time{}
	type exchange struct {
		gm  netip.Addr
		id  uint32
		msg int
	}
	pulls := map[exchange]bool{}
	for _, p := range pkts {
		if p.Link != ksLink || p.ISAKMP == nil {
			continue
		}
		x := isakmp.ExchangeType(p.ISAKMP.Type)
		switch {
		case x == isakmp.ExchangeMainMode && p.ISAKMP.Message == 1 && swarmPrefix.Contains(p.Src):
			if _, ok := mm1[p.Src]; !ok {
				mm1[p.Src] = p.Time
				if w.first.IsZero() {
					w.first = p.Time
				}
			}
		case x == isakmp.ExchangeGroupkeyPull && p.Src == ks1 && swarmPrefix.Contains(p.Dst):
			pulls[exchange{p.Dst, p.ISAKMP.MessageID, p.ISAKMP.Message}] = true
			if p.ISAKMP.Message == 4 && pulls[exchange{p.Dst, p.ISAKMP.MessageID, 2}] {
				if _, ok := w.registered[p.Dst]; !ok {
					w.registered[p.Dst] = p.Time.Sub(mm1[p.Dst])
					w.last = p.Time
				}
			}
		case x == isakmp.ExchangeGroupkeyPush && p.Src == ks1 && swarmPrefix.Contains(p.Dst) && !p.Time.Before(rekeyAt):
			w.pushes[p.Dst]++
			if w.firstPush.IsZero() {
				w.firstPush = p.Time
			}
		case x == isakmp.ExchangeGroupkeyPushAck && p.Dst == ks1 && swarmPrefix.Contains(p.Src) && !p.Time.Before(rekeyAt):
			seq := uint32(0)
			if p.ISAKMP.SEQ != nil {
				seq = *p.ISAKMP.SEQ
			}
			w.acks[p.Src] = append(w.acks[p.Src], seq)
			w.lastAck = p.Time
			if w.pushes[p.Src] == 0 {
				w.strangeAck = append(w.strangeAck, p.Src)
			}
		}
	}
	return w
}

// latencies are the wire's registration latencies.
func (w wire) latencies() swarmreport.Percentiles {
	var ds []time.Duration
	for _, d := range w.registered {
		ds = append(ds, d)
	}
	return swarmreport.PercentilesOf(ds)
}

// members are the addresses registered on the wire, sorted.
func (w wire) members() []netip.Addr {
	var out []netip.Addr
	for a := range w.registered {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}
