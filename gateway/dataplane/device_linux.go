package dataplane

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// DeviceOptions say where the data plane sits in the GM's namespace.
type DeviceOptions struct {
	// WANInterface is the WAN side (the registration interface): ESP
	// from it is delivered to the data plane's ESP socket, other traffic
	// the kernel forwards from it goes to the WAN TUN, traffic from every
	// other interface to the LAN TUN.
	WANInterface string
	// Table is the routing table of LAN-side traffic; Table+1 is the WAN
	// side's, Table+2 the ESP's. The rules take priorities 8000+Table to
	// 8000+Table+5.
	Table int
	// Queues is the number of TUN queues per device, one worker each.
	Queues int
	// LANName and WANName name the TUN devices ("gvpn-lan", "gvpn-wan"
	// when empty).
	LANName, WANName string
	// Guard keeps the traffic the rules send to the data plane from
	// being forwarded in clear while the data plane is not running: a
	// blackhole default route in each table, installed before the TUNs,
	// under their routes, and left in place with the rules when the TUNs
	// go, whether the daemon stops, crashes or is killed. Without it,
	// OpenDevice removes a predecessor's blackholes and Close removes the
	// rules, so that the kernel forwards by the main table again.
	Guard bool
	// MulticastLAN are the LAN interfaces whose IPv4 multicast the data
	// plane routes itself (config data_plane.multicast.lan, DP-60;
	// multicast.go): what a permit encrypts goes to its group as ESP out
	// of the WAN interface, and the multicast ESP from the WAN it
	// decrypts goes out of each of them. Empty: the GM routes no
	// multicast.
	MulticastLAN []string
}

// Device is the data plane's place in the forwarding path: two multi-queue
// TUN devices, a raw ESP socket and the policy routing rules that send
// forwarded traffic into them (DESIGN.md "Data plane on a GM"):
//
//	8000+T    from all iif lo goto 32766            the GM's own traffic: main table
//	8000+T+1  from all iif gvpn-lan goto 32766      results written back: main table
//	8000+T+2  from all iif gvpn-wan goto 32766
//	8000+T+3  from all iif <WAN> ipproto esp lookup T+2  ESP from the WAN: local 0.0.0.0/0 dev lo
//	8000+T+4  from all iif <WAN> lookup T+1         forwarded from the WAN: default dev gvpn-wan
//	8000+T+5  from all lookup T                     forwarded from the LAN: default dev gvpn-lan
//
// Packets addressed to the GM are delivered by the local table (priority 0)
// before any of these. ESP from the WAN, whatever its destination (the
// original header is kept, so it is a LAN host's), is delivered locally
// as well, by table T+2's local route, as a transparent proxy's traffic
// is: the kernel reassembles it and queues it on the raw ESP socket, which
// one worker reads a batch per recvmmsg (a TUN gives one packet per
// read). The decrypted packets are written into the WAN TUN and forwarded
// from there. With Guard, tables T and T+1 also hold a blackhole default
// route of the lowest preference: while a TUN exists its route wins; when
// it disappears (the last queue closed by a stop, a crash or a kill) the
// kernel deletes its route and forwarded traffic meets the blackhole; ESP
// goes on being delivered locally, to no socket, and is dropped.
type Device struct {
	opt        DeviceOptions
	lanQ, wanQ []tun.Device
	raw        int           // raw IPv4 socket (IP_HDRINCL) for the GM's own ICMP errors
	espOut     []*net.IPConn // raw IPv4 sockets for the ESP the LAN queues make, one each
	espIn      *net.IPConn   // raw ESP socket: the ESP from the WAN, read by espLoop
	rules      []*netlink.Rule
	routes     []*netlink.Route
	mcast      *mcastDevice // nil without MulticastLAN
	closeOnce  sync.Once
	started    atomic.Bool
}

