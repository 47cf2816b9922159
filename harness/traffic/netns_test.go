package traffic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
)

// lab is two namespaces, a and b, joined by a veth pair a0 <-> b0 with
// 192.0.2.1/24 and 2001:db8::1/64 on a0, 192.0.2.2/24 and 2001:db8::2/64
// on b0.
type lab struct {
	t              *testing.T
	nameA, nameB   string
	a, b           string // namespace paths
	a4, b4, a6, b6 netip.Addr
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	l := &lab{
		t:     t,
		nameA: "gltr-" + suffix + "a",
		nameB: "gltr-" + suffix + "b",
		a4:    netip.MustParseAddr("192.0.2.1"),
		b4:    netip.MustParseAddr("192.0.2.2"),
		a6:    netip.MustParseAddr("2001:db8::1"),
		b6:    netip.MustParseAddr("2001:db8::2"),
	}
	l.a, l.b = "/run/netns/"+l.nameA, "/run/netns/"+l.nameB
	for _, ns := range []string{l.nameA, l.nameB} {
		l.ip("netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	l.ip("-n", l.nameA, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", l.nameB)
	for _, c := range []struct{ ns, dev, v4, v6 string }{
		{l.nameA, "a0", "192.0.2.1/24", "2001:db8::1/64"},
		{l.nameB, "b0", "192.0.2.2/24", "2001:db8::2/64"},
	} {
		l.ip("-n", c.ns, "addr", "add", c.v4, "dev", c.dev)
		l.ip("-n", c.ns, "addr", "add", c.v6, "dev", c.dev, "nodad")
		l.ip("-n", c.ns, "link", "set", "lo", "up")
		l.ip("-n", c.ns, "link", "set", c.dev, "up")
	}
	// Packets sent before the kernel's link watcher reports the carrier
	// (up to a second late on a busy machine) are dropped: wait for it.
	for _, c := range []struct{ ns, dev string }{{l.nameA, "a0"}, {l.nameB, "b0"}} {
		for deadline := time.Now().Add(3 * time.Second); ; {
			out, _ := exec.Command("ip", "-n", c.ns, "-o", "link", "show", "dev", c.dev).Output()
			if strings.Contains(string(out), "state UP") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s has no carrier after 3s: %s", c.ns, c.dev, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return l
}

// waitIPv6 waits until IPv6 works on the veth pair: the kernel configures
// it on a link (multicast route, so neighbour discovery) once it sees the
// carrier, which the link watcher may report up to a second late.
func (l *lab) waitIPv6() {
	t := l.t
	t.Helper()
	for _, ns := range []string{l.nameA, l.nameB} {
		for deadline := time.Now().Add(3 * time.Second); ; {
			out, _ := exec.Command("ip", "-n", ns, "-6", "route", "show", "table", "local", "type", "multicast").Output()
			if strings.Contains(string(out), "ff00::/8") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: IPv6 not configured after 3s", ns)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func checkClean(t *testing.T, r Report, sent uint64) {
	t.Helper()
	if r.Sent != sent || r.Received != sent || r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.SendErrors != 0 {
		t.Errorf("want %d sent and received, nothing else: %v", sent, r)
	}
	l := r.Latency
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles not in order: %+v", l)
	}
	if l.P50 > 20*time.Millisecond || l.Max > time.Second {
		t.Errorf("latency not sane for a veth pair: %+v", l)
	}
}

func TestStreamComplete(t *testing.T) {
	l := newLab(t)
	s, err := StartStream(t.Context(), StreamConfig{
		From: Endpoint{NetNS: l.a, Addr: l.a4},
		To:   Endpoint{NetNS: l.b, Addr: l.b4},
		Rate: 5000, Count: 1000, Size: 200, DSCP: 46,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Wait()
	t.Log(r)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, 1000)
	if r.Foreign != 0 {
		t.Errorf("foreign datagrams: %v", r)
	}
	// 1000 probes at 5000 pps take 200 ms on schedule.
	if r.Elapsed < 199*time.Millisecond || r.Elapsed > time.Second {
		t.Errorf("sending took %v, want about 200ms", r.Elapsed)
	}
}

func TestStreamIPv6(t *testing.T) {
	l := newLab(t)
	l.waitIPv6()
	s, err := StartStream(t.Context(), StreamConfig{
		From: Endpoint{NetNS: l.a}, // source chosen by the kernel
		To:   Endpoint{NetNS: l.b, Addr: l.b6},
		Rate: 2000, Count: 200, DSCP: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Wait()
	t.Log(r)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, 200)
}

func TestStreamForeign(t *testing.T) {
	l := newLab(t)
	s, err := StartStream(t.Context(), StreamConfig{
		From: Endpoint{NetNS: l.a, Addr: l.a4},
		To:   Endpoint{NetNS: l.b, Addr: l.b4},
		Rate: 1000, Count: 300,
	})
	if err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	if err := nsdo.Do(l.a, func() (err error) {
		c, err = net.ListenPacket("udp4", "192.0.2.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := net.UDPAddrFromAddrPort(s.Dst())
	for _, b := range [][]byte{
		[]byte("hello"),  // short
		make([]byte, 64), // bad magic
		Header{StreamID: s.ID() + 1, Seq: 0}.Append(nil),   // other stream
		Header{StreamID: s.ID(), Seq: 1 << 40}.Append(nil), // never sent
	} {
		if _, err := c.WriteTo(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Wait()
	t.Log(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Foreign != 4 {
		t.Errorf("foreign = %d, want 4", r.Foreign)
	}
	checkClean(t, r, 300)
}

// The link goes down for 500 ms of a 1.5 s stream: probes are lost (the
// sender sees ENETUNREACH once the connected route is gone) and arrive again
// once it is back up.
func TestStreamLinkDown(t *testing.T) {
	l := newLab(t)
	s, err := StartStream(t.Context(), StreamConfig{
		From: Endpoint{NetNS: l.a, Addr: l.a4},
		To:   Endpoint{NetNS: l.b, Addr: l.b4},
		Rate: 1000, Duration: 1500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	time.Sleep(400 * time.Millisecond)
	before := s.Snapshot()
	l.ip("-n", l.nameA, "link", "set", "a0", "down")
	time.Sleep(500 * time.Millisecond)
	down := s.Snapshot()
	l.ip("-n", l.nameA, "link", "set", "a0", "up")
	t.Logf("before: %v", before)
	t.Logf("down:   %v", down)

	if lostWhileDown := down.Lost - before.Lost; lostWhileDown < 300 {
		t.Errorf("only %d more lost while the link was down", lostWhileDown)
	}
	r, err := s.Wait()
	t.Logf("final:  %v", r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 1500 {
		t.Errorf("sent %d, want 1500 (the stream must go on through send errors)", r.Sent)
	}
	if r.Lost < 300 || r.SendErrors == 0 {
		t.Errorf("want loss and send errors while the link was down: %v", r)
	}
	if r.Received < down.Received+300 {
		t.Errorf("received %d after the link came back, want about 600", r.Received-down.Received)
	}
	if r.Duplicated != 0 || r.Foreign != 0 {
		t.Errorf("unexpected duplicates or foreign datagrams: %v", r)
	}
}

func TestStreamStop(t *testing.T) {
	l := newLab(t)
	cfg := StreamConfig{
		From: Endpoint{NetNS: l.a, Addr: l.a4},
		To:   Endpoint{NetNS: l.b, Addr: l.b4},
		Rate: 1000, // no count, no duration: until stopped
	}
	s, err := StartStream(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r, err := s.Stop()
	t.Log(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent < 50 {
		t.Errorf("only %d sent in 100ms at 1000 pps", r.Sent)
	}
	checkClean(t, r, r.Sent)
	if r2, _ := s.Stop(); r2 != r {
		t.Errorf("second Stop: %v, want %v", r2, r)
	}

	ctx, cancel := context.WithCancel(t.Context())
	s, err = StartStream(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if _, err := s.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel: %v, want context.Canceled", err)
	}
}

func TestStreamConfigErrors(t *testing.T) {
	a4 := Endpoint{Addr: netip.MustParseAddr("127.0.0.1")}
	a6 := Endpoint{Addr: netip.MustParseAddr("::1")}
	for name, cfg := range map[string]StreamConfig{
		"no destination": {From: a4},
		"mixed families": {From: a4, To: a6},
		"tiny size":      {To: a4, Size: HeaderLen - 1},
		"huge size":      {To: a4, Size: MaxSize + 1},
		"negative rate":  {To: a4, Rate: -1},
		"DSCP":           {To: a4, DSCP: 64},
	} {
		if s, err := StartStream(t.Context(), cfg); err == nil {
			s.Stop()
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPing(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()

	rtt, err := Ping(ctx, l.a, l.b4, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping %v: %v", l.b4, rtt)
	if rtt <= 0 || rtt > 100*time.Millisecond {
		t.Errorf("rtt %v", rtt)
	}
	l.waitIPv6()
	rtt6, err := Ping(ctx, l.a, l.b6, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping %v: %v", l.b6, rtt6)

	// Several at once in one namespace: each gets its own reply.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := Ping(ctx, l.a, l.b4, time.Second); err != nil {
				t.Errorf("concurrent ping: %v", err)
			}
		})
	}
	n, err := PingN(ctx, l.b, l.a4, 5, 10*time.Millisecond, 500*time.Millisecond)
	if err != nil || n != 5 {
		t.Errorf("PingN = %d, %v; want 5, nil", n, err)
	}
	wg.Wait()

	noRoute := netip.MustParseAddr("198.51.100.1")
	start := time.Now()
	_, err = Ping(ctx, l.a, noRoute, time.Second)
	t.Logf("ping %v: %v after %v", noRoute, err, time.Since(start))
	if err == nil {
		t.Errorf("ping %v without a route succeeded", noRoute)
	}
	noHost := netip.MustParseAddr("192.0.2.99")
	start = time.Now()
	_, err = Ping(ctx, l.a, noHost, 300*time.Millisecond)
	took := time.Since(start)
	t.Logf("ping %v: %v after %v", noHost, err, took)
	if err == nil || took < 300*time.Millisecond || took > time.Second {
		t.Errorf("ping %v: %v after %v, want an error after the 300ms timeout", noHost, err, took)
	}
	if n, err := PingN(ctx, l.a, noHost, 3, 10*time.Millisecond, 100*time.Millisecond); err != nil || n != 0 {
		t.Errorf("PingN to no host = %d, %v; want 0, nil", n, err)
	}

	l.ip("-n", l.nameA, "link", "set", "a0", "down")
	if _, err := Ping(ctx, l.a, l.b4, 200*time.Millisecond); err == nil {
		t.Errorf("ping with the link down succeeded")
	}
	l.ip("-n", l.nameA, "link", "set", "a0", "up")
	if _, err := Ping(ctx, l.a, l.b4, time.Second); err != nil {
		t.Errorf("ping after link up: %v", err)
	}
}

// An ICMP error quoting the request fails the ping at once: b answers for
// an unreachable network behind it.
func TestPingUnreachable(t *testing.T) {
	l := newLab(t)
	l.ip("-n", l.nameA, "route", "add", "203.0.113.0/24", "via", "192.0.2.2")
	l.ip("-n", l.nameB, "route", "add", "unreachable", "203.0.113.0/24")
	// Only a router answers for the networks it cannot reach.
	if out, err := exec.Command("ip", "netns", "exec", l.nameB, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	start := time.Now()
	_, err := Ping(t.Context(), l.a, netip.MustParseAddr("203.0.113.5"), 2*time.Second)
	t.Logf("%v after %v", err, time.Since(start))
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > time.Second {
		t.Errorf("got %v, want ErrUnreachable before the timeout", err)
	}
}
