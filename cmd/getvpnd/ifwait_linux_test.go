package main

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/internal/syncbuf"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A lab wired the way containerlab wires it: the daemons start first, the
// link appears a second later, the KS's address with it, and the GM's
// address a second after that (containerlab runs a node's exec lines after
// its process has started).

const lateKS = `
role: ks
identity: 192.0.2.1
listen: {address: 192.0.2.1}
control_socket: %DIR%/ks.sock
log: {level: debug}
ike:
  pre_shared_keys: [{peer: 192.0.2.11, key: lab-secret}]
groups:
  - name: G
    id: 1
    rekey: {transport: unicast, signing_key: {bits: 1024}}
    acl: [{action: permit, protocol: ip, source: 10.1.0.0/24, destination: 10.2.0.0/24}]
`

const lateGM = `
role: gm
identity: 192.0.2.11
control_socket: %DIR%/gm.sock
log: {level: debug}
ike:
  pre_shared_keys: [{peer: 192.0.2.1, key: lab-secret}]
data_plane: {enabled: false}
groups:
  - {name: G, id: 1, ks_list: [192.0.2.1], registration_interface: eth1}
`

func TestGMRegistersOnceItsInterfaceIsReady(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	dir := t.TempDir()
	write := func(name, y string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(y, "%DIR%", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ksConf, gmConf := write("ks.yaml", lateKS), write("gm.yaml", lateGM)

	// Two anonymous namespaces: they go with their daemons and handles.
	ksNS, gmNS := newNS(t), newNS(t)
	ksH, err := netlink.NewHandleAt(ksNS)
	if err != nil {
		t.Fatal(err)
	}
	defer ksH.Close()
	gmH, err := netlink.NewHandleAt(gmNS)
	if err != nil {
		t.Fatal(err)
	}
	defer gmH.Close()
	for _, h := range []*netlink.Handle{ksH, gmH} {
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	ks := startIn(t, ksNS, ksConf)
	gm := startIn(t, gmNS, gmConf)
	start := time.Now()

	time.Sleep(time.Second)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "eth1", PeerNamespace: netlink.NsFd(gmNS)}
	if err := ksH.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	setUp(t, ksH, "192.0.2.1/24")
	setUpLink(t, gmH)
	time.Sleep(time.Second)
	setUp(t, gmH, "192.0.2.11/24")

	// The 10 s retry interval tells a GM that waited from one that lost
	// its first try: registered before it, it did not wait for a retry.
	deadline := start.Add(8 * time.Second)
	for !strings.Contains(gm.String(), "GM_REGS_COMPL") {
		if time.Now().After(deadline) {
			t.Fatalf("the GM did not register within 8 s of its start (its first try was lost)\nGM:\n%s\nKS:\n%s", gm, ks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		"registration interface eth1 does not exist yet: waiting for it before registering",
		"registration interface eth1 (address 192.0.2.11) ready after",
	} {
		if strings.Count(gm.String(), want) != 1 {
			t.Errorf("the GM's log does not have %q once:\n%s", want, gm)
		}
	}
	if strings.Contains(gm.String(), "GM_REGSTER_IF_DOWN") {
		t.Errorf("the GM tried to register before its interface was ready:\n%s", gm)
	}
}

// newNS makes an anonymous network namespace, leaving the calling thread's
// as it was.
func newNS(t *testing.T) netns.NsHandle {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// startIn runs getvpnd (this test binary, see TestMain) with config in ns.
// The child is forked from a thread switched to ns, so it starts there.
func startIn(t *testing.T, ns netns.NsHandle, config string) *syncbuf.Buffer {
	out := &syncbuf.Buffer{}
	cmd := exec.Command(os.Args[0], "--config", config)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = out, out
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with its namespace
		if err := netns.Set(ns); err != nil {
			done <- err
			return
		}
		done <- cmd.Start()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return out
}

func setUpLink(t *testing.T, h *netlink.Handle) netlink.Link {
	t.Helper()
	l, err := h.LinkByName("eth1")
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func setUp(t *testing.T, h *netlink.Handle, addr string) {
	t.Helper()
	l := setUpLink(t, h)
	a, err := netlink.ParseAddr(addr)
	if err == nil {
		err = h.AddrAdd(l, a)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestInterfaceWaitIsBounded: a GM whose interface never comes registers
// anyway once the wait's bound has passed, and says so.
func TestInterfaceWaitIsBounded(t *testing.T) {
	defer func(p, m time.Duration) { ifacePoll, ifaceWaitMax = p, m }(ifacePoll, ifaceWaitMax)
	ifacePoll, ifaceWaitMax = 10*time.Millisecond, 50*time.Millisecond
	var out syncbuf.Buffer
	ev := events.New(&out, "text", "debug")
	cfg := &config.Config{Role: config.RoleGM, Groups: []config.Group{{RegistrationInterface: "getlab-absent0"}}}
	if !waitRegistrationInterface(context.Background(), cfg, netip.Addr{}, ev) {
		t.Fatal("the wait reported a cancelled context")
	}
	for _, want := range []string{
		"registration interface getlab-absent0 does not exist yet: waiting for it",
		"registration interface getlab-absent0 does not exist yet after",
		"registering anyway",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if waitRegistrationInterface(ctx, cfg, netip.Addr{}, ev) {
		t.Error("the wait went on after its context ended")
	}
}