// OpenDevice creates the TUN devices and installs the routing. It needs
// CAP_NET_ADMIN in the GM's network namespace and /dev/net/tun.
func OpenDevice(o DeviceOptions) (d *Device, err error) {
	if o.LANName == "" {
		o.LANName = "gvpn-lan"
	}
	if o.WANName == "" {
		o.WANName = "gvpn-wan"
	}
	o.Queues = max(o.Queues, 1)
	if o.WANInterface == "" {
		return nil, errors.New("data plane: no WAN interface")
	}
	if _, err := netlink.LinkByName(o.WANInterface); err != nil {
		return nil, fmt.Errorf("data plane: WAN interface %s: %w", o.WANInterface, err)
	}
	d = &Device{opt: o, raw: -1}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if o.Guard {
		if err := installGuard(o.Table); err != nil {
			return nil, err
		}
	}
	if d.lanQ, err = openTUN(o.LANName, o.Queues); err != nil {
		return nil, err
	}
	if d.wanQ, err = openTUN(o.WANName, o.Queues); err != nil {
		return nil, err
	}
	for _, name := range []string{o.LANName, o.WANName} {
		// No IPv6 on the TUNs: the kernel would send its own router
		// solicitations and MLD reports into them.
		_ = writeSysctl("net/ipv6/conf/"+name+"/disable_ipv6", "1")
		if err := linkUp(name); err != nil {
			return nil, err
		}
	}
	// The ESP socket is there before the rule that delivers ESP to it.
	if d.espIn, err = openESPIn(); err != nil {
		return nil, err
	}
	if err := d.route(); err != nil {
		return nil, err
	}
	if !o.Guard {
		// A predecessor's blackholes go only now, once the TUN routes
		// are in place.
		if err := removeGuard(o.Table); err != nil {
			return nil, err
		}
	}
	if d.raw, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		return nil, fmt.Errorf("data plane: raw socket: %w", err)
	}
	// One ESP output socket per LAN queue (Options.ESPOut), opened here so
	// that a data plane that cannot have them does not start, rather than
	// send ESP another way than its engine counts on.
	for range d.lanQ {
		c, err := net.ListenPacket("ip4:255", "0.0.0.0") // IPPROTO_RAW: send only, IP_HDRINCL
		if err != nil {
			return nil, fmt.Errorf("data plane: ESP output socket: %w", err)
		}
		d.espOut = append(d.espOut, c.(*net.IPConn))
	}
	if len(o.MulticastLAN) > 0 {
		if d.mcast, err = openMulticast(o.WANInterface, o.MulticastLAN); err != nil {
			return nil, err
		}
	}
	if err := relaxRPFilter(o.LANName, o.WANName); err != nil {
		return nil, err
	}
	return d, nil
}

// openTUN opens n queues of the multi-queue TUN device name (created by the
// first open; it disappears when the last queue is closed).
func openTUN(name string, n int) ([]tun.Device, error) {
	var qs []tun.Device
	for range n {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			closeAll(qs)
			return nil, fmt.Errorf("data plane: /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			closeAll(qs)
			return nil, fmt.Errorf("data plane: TUN %s: %w", name, err)
		}
		// IFF_VNET_HDR: the kernel hands over TCP and UDP segmentation
		// offload superpackets (up to 64 KB in one read, split in user
		// space) and takes coalesced ones back (GRO on write), as
		// wireguard-go does; its tun package does both.
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			closeAll(qs)
			return nil, fmt.Errorf("data plane: TUN %s: TUNSETIFF: %w", name, err)
		}
		// Non-blocking (CreateUnmonitoredTUNFromFD keeps it so), so that
		// reads go through Go's poller and Close wakes a blocked reader.
		dev, _, err := tun.CreateUnmonitoredTUNFromFD(fd)
		if err != nil {
			unix.Close(fd)
			closeAll(qs)
			return nil, fmt.Errorf("data plane: TUN %s: offloads: %w", name, err)
		}
		qs = append(qs, dev)
	}
	return qs, nil
}

func closeAll(qs []tun.Device) {
	for _, q := range qs {
		q.Close()
	}
}

// linkUp sets the TUN up with an MTU that never makes the kernel fragment
// or refuse what it routes into it (the engine fits packets to the WAN
// MTU itself) and a queue long enough for bursts.
func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("data plane: %s: %w", name, err)
	}
	if err := netlink.LinkSetMTU(l, 65535); err != nil {
		return fmt.Errorf("data plane: %s: MTU: %w", name, err)
	}
	if err := netlink.LinkSetTxQLen(l, 1000); err != nil {
		return fmt.Errorf("data plane: %s: txqueuelen: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("data plane: %s: up: %w", name, err)
	}
	return nil
}

