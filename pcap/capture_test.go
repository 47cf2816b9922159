package pcap

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func deployPlain(t *testing.T) *netns.Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	tp, err := topo.Load("../topologies/plain.clab.yml") // routes, no daemons: probes cross in clear
	if err != nil {
		t.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), tp, netns.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Destroy() })
	return lab
}

// captureProbes captures every link of the plain topology into a file in
// a temporary directory and starts a probe stream host-a -> host-b (UDP
// port 9000) of count probes at rate per second.
func captureProbes(t *testing.T, rate, count int) (*Capture, string, *traffic.Stream) {
	t.Helper()
	lab := deployPlain(t)
	pts, err := Points(lab.Topology(), lab.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	c, err := Start(path, pts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Stop() })
	hostA, _ := lab.NetNS("host-a")
	hostB, _ := lab.NetNS("host-b")
	s, err := traffic.StartStream(context.Background(), traffic.StreamConfig{
		From: traffic.Endpoint{NetNS: hostA, Addr: netip.MustParseAddr("198.51.100.10")},
		To:   traffic.Endpoint{NetNS: hostB, Addr: netip.MustParseAddr("203.0.113.10")},
		Port: 9000, Rate: rate, Count: count,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, path, s
}

// A probe stream host-a -> host-b is seen once on each link it crosses and
// on no other, and the file names every link.
func TestCaptureEveryLink(t *testing.T) {
	c, path, s := captureProbes(t, 2000, 100)
	if r, err := s.Wait(); err != nil || r.Received != 100 {
		t.Fatalf("probe: %v %v", r, err)
	}
	stats, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	probes := map[string]int{}
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if ci.Timestamp.Before(last) {
			t.Errorf("frame at %v written after one at %v", ci.Timestamp, last)
		}
		last = ci.Timestamp
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && udp.DstPort == 9000 {
			intf, err := r.Interface(ci.InterfaceIndex)
			if err != nil {
				t.Fatal(err)
			}
			probes[intf.Name]++
		}
	}
	want := map[string]int{"gm1:eth1": 100, "gm2:eth1": 100, "gm1:eth2": 100, "gm2:eth2": 100}
	for name, n := range want {
		if probes[name] != n {
			t.Errorf("%s: %d probes, want %d (all: %v)", name, probes[name], n, probes)
		}
	}
	if probes["ks1:eth1"] != 0 {
		t.Errorf("ks1's link carried %d probes", probes["ks1:eth1"])
	}
	if r.NInterfaces() != 5 {
		t.Errorf("%d interfaces, want one per link (5)", r.NInterfaces())
	}
	intf, _ := r.Interface(1)
	if intf.Name != "gm1:eth1" || intf.Description != "gm1:eth1 -- core:gm1-eth1" {
		t.Errorf("interface 1: %q %q", intf.Name, intf.Description)
	}
	for _, st := range stats {
		if st.Dropped != 0 {
			t.Errorf("%s: kernel dropped %d frames", st.Point.Name, st.Dropped)
		}
	}
}

// A capture read while it goes on, up to where Sync says its blocks are
// whole, decodes without error however busy the writer is: reading the
// whole file instead meets the block being written ("unexpected EOF").
func TestReadWhileCapturing(t *testing.T) {
	c, path, s := captureProbes(t, 5000, 5000)
	reads, last := 0, 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); reads++ {
		size, err := c.Sync()
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := ReadFilePrefix(path, size, nil)
		if err != nil {
			t.Fatalf("read %d (%d octets): %v", reads+1, size, err)
		}
		if len(pkts) < last {
			t.Fatalf("read %d: %d frames, fewer than the %d before", reads+1, len(pkts), last)
		}
		last = len(pkts)
		if last >= 4*5000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if r, err := s.Wait(); err != nil || r.Received != 5000 {
		t.Fatalf("probe: %v %v", r, err)
	}
	if reads < 10 || last == 0 {
		t.Errorf("%d reads saw %d frames: the capture was not read while it went on", reads, last)
	}
}
