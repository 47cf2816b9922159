package netns

import (
	"context"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/topo"
)

// BenchmarkUpDown measures bring-up and teardown of t with opts as separate
// metrics (ms-up/op, ms-down/op): the netns and docker benchmarks share it
// so that their figures are measured the same way.
func BenchmarkUpDown(b *testing.B, t *topo.Topology, opts Options) {
	var up, down time.Duration
	for b.Loop() {
		t0 := time.Now()
		lab, err := Deploy(context.Background(), t, opts)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := lab.Destroy(); err != nil {
			b.Fatal(err)
		}
		up += t1.Sub(t0)
		down += time.Since(t1)
	}
	b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-up/op")
	b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "ms-down/op")
}