const mainRulePriority = 32766

func (d *Device) route() error {
	o := d.opt
	for i, name := range []string{o.LANName, o.WANName} {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Table: o.Table + i, Scope: netlink.SCOPE_LINK,
			Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("data plane: default route in table %d: %w", r.Table, err)
		}
		d.routes = append(d.routes, r)
	}
	esp := espRoute(o.Table)
	if err := netlink.RouteReplace(esp); err != nil {
		return fmt.Errorf("data plane: local route in table %d: %w", esp.Table, err)
	}
	d.routes = append(d.routes, esp)
	toMain := func(pref int, iif string) *netlink.Rule {
		r := netlink.NewRule()
		r.Family, r.Priority, r.IifName = unix.AF_INET, pref, iif
		if hasRule(mainRulePriority) {
			r.Goto = mainRulePriority
		} else {
			r.Table = unix.RT_TABLE_MAIN
		}
		return r
	}
	base := 8000 + o.Table
	espIn := netlink.NewRule()
	espIn.Family, espIn.Priority, espIn.IifName, espIn.IPProto, espIn.Table = unix.AF_INET, base+3, o.WANInterface, unix.IPPROTO_ESP, o.Table+2
	wan := netlink.NewRule()
	wan.Family, wan.Priority, wan.IifName, wan.Table = unix.AF_INET, base+4, o.WANInterface, o.Table+1
	lan := netlink.NewRule()
	lan.Family, lan.Priority, lan.Table = unix.AF_INET, base+5, o.Table
	d.rules = []*netlink.Rule{toMain(base, "lo"), toMain(base+1, o.LANName), toMain(base+2, o.WANName), espIn, wan, lan}
	return syncRules(d.rules, base, base+lastRule)
}

// lastRule is the last of the data plane's rule priorities, 8000+T+lastRule.
const lastRule = 5

// espRoute is table T+2's only route: everything it is asked for is local,
// which delivers the ESP the rule looks up there to the raw ESP socket.
func espRoute(table int) *netlink.Route {
	return &netlink.Route{Table: table + 2, Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST, LinkIndex: 1, // lo
		Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}
}

// espInBuffer is the raw ESP socket's receive buffer: a burst the WAN
// workers have not read yet waits there, as it did in a TUN's queue of
// 1000 packets.
const espInBuffer = 4 << 20

// openESPIn opens the raw socket the ESP from the WAN is delivered to:
// every ESP packet delivered locally, with its IPv4 header, reassembled.
func openESPIn() (*net.IPConn, error) {
	c, err := net.ListenPacket("ip4:50", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("data plane: ESP input socket: %w", err)
	}
	ic := c.(*net.IPConn)
	_ = ic.SetReadBuffer(espInBuffer) // best effort: the default only drops sooner
	// Each read then says how many packets the socket has dropped for a
	// full buffer (espLoop counts them): a TUN's drops showed in its
	// statistics, a socket's only in /proc/net/raw.
	rc, err := ic.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) })
	}
	if err != nil {
		ic.Close()
		return nil, fmt.Errorf("data plane: ESP input socket: %w", err)
	}
	return ic, nil
}

// socketDrops reads the SO_RXQ_OVFL control message in oob: the socket's
// count of packets dropped for a full buffer, as of the packet it came
// with. It parses by hand: the standard parser allocates.
func socketDrops(oob []byte) (uint32, bool) {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && l >= hdr+4 {
			return *(*uint32)(unsafe.Pointer(&oob[hdr])), true
		}
		oob = oob[min(unix.CmsgSpace(l-hdr), len(oob)):]
	}
	return 0, false
}

// syncRules makes want the only rules with priorities lo to hi. Rules a
// killed predecessor left are kept where they are the same and replaced
// after the new ones are in otherwise: deleting first would open a window
// in which forwarded traffic falls through to the main table.
func syncRules(want []*netlink.Rule, lo, hi int) error {
	for _, r := range want {
		if err := netlink.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("data plane: rule %v: %w", r, err)
		}
	}
	have, err := netlink.RuleList(unix.AF_INET)
	if err != nil {
		return fmt.Errorf("data plane: rules: %w", err)
	}
	for i := range have {
		r := &have[i]
		if r.Priority < lo || r.Priority > hi || slices.ContainsFunc(want, func(w *netlink.Rule) bool { return sameRule(r, w) }) {
			continue
		}
		if err := netlink.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("data plane: stale rule %v: %w", r, err)
		}
	}
	return nil
}

