package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getlab/getlab/internal/syncbuf"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A GM daemon in a network namespace of its own: killed, it leaves its
// site dropping forwarded traffic; stopped, too, unless its configuration
// says daemon_down: pass.

const failClosedGM = `
role: gm
control_socket: %DIR%/control.sock
log: {level: debug}
timers: {scale: 0.01}
ike:
  pre_shared_keys: [{peer: 192.0.2.1, key: lab-secret}]
data_plane: {queues: 1, daemon_down: %MODE%}
groups:
  - {name: G, id: 1, ks_list: [192.0.2.1], registration_interface: wan0}
`

func TestGMDaemonNeverFailsOpen(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("this machine has no /dev/net/tun")
	}
	dir := t.TempDir()
	config := func(mode string) string {
		path := filepath.Join(dir, mode+".yaml")
		y := strings.NewReplacer("%DIR%", dir, "%MODE%", mode).Replace(failClosedGM)
		if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	drop, pass := config("drop"), config("pass")
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		if err := gmSite(); err != nil {
			t.Errorf("site: %v", err)
			return
		}
		want := func(stage, lanToWAN string) {
			t.Helper()
			if got := forwardedFromLAN(); got != lanToWAN {
				t.Errorf("%s: LAN traffic goes to %s, want %s", stage, got, lanToWAN)
			}
		}
		want("no daemon yet", "wan0")

		// Processes started from this locked thread run in its namespace.
		for _, s := range []struct {
			config string
			sig    syscall.Signal
			after  string
		}{
			{drop, syscall.SIGKILL, "drop"},
			{drop, syscall.SIGTERM, "drop"}, // and the restart replaced what the killed one left
			{pass, syscall.SIGTERM, "wan0"},
		} {
			stage := fmt.Sprintf("%s, %v", filepath.Base(s.config), s.sig)
			gm, err := startGM(t, s.config)
			if err != nil {
				t.Errorf("%s: %v", stage, err)
				return
			}
			want(stage+": running", "gvpn-lan")
			if err := gm.stop(s.sig); err != nil {
				t.Errorf("%s: %v", stage, err)
				return
			}
			want(stage+": exited", s.after)
		}
	}()
	<-done
}

// gmSite makes a GM's namespace: WAN wan0 (192.0.2.11/24, default route
// via 192.0.2.1), LAN lan0 (10.1.0.1/24), forwarding on.
func gmSite() error {
	for _, l := range []struct{ name, peer, addr string }{{"wan0", "wan1", "192.0.2.11/24"}, {"lan0", "lan1", "10.1.0.1/24"}} {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.name}, PeerName: l.peer}); err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(l.addr)
		for _, name := range []string{"lo", l.name, l.peer} {
			link, err := netlink.LinkByName(name)
			if err == nil {
				err = netlink.LinkSetUp(link)
			}
			if err == nil && name == l.name {
				err = netlink.AddrAdd(link, a)
			}
			if err != nil {
				return err
			}
		}
	}
	if err := netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP("192.0.2.1")}); err != nil {
		return err
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
}

// forwardedFromLAN is the interface the kernel forwards 10.1.0.5 ->
// 10.2.0.5 from lan0 to, or "drop" for a blackhole.
func forwardedFromLAN() string {
	rs, err := netlink.RouteGetWithOptions(net.ParseIP("10.2.0.5"), &netlink.RouteGetOptions{Iif: "lan0", SrcAddr: net.ParseIP("10.1.0.5")})
	switch {
	case errors.Is(err, unix.EINVAL):
		return "drop"
	case err != nil:
		return err.Error()
	case len(rs) == 0:
		return "no route"
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return err.Error()
	}
	return l.Attrs().Name
}

type gmProcess struct {
	cmd *exec.Cmd
	out *syncbuf.Buffer
}

// startGM runs getvpnd (this test binary, see TestMain) with config and
// waits for its data plane.
func startGM(t *testing.T, config string) (*gmProcess, error) {
	p := &gmProcess{out: &syncbuf.Buffer{}}
	p.cmd = exec.Command(os.Args[0], "--config", config)
	p.cmd.Env = append(os.Environ(), runMainEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := netlink.LinkByName("gvpn-lan"); err == nil && strings.Contains(p.out.String(), "data plane: WAN wan0") {
			return p, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no data plane: %s", p.out.String())
		}
	}
}

// stop sends sig and waits for the daemon to exit (its TUNs with it).
func (p *gmProcess) stop(sig syscall.Signal) error {
	p.cmd.Process.Signal(sig)
	if err := p.cmd.Wait(); sig == syscall.SIGTERM && err != nil {
		return fmt.Errorf("getvpnd after SIGTERM: %v: %s", err, p.out.String())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := netlink.LinkByName("gvpn-lan"); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("gvpn-lan still there after the daemon exited")
		}
	}
}
