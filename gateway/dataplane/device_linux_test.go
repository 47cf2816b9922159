package dataplane

import (
	"os"
	"runtime"
	"testing"

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
		wan := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wan0"}, PeerName: "wan1"}
		if err := netlink.LinkAdd(wan); err != nil {
			t.Errorf("veth WAN: %v", err)
			return
		}
		d, err := OpenDevice(DeviceOptions{WANInterface: "wan0", Table: 200, Queues: 2})
		if err != nil {
			t.Errorf("OpenDevice: %v", err)
			return
		}
		for _, name := range []string{"gvpn-lan", "gvpn-wan"} {
			l, err := netlink.LinkByName(name)
			if err != nil || l.Type() != "tuntap" || l.Attrs().MTU != 65535 {
				t.Errorf("%s: %v %v", name, l, err)
			}
		}
		rules, _ := netlink.RuleList(unix.AF_INET)
		want := map[int]string{8200: "lo", 8201: "gvpn-lan", 8202: "gvpn-wan", 8203: "wan0", 8204: ""}
		for _, r := range rules {
			if iif, ok := want[r.Priority]; ok {
				if r.IifName != iif {
					t.Errorf("rule %d: iif %q, want %q", r.Priority, r.IifName, iif)
				}
				delete(want, r.Priority)
			}
		}
		if len(want) != 0 {
			t.Errorf("rules missing: %v", want)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		rules, _ = netlink.RuleList(unix.AF_INET)
		for _, r := range rules {
			if r.Priority >= 8200 && r.Priority <= 8204 {
				t.Errorf("rule %d left after Close", r.Priority)
			}
		}
		if _, err := netlink.LinkByName("gvpn-lan"); err == nil {
			t.Error("TUN left after Close")
		}
	})
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