// sameRule compares the fields the data plane's rules set.
func sameRule(r, w *netlink.Rule) bool {
	return r.Priority == w.Priority && r.IifName == w.IifName && r.IPProto == w.IPProto && r.Goto == w.Goto && (w.Goto > 0 || r.Table == w.Table)
}

// guardMetric puts a guard below any other default route of the tables.
const guardMetric = math.MaxUint32

func guardRoutes(table int) []*netlink.Route {
	var rs []*netlink.Route
	for _, t := range []int{table, table + 1} {
		rs = append(rs, &netlink.Route{Table: t, Type: unix.RTN_BLACKHOLE, Priority: guardMetric,
			Family: unix.AF_INET, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}})
	}
	return rs
}

func installGuard(table int) error {
	for _, r := range guardRoutes(table) {
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("data plane: blackhole in table %d: %w", r.Table, err)
		}
	}
	return nil
}

func removeGuard(table int) error {
	for _, r := range guardRoutes(table) {
		if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("data plane: blackhole in table %d: %w", r.Table, err)
		}
	}
	return nil
}

// Release removes what a data plane with tables table to table+2 leaves
// when it is not running: its rules, its blackholes and its local route, so
// that the kernel forwards by the main table again (in clear). A daemon
// whose data plane is disabled calls it at start.
func Release(table int) error {
	rules, err := netlink.RuleList(unix.AF_INET)
	if err != nil {
		return fmt.Errorf("data plane: rules: %w", err)
	}
	var errs []error
	for i := range rules {
		if r := &rules[i]; r.Priority >= 8000+table && r.Priority <= 8000+table+lastRule {
			if err := netlink.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("data plane: rule %v: %w", r, err))
			}
		}
	}
	if err := removeGuard(table); err != nil {
		errs = append(errs, err)
	}
	if err := netlink.RouteDel(espRoute(table)); err != nil && !errors.Is(err, unix.ESRCH) {
		errs = append(errs, fmt.Errorf("data plane: local route in table %d: %w", table+2, err))
	}
	return errors.Join(errs...)
}

func hasRule(pref int) bool {
	rules, err := netlink.RuleList(unix.AF_INET)
	if err != nil {
		return false
	}
	for _, r := range rules {
		if r.Priority == pref && r.Table == unix.RT_TABLE_MAIN {
			return true
		}
	}
	return false
}

// relaxRPFilter turns reverse-path filtering off for the TUN devices and
// makes sure the namespace-wide setting is not strict: the packets the
// data plane writes back come in on a TUN with sources that route out of
// other interfaces. Where /proc/sys is read-only (unprivileged
// containers), the topology must set net.ipv4.conf.all.rp_filter itself.
func relaxRPFilter(devs ...string) error {
	for _, dev := range devs {
		_ = writeSysctl("net/ipv4/conf/"+dev+"/rp_filter", "0")
	}
	if v, err := readSysctl("net/ipv4/conf/all/rp_filter"); err == nil && v == "1" {
		if err := writeSysctl("net/ipv4/conf/all/rp_filter", "2"); err != nil {
			return fmt.Errorf("data plane: net.ipv4.conf.all.rp_filter is 1 (strict) and cannot be changed (%v): set it to 0 or 2 for this node (topology sysctls)", err)
		}
	}
	for _, dev := range devs {
		if v, err := readSysctl("net/ipv4/conf/" + dev + "/rp_filter"); err == nil && v == "1" {
			return fmt.Errorf("data plane: net.ipv4.conf.%s.rp_filter is 1 (strict) and cannot be changed: set net.ipv4.conf.default.rp_filter to 0 for this node", dev)
		}
	}
	return nil
}

func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", path))
	return strings.TrimSpace(string(b)), err
}

func writeSysctl(path, v string) error {
	return os.WriteFile(filepath.Join("/proc/sys", path), []byte(v), 0o644)
}

// Forwarding reports whether the namespace forwards IPv4 (the data plane
// does nothing without it).
func Forwarding() bool {
	v, err := readSysctl("net/ipv4/ip_forward")
	return err == nil && v == "1"
}

