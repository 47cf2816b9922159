package dataplane

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNewNetns runs fn on a locked OS thread in a network namespace of its
// own, which disappears with the thread.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) for a network namespace")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("this machine has no /dev/net/tun")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fn()
	}()
	<-done
}

func TestDeviceInstallsAndRemovesRouting(t *testing.T) {
	inNewNetns(t, func() {
		d := openWithVethWAN(t, 2)
		if d == nil {
			return
		}
		for _, name := range []string{"gvpn-lan", "gvpn-wan"} {
			l, err := netlink.LinkByName(name)
			if err != nil || l.Type() != "tuntap" || l.Attrs().MTU != 65535 {
				t.Errorf("%s: %v %v", name, l, err)
			}
		}
		rules, _ := netlink.RuleList(unix.AF_INET)
		type match struct {
			iif   string
			proto int
		}
		want := map[int]match{8200: {"lo", 0}, 8201: {"gvpn-lan", 0}, 8202: {"gvpn-wan", 0},
			8203: {"wan0", unix.IPPROTO_ESP}, 8204: {"wan0", 0}, 8205: {"", 0}}
		for _, r := range rules {
			if m, ok := want[r.Priority]; ok {
				if (match{r.IifName, r.IPProto}) != m {
					t.Errorf("rule %d: iif %q ipproto %d, want %q %d", r.Priority, r.IifName, r.IPProto, m.iif, m.proto)
				}
				delete(want, r.Priority)
			}
		}
		if len(want) != 0 {
			t.Errorf("rules missing: %v", want)
		}
		if rs, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: 202}, netlink.RT_FILTER_TABLE); err != nil || len(rs) != 1 || rs[0].Type != unix.RTN_LOCAL {
			t.Errorf("table 202: %v %v, want the local route that delivers ESP", rs, err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		rules, _ = netlink.RuleList(unix.AF_INET)
		for _, r := range rules {
			if r.Priority >= 8200 && r.Priority <= 8205 {
				t.Errorf("rule %d left after Close", r.Priority)
			}
		}
		if rs, _ := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: 202}, netlink.RT_FILTER_TABLE); len(rs) != 0 {
			t.Errorf("table 202 left after Close: %v", rs)
		}
		if _, err := netlink.LinkByName("gvpn-lan"); err == nil {
			t.Error("TUN left after Close")
		}
	})
}

// openWithVethWAN opens a Device with queues queues and tables 200-202
// in the current namespace, its WAN a new veth wan0; nil (the error
// reported) when it cannot.
func openWithVethWAN(t *testing.T, queues int) *Device {
	t.Helper()
	wan := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wan0"}, PeerName: "wan1"}
	if err := netlink.LinkAdd(wan); err != nil {
		t.Errorf("veth WAN: %v", err)
		return nil
	}
	d, err := OpenDevice(DeviceOptions{WANInterface: "wan0", Table: 200, Queues: queues})
	if err != nil {
		t.Errorf("OpenDevice: %v", err)
		return nil
	}
	return d
}

func TestDeviceNeedsWAN(t *testing.T) {
	inNewNetns(t, func() {
		if _, err := OpenDevice(DeviceOptions{WANInterface: "nope0", Table: 200}); err == nil {
			t.Error("OpenDevice without the WAN interface succeeded")
		}
		if _, err := netlink.LinkByName("gvpn-lan"); err == nil {
			t.Error("TUN left after a failed OpenDevice")
		}
	})
}

// site sets up a GM's namespace: WAN wan0 (192.0.2.11/24, default route
// via 192.0.2.1), LAN lan0 (10.1.0.1/24), IPv4 forwarding on.
func site(t *testing.T) bool {
	t.Helper()
	for _, l := range []struct{ name, peer, addr string }{{"wan0", "wan1", "192.0.2.11/24"}, {"lan0", "lan1", "10.1.0.1/24"}} {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.name}, PeerName: l.peer}); err != nil {
			t.Errorf("veth %s: %v", l.name, err)
			return false
		}
		a, _ := netlink.ParseAddr(l.addr)
		for _, name := range []string{l.name, l.peer} {
			link, err := netlink.LinkByName(name)
			if err == nil {
				err = netlink.LinkSetUp(link)
			}
			if err == nil && name == l.name {
				err = netlink.AddrAdd(link, a)
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return false
			}
		}
	}
	if err := netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP("192.0.2.1")}); err != nil {
		t.Errorf("default route: %v", err)
		return false
	}
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		t.Errorf("ip_forward: %v", err)
		return false
	}
	return true
}

