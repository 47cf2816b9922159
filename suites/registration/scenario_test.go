package registration

import (
	"context"
	"net/netip"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
)

// Addresses of basic.clab.yml and basic-2ks.clab.yml.
var (
	ks1 = netip.MustParseAddr("192.0.2.1")
	ks2 = netip.MustParseAddr("192.0.2.2")
	gm1 = netip.MustParseAddr("192.0.2.11")
	gm2 = netip.MustParseAddr("192.0.2.12")
)

// twoKS is basic-2ks.clab.yml in the neutral model: the default scenario
// with a second key server, ks2, which does not cooperate with ks1; the
// GMs list [ks1, ks2].
func twoKS() *scenario.Scenario {
	m := scenario.Default()
	m.KeyServers = append(m.KeyServers, scenario.KeyServer{Name: "ks2", Address: ks2, Order: 2})
	for i := range m.GroupMembers {
		m.GroupMembers[i].KSList = []string{"ks1", "ks2"}
	}
	return m
}

// startModel is suitekit.StartModel into reports/out/registration-<name>/.
func startModel(ctx context.Context, name, file string, m *scenario.Scenario, before func(*netns.Lab)) *suitekit.Scenario {
	return suitekit.StartModel(ctx, "registration-"+name, file, m, before)
}

// gaps returns the time between consecutive packets.
func gaps(ps []pcap.Packet) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ps); i++ {
		out = append(out, ps[i].Time.Sub(ps[i-1].Time))
	}
	return out
}