// LANName and WANName are the TUN devices' names; Queues their queue count.
func (d *Device) LANName() string { return d.opt.LANName }
func (d *Device) WANName() string { return d.opt.WANName }
func (d *Device) Queues() int     { return d.opt.Queues }

// Run processes packets with e until ctx is done or the device is closed:
// one worker per queue and direction. It also follows the WAN interface's
// MTU.
func (d *Device) Run(ctx context.Context, e *Engine) {
	if d.started.Swap(true) {
		panic("dataplane: Device.Run called twice")
	}
	var wg sync.WaitGroup
	defer func() { wg.Wait(); unix.Close(d.raw) }()
	for i, q := range d.lanQ {
		wg.Add(1)
		go func() { defer wg.Done(); loop(q, d.raw, d.espOut[i], e, false) }()
	}
	// The ESP the LAN side makes leaves through raw sockets, a batch per
	// sendmmsg, when the engine expects it to (Options.ESPOut).
	for _, q := range d.wanQ {
		wg.Add(1)
		go func() { defer wg.Done(); loop(q, d.raw, nil, e, true) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); espLoop(d.espIn, d.wanQ[0], d.raw, e, d.mcast != nil) }()
	if d.mcast != nil {
		if e.opt.ESPOut {
			d.mcast.run(e, &wg)
		} else if e.opt.Events != nil {
			// Without an ESP sink the ESP would go back into the LAN
			// TUN, from which the kernel forwards no multicast.
			e.opt.Events.Logf("error", "data plane: multicast routing needs the engine's ESP output (Options.ESPOut): not started")
		}
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if l, err := netlink.LinkByName(d.opt.WANInterface); err == nil && l.Attrs().MTU > 0 {
				e.SetMTU(l.Attrs().MTU)
			}
			select {
			case <-ctx.Done():
				d.Close()
				return
			case <-t.C:
			}
		}
	}()
}

// loop reads packets from one TUN queue, a batch at a time (the segments
// of an offloaded superpacket, or one packet), processes them and writes
// the results back into the same queue, a batch at a time, which lets the
// TUN coalesce decrypted TCP and UDP segments again; the GM's own packets
// go out through raw, a raw IPv4 socket.
func loop(q tun.Device, raw int, espOut *net.IPConn, e *Engine, inbound bool) {
	batch := q.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+65535+Tailroom)
	}
	sizes := make([]int, batch)
	out := newWriteBatch(q, e, batch)
	local := func(p []byte) error {
		return unix.Sendto(raw, p, 0, &unix.SockaddrInet4{Addr: [4]byte(p[16:20])})
	}
	w := e.NewWorker(out.add, local)
	var esp *espBatch
	if !inbound && e.opt.ESPOut {
		esp = newESPBatch(e, espOut, 2*batch)
		w.SetESPSink(esp.add)
	}
	more := readiness(q)
	for reads := 1; ; reads++ {
		n, err := q.Read(bufs, sizes, Headroom)
		if err != nil {
			if readFailed(e, err) {
				return
			}
			continue
		}
		for i := range n {
			if inbound {
				w.Inbound(bufs[i], Headroom, sizes[i])
			} else {
				w.Outbound(bufs[i], Headroom, sizes[i])
			}
		}
		// A TUN gives one packet per read unless it is a superpacket:
		// while more are waiting, read them before writing, so that one
		// write and one sendmmsg carry many. readsPerFlush bounds what
		// that adds to a packet's latency.
		if reads < readsPerFlush && more() {
			continue
		}
		reads = 0
		out.flush()
		if esp != nil {
			esp.flush()
		}
	}
}

// readFailed handles a worker's failed read: true when the device or
// socket is closed (the worker ends), else the error is counted and the
// worker pauses, since a transient error must not spin.
func readFailed(e *Engine, err error) bool {
	if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
		return true
	}
	e.count(ReadErrors)
	time.Sleep(time.Millisecond)
	return false
}

// readsPerFlush is how many TUN reads a worker gathers at most before it
// writes their results: 32 small packets, well under a millisecond.
const readsPerFlush = 32

