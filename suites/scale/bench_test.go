package scale

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/swarmreport"
	"github.com/getlab/getlab/harness/topo"
)

// BenchmarkSwarm plays 8,000 group members against getvpnd's key server on
// topologies/scale.clab.yml (its own config, configs/scale-ks1.yaml:
// IKE aes256/sha256/group 14, unicast rekeys with acknowledgements), then
// has the KS rekey (`getctl ks rekey`) and reports, from the swarm's
// report: registrations per second, the registration latency's p50 and
// p99 (main mode message 1 to PULL 4), and the rekey's fan-out (first
// PUSH received to last acknowledgement sent). Needs root; `make bench`
// runs it once (-benchtime 1x).
func BenchmarkSwarm(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	for _, n := range []int{8000} {
		b.Run(fmt.Sprintf("gms=%d", n), func(b *testing.B) {
			for b.Loop() {
				r := swarmRun(b, n)
				g := r.Registrations
				b.ReportMetric(g.PerSecond, "registrations/s")
				b.ReportMetric(g.Latency.P50, "p50-ms")
				b.ReportMetric(g.Latency.P99, "p99-ms")
				if len(r.Rekeys) > 0 {
					b.ReportMetric(r.Rekeys[0].FanOutMS, "fanout-ms")
				}
				b.Logf("%d of %d registered (%d failed, %d retransmissions) in %.1f s: %.0f/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
					g.Succeeded, r.GMs, g.Failed, g.Retransmissions, g.Seconds, g.PerSecond, g.Latency.P50, g.Latency.P90, g.Latency.P99, g.Latency.Max)
				for _, rk := range r.Rekeys {
					b.Logf("rekey seq %d: fan-out %.1f ms, %d GMs took it, %d acknowledged, %d copies", rk.Seq, rk.FanOutMS, rk.GMs, rk.Acked, rk.Copies)
				}
				if len(r.Failures) > 0 || len(r.Errors) > 0 {
					b.Logf("failures %v, errors %v", r.Failures, r.Errors)
				}
			}
		})
	}
}

// swarmRun deploys the scale lab with n members, waits until they all
// registered (or gave up), has ks1 rekey, and returns the swarm's final
// report.
func swarmRun(b *testing.B, n int) *swarmreport.Report {
	b.Helper()
	t, err := topo.Load(filepath.Join("..", "..", "topologies", topology)) // go test runs in the package folder
	if err != nil {
		b.Fatal(err)
	}
	t.Node(swarmNode).Cmd = shellwords.Join(swarmArgs(n, 1))
	ctx := context.Background()
	lab, err := netns.Deploy(ctx, t, netns.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Destroy()
	wait := func(what string, within time.Duration, done func(*swarmreport.Report) bool) *swarmreport.Report {
		deadline := time.Now().Add(within)
		for {
			r, err := readReport(lab)
			if err == nil && done(r) {
				return r
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: not within %v (report: %+v, %v)", what, within, r, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	wait("registrations", 10*time.Minute, func(r *swarmreport.Report) bool {
		return r.Registrations.Succeeded+r.Registrations.Failed == n
	})
	var out bytes.Buffer
	if err := lab.Exec(ctx, "ks1", []string{"getctl", "ks", "rekey"}, nil, &out, &out); err != nil {
		b.Fatalf("getctl ks rekey: %v: %s", err, out.String())
	}
	return wait("the swarm's final report", 2*time.Minute, func(r *swarmreport.Report) bool { return r.Final })
}
