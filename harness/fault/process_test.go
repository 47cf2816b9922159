package fault_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
)

// The process faults on a real lab: a node running `sleep` is frozen,
// resumed, restarted and killed, and its state follows.
func TestProcessFaultsOnLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	tp, err := topo.Load("../netns/testdata/procs.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), tp, netns.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Destroy() })
	var _ fault.Processes = lab

	expect := func(want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for lab.Node("worker").State() != want {
			if time.Now().After(deadline) {
				t.Fatalf("worker is %s, want %s", lab.Node("worker").State(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	steps := []struct {
		do   func(fault.Processes, string) error
		want string
	}{
		{fault.Stop, "stopped"},
		{fault.Continue, "running"},
		{fault.Restart, "running"},
		{fault.Kill, "exited"},
		{fault.Restart, "running"},
	}
	for _, s := range steps {
		if err := s.do(lab, "worker"); err != nil {
			t.Fatal(err)
		}
		expect(s.want)
	}
	if err := fault.Kill(lab, "nosuchnode"); err == nil {
		t.Error("a fault on an unknown node must fail")
	}
}