// readiness returns a check of whether q has a packet waiting (a poll
// that does not wait: far cheaper than the write or sendmmsg it saves).
// Without a file descriptor it always says no: a flush per read.
func readiness(q tun.Device) func() bool {
	f := q.File()
	if f == nil {
		return func() bool { return false }
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	p := &pollCheck{fds: make([]unix.PollFd, 1)}
	p.poll = p.check // made once: a closure per call would be allocated per packet
	return func() bool {
		p.ready = false
		_ = rc.Control(p.poll)
		return p.ready
	}
}

// pollCheck is readiness's state: the poll set and its answer.
type pollCheck struct {
	fds   []unix.PollFd
	ready bool
	poll  func(fd uintptr)
}

func (p *pollCheck) check(fd uintptr) {
	p.fds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	n, err := unix.Poll(p.fds, 0)
	p.ready = err == nil && n > 0 && p.fds[0].Revents&unix.POLLIN != 0
}

// espLoop reads the ESP from the WAN off the raw ESP socket, a batch per
// recvmmsg (batchReader: no allocation per packet), decrypts it and
// writes the results into q, a WAN TUN queue, a batch at a time, to be
// forwarded from there. There is one: two readers of one socket hand it
// to each other on every packet, a goroutine wake-up each, which cost
// more here than decrypting on two cores won (gm2 at 65 % of a core for
// 10,000 64-octet packets/s with two, 22 % with one). With groups, ESP to a
// multicast group is left to the multicast WAN worker, which reads all of
// it: the kernel delivers it here too only for a group some socket of the
// GM has joined, and decrypting it twice would deliver it twice.
func espLoop(in *net.IPConn, q tun.Device, raw int, e *Engine, groups bool) {
	batch := q.BatchSize()
	bufs := make([][]byte, batch)
	into := make([][]byte, batch) // each buffer after its headroom
	oobs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+65535+Tailroom)
		into[i] = bufs[i][Headroom:]
		oobs[i] = make([]byte, unix.CmsgSpace(4))
	}
	var dropped uint32 // the socket's drop count when last read
	r, err := newBatchReader(in, into, oobs)
	if err != nil {
		e.count(ReadErrors)
		return
	}
	out := newWriteBatch(q, e, batch)
	w := e.NewWorker(out.add, func(p []byte) error {
		return unix.Sendto(raw, p, 0, &unix.SockaddrInet4{Addr: [4]byte(p[16:20])})
	})
	for {
		n, err := r.Read()
		if err != nil {
			if readFailed(e, err) {
				return
			}
			continue
		}
		for i := range n {
			if groups && r.Sizes[i] >= 20 && bufs[i][Headroom+16]&0xf0 == 0xe0 {
				continue
			}
			w.Inbound(bufs[i], Headroom, r.Sizes[i])
		}
		if n > 0 {
			if d, ok := socketDrops(oobs[n-1][:r.OOBSizes[n-1]]); ok && d != dropped {
				e.counters[InDropQueueFull].Add(uint64(d - dropped)) // wraps as the kernel's count does
				dropped = d
			}
		}
		out.flush()
	}
}

// espBatch sends the ESP a worker makes through a raw IPv4 socket
// (IPPROTO_RAW: the packets carry their own header), a batch per
// sendmmsg: the GM's own output path, one system call for a batch instead
// of a TUN write and the kernel's forwarding per packet.
type espBatch struct {
	e    *Engine
	conn *net.IPConn
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
	bufs [][]byte
	dsts []net.IPAddr
	n    int
}

func newESPBatch(e *Engine, c *net.IPConn, size int) *espBatch {
	b := &espBatch{e: e, conn: c, msgs: make([]ipv4.Message, size), bufs: make([][]byte, size), dsts: make([]net.IPAddr, size)}
	b.pc = ipv4.NewPacketConn(c)
	for i := range b.msgs {
		b.bufs[i] = make([]byte, espBatchPacket)
		b.dsts[i].IP = make(net.IP, 4)
		b.msgs[i].Buffers = [][]byte{nil}
		b.msgs[i].Addr = &b.dsts[i]
	}
	return b
}

// espBatchPacket is the size of an ESP batch's buffers: the WAN MTU,
// jumbo frames included; a larger packet is sent on its own.
const espBatchPacket = 9216