// forwardedTo is where the kernel forwards a packet from src to dst that
// came in on iif ("" for the GM's own packets): the output interface's
// name, or the lookup's error (a blackhole answers EINVAL).
func forwardedTo(iif, src, dst string) (string, error) {
	opt := &netlink.RouteGetOptions{Iif: iif}
	if iif != "" {
		opt.SrcAddr = net.ParseIP(src)
	}
	rs, err := netlink.RouteGetWithOptions(net.ParseIP(dst), opt)
	if err != nil {
		return "", err
	}
	if len(rs) == 0 {
		return "", errors.New("no route")
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return "", err
	}
	return l.Attrs().Name, nil
}

// paths checks where forwarded LAN->WAN and WAN->LAN traffic goes (an
// interface name or "drop"); the GM's own traffic always leaves on wan0.
func paths(t *testing.T, stage, lanToWAN, wanToLAN string) {
	t.Helper()
	for _, c := range []struct{ iif, src, dst, want string }{
		{"lan0", "10.1.0.5", "10.2.0.5", lanToWAN},
		{"wan0", "10.2.0.5", "10.1.0.5", wanToLAN},
		{"", "", "10.2.0.5", "wan0"},
	} {
		got, err := forwardedTo(c.iif, c.src, c.dst)
		if err != nil {
			got = "drop"
			if !errors.Is(err, unix.EINVAL) {
				got = err.Error()
			}
		}
		if got != c.want {
			t.Errorf("%s: %s -> %s in on %q goes to %s, want %s", stage, c.src, c.dst, c.iif, got, c.want)
		}
	}
}

// kill does what the kernel does when the daemon dies: the TUN queues
// close (and the devices with them), nothing else runs.
func kill(t *testing.T, d *Device) {
	t.Helper()
	closeAll(d.lanQ)
	closeAll(d.wanQ)
	unix.Close(d.raw)
	for _, name := range []string{d.LANName(), d.WANName()} {
		if _, err := netlink.LinkByName(name); err == nil {
			t.Errorf("%s still there after its queues closed", name)
		}
	}
}

// ruleCount is the number of rules with priorities 8200 to 8204.
func ruleCount() int {
	rules, _ := netlink.RuleList(unix.AF_INET)
	n := 0
	for _, r := range rules {
		if r.Priority >= 8200 && r.Priority <= 8204 {
			n++
		}
	}
	return n
}

