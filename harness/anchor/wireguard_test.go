package anchor

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
)

// TestWireGuardCarriesTheSites builds wireguard-go from its module, runs it
// on plain.clab.yml's GMs and checks that host-a reaches host-b through
// the tunnel: gm1 routes site b into it, the ping answers, and the echo
// requests come out of gm2's tunnel interface.
func TestWireGuardCarriesTheSites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	bin := filepath.Join(t.TempDir(), "wireguard-go")
	if out, err := exec.Command("go", "build", "-o", bin, "golang.zx2c4.com/wireguard").CombinedOutput(); err != nil {
		t.Fatalf("building wireguard-go: %v\n%s", err, out)
	}
	tp, err := topo.Load("../../topologies/plain.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), tp, netns.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Destroy() })
	w, err := StartWireGuard(lab, bin,
		Peer{Node: "gm1", WAN: netip.MustParseAddr("192.0.2.11"), Site: netip.MustParsePrefix("198.51.100.0/24")},
		Peer{Node: "gm2", WAN: netip.MustParseAddr("192.0.2.12"), Site: netip.MustParsePrefix("203.0.113.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	run := func(node string, argv ...string) string {
		t.Helper()
		var out, errb strings.Builder
		if err := lab.Exec(context.Background(), node, argv, nil, &out, &errb); err != nil {
			t.Fatalf("%s: %v: %v %s", node, argv, err, errb.String())
		}
		return out.String()
	}
	if r := run("gm1", "ip", "route", "get", "203.0.113.10"); !strings.Contains(r, "dev wg-gm1") {
		t.Fatalf("gm1 routes site b %q, want through wg-gm1", r)
	}
	run("host-a", "busybox", "ping", "-c", "3", "-W", "2", "203.0.113.10")
	// The three echo requests came out of gm2's end of the tunnel.
	for _, line := range strings.Split(run("gm2", "cat", "/proc/net/dev"), "\n") {
		name, counters, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "wg-gm2" {
			continue
		}
		f := strings.Fields(counters) // rx bytes, rx packets, ...
		if n, err := strconv.Atoi(f[min(1, len(f)-1)]); err != nil || n < 3 {
			t.Fatalf("wg-gm2 received %v, want at least the 3 echo requests", f)
		}
		return
	}
	t.Fatal("gm2 has no wg-gm2 interface")
}