// add queues an ESP packet (copied: the worker's buffer is not ours).
func (b *espBatch) add(p []byte) error {
	if len(p) < 20 {
		return errors.New("dataplane: ESP packet without an IPv4 header")
	}
	if len(p) > espBatchPacket {
		b.flush()
		_, err := b.conn.WriteTo(p, &net.IPAddr{IP: net.IP(p[16:20])})
		return err
	}
	if b.n == len(b.msgs) {
		b.flush()
	}
	copy(b.dsts[b.n].IP, p[16:20])
	b.msgs[b.n].Buffers[0] = b.bufs[b.n][:copy(b.bufs[b.n], p)]
	b.n++
	return nil
}

// flush sends the queued packets; what a send refuses is counted.
func (b *espBatch) flush() {
	sent := 0
	for sent < b.n {
		k, err := b.pc.WriteBatch(b.msgs[sent:b.n], 0)
		if err != nil {
			// The first message of the rest failed: count it, go on.
			b.e.counters[WriteErrors].Add(1)
			k = max(k, 1)
		}
		sent += k
	}
	b.n = 0
}

// writeOffset is the room a write batch leaves before each packet for the
// virtio-net header the TUN's Write puts there.
const writeOffset = 16

// smallPacket is the largest result a write batch gathers: ESP and what
// is decrypted from it fit the WAN MTU, and segments split from a
// superpacket a LAN's. A larger one is written on its own. The batch's
// buffers hold coalesceRoom: the TUN coalesces TCP and UDP segments into
// the first one's buffer (GRO), as far as it has room.
const (
	smallPacket  = 2048
	coalesceRoom = 16 << 10
)

// writeBatch gathers a worker's results for one Write: each is copied,
// since a worker's emit may not keep the slice.
type writeBatch struct {
	q     tun.Device
	e     *Engine
	bufs  [][]byte // the packets gathered, each at writeOffset
	pool  [][]byte // their buffers, reused
	large []byte   // a result larger than smallPacket
}

func newWriteBatch(q tun.Device, e *Engine, batch int) *writeBatch {
	b := &writeBatch{q: q, e: e, bufs: make([][]byte, 0, 2*batch), pool: make([][]byte, 2*batch),
		large: make([]byte, writeOffset+65535+Tailroom)}
	for i := range b.pool {
		b.pool[i] = make([]byte, writeOffset+coalesceRoom)
	}
	return b
}

// add is the worker's emit: the packet goes into the batch, which is
// written first when it is full.
func (b *writeBatch) add(p []byte) error {
	if len(p) > smallPacket {
		b.flush()
		copy(b.large[writeOffset:], p)
		b.bufs = append(b.bufs, b.large[:writeOffset+len(p)])
		b.flush()
		return nil
	}
	if len(b.bufs) == len(b.pool) {
		b.flush()
	}
	buf := b.pool[len(b.bufs)][:writeOffset+len(p)]
	copy(buf[writeOffset:], p)
	b.bufs = append(b.bufs, buf)
	return nil
}

// flush writes the batch; a failed write counts every packet of it.
func (b *writeBatch) flush() {
	if len(b.bufs) == 0 {
		return
	}
	if _, err := b.q.Write(b.bufs, writeOffset); err != nil {
		b.e.counters[WriteErrors].Add(uint64(len(b.bufs)))
	}
	b.bufs = b.bufs[:0]
}

// Close closes the TUN devices, which makes them and their routes
// disappear. Without Guard it removes the rules first; with Guard it
// leaves them and the blackholes, so that forwarded traffic is dropped
// until a data plane runs again. It is safe to call more than once.
func (d *Device) Close() error {
	var errs []error
	d.closeOnce.Do(func() {
		if !d.opt.Guard {
			for _, r := range d.rules {
				if err := netlink.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
					errs = append(errs, err)
				}
			}
			for _, r := range d.routes {
				if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, err)
				}
			}
		}
		closeAll(d.lanQ)
		for _, c := range d.espOut {
			c.Close()
		}
		closeAll(d.wanQ)
		if d.espIn != nil {
			d.espIn.Close()
		}
		if d.mcast != nil {
			d.mcast.close()
		}
		if !d.started.Load() && d.raw >= 0 {
			unix.Close(d.raw) // else Run closes it once its workers are done
		}
	})
	return errors.Join(errs...)
}
