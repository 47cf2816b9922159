package registration

import (
	"context"
	"net/netip"
	"time"

	"github.com/getlab/getlab/harness/netns"
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

// startScenario is suitekit.StartScenario into reports/out/registration-<name>/.
func startScenario(ctx context.Context, name, file string, before func(*netns.Lab), edits ...suitekit.Edit) *suitekit.Scenario {
	return suitekit.StartScenario(ctx, "registration-"+name, file, before, edits...)
}

// gaps returns the time between consecutive packets.
func gaps(ps []pcap.Packet) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ps); i++ {
		out = append(out, ps[i].Time.Sub(ps[i-1].Time))
	}
	return out
}