func TestGuardDropsForwardedTrafficWhileTheDataPlaneIsDown(t *testing.T) {
	inNewNetns(t, func() {
		if !site(t) {
			return
		}
		paths(t, "before the data plane", "wan0", "lan0")
		opt := DeviceOptions{WANInterface: "wan0", Table: 200, Queues: 2, Guard: true}
		d, err := OpenDevice(opt)
		if err != nil {
			t.Errorf("OpenDevice: %v", err)
			return
		}
		paths(t, "running", "gvpn-lan", "gvpn-wan")

		kill(t, d)
		paths(t, "killed", "drop", "drop")
		if n := ruleCount(); n != 5 {
			t.Errorf("killed: %d rules, want the 5 left in place", n)
		}

		// A new daemon replaces what the killed one left, without
		// duplicates, and a clean stop keeps traffic dropped.
		if d, err = OpenDevice(opt); err != nil {
			t.Errorf("OpenDevice after a kill: %v", err)
			return
		}
		paths(t, "restarted", "gvpn-lan", "gvpn-wan")
		if n := ruleCount(); n != 5 {
			t.Errorf("restarted: %d rules, want 5", n)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		paths(t, "stopped", "drop", "drop")

		// Without the guard (daemon_down: pass) the predecessor's
		// blackholes go, and a stop or a kill leaves the main table.
		opt.Guard = false
		if d, err = OpenDevice(opt); err != nil {
			t.Errorf("OpenDevice without guard: %v", err)
			return
		}
		paths(t, "running without guard", "gvpn-lan", "gvpn-wan")
		kill(t, d)
		paths(t, "killed without guard", "wan0", "lan0")
		if err := Release(200); err != nil {
			t.Errorf("Release: %v", err)
		}
		if n := ruleCount(); n != 0 {
			t.Errorf("released: %d rules left", n)
		}

		// Release also removes a guard.
		if d, err = OpenDevice(DeviceOptions{WANInterface: "wan0", Table: 200, Guard: true}); err != nil {
			t.Errorf("OpenDevice: %v", err)
			return
		}
		d.Close()
		paths(t, "stopped again", "drop", "drop")
		if err := Release(200); err != nil {
			t.Errorf("Release: %v", err)
		}
		paths(t, "released", "wan0", "lan0")
	})
}

func TestStaleRulesAreReplacedWithoutAGap(t *testing.T) {
	inNewNetns(t, func() {
		if !site(t) {
			return
		}
		// A predecessor's rule 8203 for another WAN interface.
		stale := netlink.NewRule()
		stale.Family, stale.Priority, stale.IifName, stale.Table = unix.AF_INET, 8203, "old0", 201
		if err := netlink.RuleAdd(stale); err != nil {
			t.Errorf("stale rule: %v", err)
			return
		}
		d, err := OpenDevice(DeviceOptions{WANInterface: "wan0", Table: 200, Guard: true})
		if err != nil {
			t.Errorf("OpenDevice: %v", err)
			return
		}
		defer Release(200)
		defer d.Close()
		rules, _ := netlink.RuleList(unix.AF_INET)
		for _, r := range rules {
			if r.Priority == 8203 && r.IifName != "wan0" {
				t.Errorf("stale rule left: %v", r)
			}
		}
		if n := ruleCount(); n != 5 {
			t.Errorf("%d rules, want 5", n)
		}
	})
}

// The ESP socket reports what it dropped for a full buffer with each read
// (SO_RXQ_OVFL), which espLoop counts as in_drop_queue_full.
func TestESPSocketReportsDrops(t *testing.T) {
	inNewNetns(t, func() {
		lo, _ := netlink.LinkByName("lo")
		if err := netlink.LinkSetUp(lo); err != nil {
			t.Errorf("lo up: %v", err)
			return
		}
		in, err := openESPIn()
		if err != nil {
			t.Error(err)
			return
		}
		defer in.Close()
		_ = in.SetReadBuffer(1) // the kernel's minimum: a few packets
		out, err := net.DialIP("ip4:50", nil, &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer out.Close()
		for range 200 {
			if _, err := out.Write(make([]byte, 1000)); err != nil {
				t.Error(err)
				return
			}
		}
		// What filled the buffer was queued before the drops: a packet
		// queued after them carries the count.
		bufs, oobs := make([][]byte, 200), make([][]byte, 200)
		for i := range bufs {
			bufs[i], oobs[i] = make([]byte, 2048), make([]byte, unix.CmsgSpace(4))
		}
		r, err := newBatchReader(in, bufs, oobs)
		if err != nil {
			t.Error(err)
			return
		}
		queued, err := r.Read()
		if err != nil || queued == 0 || queued >= 200 {
			t.Errorf("read %d of 200 (%v): want what the tiny buffer held", queued, err)
			return
		}
		for i := range queued {
			if r.Sizes[i] != 20+1000 {
				t.Errorf("datagram %d: %d octets, want the IPv4 header and 1000", i, r.Sizes[i])
			}
		}
		if _, err := out.Write(make([]byte, 1000)); err != nil {
			t.Error(err)
			return
		}
		if n, err := r.Read(); err != nil || n != 1 {
			t.Errorf("second read: %d %v", n, err)
			return
		}
		// And reading allocates nothing.
		small := make([]byte, 100)
		if allocs := testing.AllocsPerRun(50, func() {
			_, _ = out.Write(small)
			_, _ = r.Read()
		}); allocs != 0 {
			t.Errorf("%.1f allocations per write and read, want none", allocs)
		}
		d, ok := socketDrops(oobs[0][:r.OOBSizes[0]])
		if !ok || d == 0 || d >= 200 {
			t.Errorf("drops %d (reported %v), want some of the 200 sent into a tiny buffer", d, ok)
		}
	})
}

// socketDrops finds the count after other control messages and refuses
// truncated ones.
func TestSocketDropsParsing(t *testing.T) {
	cmsg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	ovfl := cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, []byte{7, 0, 0, 0})
	other := cmsg(unix.IPPROTO_IP, unix.IP_TTL, []byte{64, 0, 0, 0, 0})
	if d, ok := socketDrops(append(other, ovfl...)); !ok || d != 7 {
		t.Errorf("after another message: %d %v", d, ok)
	}
	if _, ok := socketDrops(ovfl[:unix.SizeofCmsghdr+2]); ok {
		t.Error("a truncated message read")
	}
	if _, ok := socketDrops(nil); ok {
		t.Error("nothing read as a count")
	}
}

// A TUN worker's check for waiting packets says no on an empty queue and
// allocates nothing: it runs once per packet read.
func TestReadinessCheck(t *testing.T) {
	inNewNetns(t, func() {
		d := openWithVethWAN(t, 1)
		if d == nil {
			return
		}
		defer d.Close()
		more := readiness(d.lanQ[0])
		if more() {
			t.Error("an empty queue has a packet waiting")
		}
		if allocs := testing.AllocsPerRun(100, func() { more() }); allocs != 0 {
			t.Errorf("%.1f allocations per check", allocs)
		}
	})
}
