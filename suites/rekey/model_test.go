package rekey

import (
	"context"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/gomega"
)

// model is basic.clab.yml in the neutral model with the suite's timers
// (TEKs of 300 s, a KEK of 700 s, two retransmissions 10 s apart) and
// rekeys sent by transport: unicast with RFC 8263 acknowledgements, or
// multicast to rekeyGroup (blind, no acknowledgements). It runs at the
// pairing's runScale.
func model(transport string) *scenario.Scenario {
	m := scenario.Default()
	g := &m.Groups[0]
	g.TEKLifetime = int(tekLifetime / time.Second)
	g.KEKLifetime = int(kekLifetime / time.Second)
	g.Rekey = scenario.Rekey{
		Transport:  transport,
		Retransmit: scenario.Retransmit{Interval: int(retransmitInt / time.Second), Count: retransmits},
		Acks:       scenario.AcksSHA256,
	}
	if transport == "multicast" {
		g.Rekey.Address, g.Rekey.Port, g.Rekey.Acks = rekeyGroup, 848, scenario.AcksNone
	}
	m.TimerScale = runScale
	return m
}

// twoKS is basic-2ks.clab.yml in the neutral model: model(transport) with
// a second key server, ks2, which does not cooperate with ks1; the GMs
// list [ks1, ks2].
func twoKS(transport string) *scenario.Scenario {
	m := model(transport)
	m.KeyServers = append(m.KeyServers, scenario.KeyServer{Name: "ks2", Address: ks2, Order: 2})
	for i := range m.GroupMembers {
		m.GroupMembers[i].KSList = []string{"ks1", "ks2"}
	}
	return m
}

// rekeyNeeds are the capabilities a rekey scenario of model m needs of
// both roles: the rekey transport and, for unicast rekeys,
// acknowledgements.
func rekeyNeeds(m *scenario.Scenario) map[impl.Role][]impl.Capability {
	caps := []impl.Capability{impl.MulticastRekey}
	if m.Groups[0].Rekey.Transport == "unicast" {
		caps = []impl.Capability{impl.UnicastRekey, impl.Acks}
	}
	return map[impl.Role][]impl.Capability{impl.KS: caps, impl.GM: caps}
}

// rekeyGap is why a scenario of model m cannot run with the pairing
// (suitekit.ModelGap); "" when it can.
func rekeyGap(m *scenario.Scenario) string { return suitekit.ModelGap(m, rekeyNeeds(m)) }

// requireRekeys skips the spec, with rekeyGap's sentence, unless its
// scenario can run (suitekit.SkipUnlessRuns).
func requireRekeys(m *scenario.Scenario) {
	Expect(m).NotTo(BeNil(), "the scenario's model") // before rekeyNeeds reads it
	suitekit.SkipUnlessRuns(m, rekeyNeeds(m))
}

// startModel is suitekit.StartModel into reports/out/rekey-<name>/.
// Every scenario's lab then waits until ks1 has registered gm1 and gm2 on
// the wire.
func startModel(ctx context.Context, name, file string, m *scenario.Scenario, before func(*netns.Lab)) *suitekit.Scenario {
	s := suitekit.StartModel(ctx, "rekey-"+name, file, m, before)
	s.WaitOnWire(ctx, 20*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
	return s
}

// onWire returns the ISAKMP frames of exchange x captured on link from src
// to dst, every copy, in capture order, leaving out those inject sent: no
// key is needed.
func onWire(pkts []pcap.Packet, link string, x isakmp.ExchangeType, src, dst netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Link == link && p.ISAKMP != nil && p.ISAKMP.Type == uint8(x) && p.Src == src && p.Dst == dst && !injected(p) {
			out = append(out, p)
		}
	}
	return out
}

// wirePushes are the GROUPKEY-PUSHes on link from src to dst: each rekey
// transmission the KS sent, read from the wire alone.
func wirePushes(pkts []pcap.Packet, link string, src, dst netip.Addr) []pcap.Packet {
	return onWire(pkts, link, isakmp.ExchangeGroupkeyPush, src, dst)
}

// wireAcks are the GROUPKEY-PUSH-ACKs (exchange 35, RFC 8263) gm sent ks
// on link; the acknowledgement is in clear, so its SEQ reads without keys.
func wireAcks(pkts []pcap.Packet, link string, gm, ks netip.Addr) []pcap.Packet {
	return onWire(pkts, link, isakmp.ExchangeGroupkeyPushAck, gm, ks)
}

// kekOf is the KEK a GROUPKEY-PUSH travels under: its header's cookies.
func kekOf(p pcap.Packet) string { return p.ISAKMP.ICookie + p.ISAKMP.RCookie }

// hasKeyLog reports whether either end writes a key log, so PUSHes and
// ESP decrypt (suitekit.RequireKeyLog, without the skip).
func hasKeyLog() bool {
	return suitekit.Offers(impl.KS, impl.KeyLog) || suitekit.Offers(impl.GM, impl.KeyLog)
}

// waitPushes waits until at least n GROUPKEY-PUSHes from src to dst are on
// link and returns those there by then.
func waitPushes(ctx context.Context, s *suitekit.Scenario, link string, src, dst netip.Addr, n int, within time.Duration) []pcap.Packet {
	var got []pcap.Packet
	s.WaitOnWire(ctx, within, "GROUPKEY-PUSHes to "+dst.String()+" on "+link, func(pkts []pcap.Packet) bool {
		got = wirePushes(pkts, link, src, dst)
		return len(got) >= n
	})
	return got
}
