package wire_test

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"

	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/nsdo"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/testbuild"
	"github.com/getlab/getlab/harness/topo"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/harness/wire"
)

// TestMain builds getlab-wire (every command under cmd/) unless GETLAB_BIN
// names the binaries already (`make unit`).
func TestMain(m *testing.M) { testbuild.Main(m) }

// deploy brings up testdata/wire.clab.yml: a --eth1-- w --eth2-- b.
func deploy(tb testing.TB) (*netns.Lab, *wire.Client) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for network namespaces")
	}
	t, err := topo.Load("testdata/wire.clab.yml")
	if err != nil {
		tb.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), t, netns.Options{WatchStart: 500 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = lab.Destroy() })
	c := wire.Dial(fmt.Sprintf("/proc/%d/root%s", lab.Node("w").Holder, wire.NodeControlSocket))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Stats(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the wire's control socket: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return lab, c
}

// stream sends count probes from a to b at rate per second and returns
// what b received.
func stream(t *testing.T, lab *netns.Lab, count, rate int, during func()) traffic.Report {
	t.Helper()
	st, err := traffic.StartStream(context.Background(), traffic.StreamConfig{
		From:  traffic.Endpoint{NetNS: mustNS(t, lab, "a"), Addr: netip.MustParseAddr("10.99.0.1")},
		To:    traffic.Endpoint{NetNS: mustNS(t, lab, "b"), Addr: netip.MustParseAddr("10.99.0.2")},
		Count: count, Rate: rate, Drain: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during()
	}
	r, err := st.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The wire forwards untouched without rules, delays what a rule tells it
// to, and holds a frame until the bench releases it.
func TestWireForwardsDelaysAndHolds(t *testing.T) {
	lab, c := deploy(t)
	ctx := context.Background()
	r := stream(t, lab, 50, 100, nil)
	if r.Received != 50 || r.Latency.P50 >= 50*time.Millisecond {
		t.Fatalf("without rules: %d of 50 received, median latency %v", r.Received, r.Latency.P50)
	}
	if err := c.SetRules(ctx, "rules:\n  - {name: slow, from: eth1, match: {proto: udp, dst: 10.99.0.2}, delay: 120ms}\n"); err != nil {
		t.Fatal(err)
	}
	r = stream(t, lab, 20, 50, nil)
	if r.Received != 20 || r.Latency.Min < 120*time.Millisecond {
		t.Errorf("with 120 ms of delay: %d of 20 received, latency from %v", r.Received, r.Latency.Min)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Taken["slow"] != 20 || st.Delayed[wire.Eth1] != 20 || st.Delayed[wire.Eth2] != 0 {
		t.Errorf("stats: taken %v, delayed %v", st.Taken, st.Delayed)
	}

	// Hold the next probe; release it once it is held.
	if err := c.SetRules(ctx, "rules:\n  - {name: h, from: eth1, match: {proto: udp}, count: 1, hold: q}\n"); err != nil {
		t.Fatal(err)
	}
	r = stream(t, lab, 1, 10, func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			st, err := c.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Held["q"] == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing held: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		if n, err := c.Release(ctx, "q", 0); err != nil || n != 1 {
			t.Fatalf("released %d: %v", n, err)
		}
	})
	if r.Received != 1 || r.Latency.Min < 300*time.Millisecond {
		t.Fatalf("held probe: %d received, latency %v (held 300 ms at least)", r.Received, r.Latency.Min)
	}
	// The decision log names each frame a rule took.
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/run/getlab-wire/decisions.jsonl", lab.Node("w").Holder))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 21 {
		t.Fatalf("%d decisions, want 21 (twenty delays, one hold):\n%s", len(lines), log)
	}
	var last wire.Decision
	if err := json.Unmarshal([]byte(lines[20]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Rule != "h" || last.Action != "hold q" || last.Index == 0 || !strings.Contains(last.Frame, "10.99.0.1") {
		t.Errorf("last decision %+v", last)
	}
}

// Frames sent at once and frames sent later by the scheduler leave through
// the same port side by side: a reordering rule on a fast stream must
// deliver every probe once (two writers once shared the port's send
// headers, and CI saw a probe lost and another duplicated).
func TestWireReordersWithoutLossOrDuplicates(t *testing.T) {
	lab, c := deploy(t)
	if err := c.SetRules(context.Background(), "seed: 3\nrules:\n  - {name: r, from: eth1, match: {proto: udp}, delay: 3ms, jitter: 2ms, reorder: 0.3}\n"); err != nil {
		t.Fatal(err)
	}
	// The rules in force read back as set, seed included: what a bug
	// report's bundle keeps of a wire.
	if rs, err := c.Rules(context.Background()); err != nil || rs.Seed != 3 || len(rs.Rules) != 1 || rs.Rules[0].Name != "r" ||
		time.Duration(rs.Rules[0].Delay) != 3*time.Millisecond {
		t.Fatalf("rules read back: %+v, %v", rs, err)
	}
	r := stream(t, lab, 3000, 1000, nil)
	if r.Received != 3000 || r.Duplicated != 0 || r.Reordered == 0 {
		t.Fatalf("%d of 3000 received, %d duplicated, %d reordered", r.Received, r.Duplicated, r.Reordered)
	}
}

// BenchmarkWire measures the wire's own forwarding rate: 64-octet frames
// offered as fast as one packet socket sends them (sendmmsg, no UDP stack
// in the way) and counted as they arrive (the receiving interface's
// rx_packets: no socket reads them) — through the wire without rules and
// with a rule that takes, matches, decides on and logs every frame, and,
// in the same run, across a plain veth (c -- d), the anchor: what this
// machine delivers with no wire at all.
func BenchmarkWire(b *testing.B) {
	lab, c := deploy(b)
	for _, tc := range []struct{ name, from, to, rules string }{
		{"anchor-veth", "c", "d", ""},
		{"no-rules", "a", "b", ""},
		{"rule-every-frame", "a", "b", "rules:\n  - {name: all, match: {proto: udp, dport: 9}, duplicate: 0}\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if err := c.SetRules(context.Background(), tc.rules); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				offered, received := blast(b, lab, tc.from, tc.to, 2*time.Second)
				b.ReportMetric(received, "pkt/s")
				b.ReportMetric(offered, "offered-pkt/s")
			}
		})
	}
}

// blast sends 64-octet UDP frames from node from's eth1 to node to's for d
// and returns the rates offered and received.
func blast(b *testing.B, lab *netns.Lab, from, to string, d time.Duration) (offered, received float64) {
	b.Helper()
	mac, err := net.ParseMAC(strings.TrimSpace(readNode(b, lab, to, "/sys/class/net/eth1/address")))
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 64)
	copy(frame[0:6], mac)
	copy(frame[6:12], []byte{2, 0x99, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(frame[12:14], 0x0800)
	ip := frame[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:4], 50)
	copy(ip[12:16], []byte{10, 99, 0, 1})
	copy(ip[16:20], []byte{10, 99, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:12], ^uint16(sum))
	binary.BigEndian.PutUint16(frame[34:36], 4000)
	binary.BigEndian.PutUint16(frame[36:38], 9) // discard
	binary.BigEndian.PutUint16(frame[38:40], 30)

	var fd int
	if err := nsdo.Do(mustNS(b, lab, from), func() error {
		ifi, err := net.InterfaceByName("eth1")
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
			return err
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index})
	}); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	const batch = 64
	iov := unix.Iovec{Base: &frame[0]}
	iov.SetLen(len(frame))
	type mmsghdr struct {
		hdr unix.Msghdr
		len uint32
		_   [4]byte
	}
	hs := make([]mmsghdr, batch)
	for i := range hs {
		hs[i].hdr.Iov = &iov
		hs[i].hdr.SetIovlen(1)
	}
	before := rxPackets(b, lab, to)
	start := time.Now()
	sent := 0
	for time.Since(start) < d {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), batch, 0, 0, 0)
		if e == 0 {
			sent += int(n)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond) // what the wire still holds arrives
	return float64(sent) / elapsed.Seconds(), float64(rxPackets(b, lab, to)-before) / elapsed.Seconds()
}

func rxPackets(b *testing.B, lab *netns.Lab, node string) uint64 {
	v, err := strconv.ParseUint(strings.TrimSpace(readNode(b, lab, node, "/sys/class/net/eth1/statistics/rx_packets")), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// readNode reads a file as node sees it (sysfs of its network namespace).
func readNode(tb testing.TB, lab *netns.Lab, node, path string) string {
	tb.Helper()
	var out strings.Builder
	if err := lab.Exec(context.Background(), node, []string{"cat", path}, nil, &out, &out); err != nil {
		tb.Fatalf("%s: cat %s: %v: %s", node, path, err, out.String())
	}
	return out.String()
}

func mustNS(tb testing.TB, lab *netns.Lab, node string) string {
	ns, err := lab.NetNS(node)
	if err != nil {
		tb.Fatal(err)
	}
	return ns
}
