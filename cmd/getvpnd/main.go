// Command getvpnd is the GETVPN daemon: a GDOI key server or group member,
// as its configuration file says.
//
//	getvpnd --config /etc/getvpnd/getvpnd.yaml [--keylog FILE]
//	getvpnd --check CONFIG
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gm"
	"github.com/getlab/getlab/gateway/keylog"
	"github.com/getlab/getlab/gateway/ks"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/show"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("getvpnd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/getvpnd/getvpnd.yaml", "configuration `file`")
	check := fs.String("check", "", "validate configuration `file` and exit (0 valid, 1 invalid)")
	keyLog := fs.String("keylog", "", "append phase-1 and group keys to `file` (overrides key_log; labs only)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "getvpnd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "getvpnd", version)
		return 0
	}
	if *check != "" {
		if err := config.Check(*check, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	// load reads the configuration file with the command line's
	// overrides: at start, and again for a reload.
	load := func() (*config.Config, error) {
		cfg, err := config.Load(*cfgPath)
		if err == nil && *keyLog != "" {
			cfg.KeyLog = *keyLog
		}
		return cfg, err
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, load, stderr); err != nil {
		fmt.Fprintln(stderr, "getvpnd:", err)
		return 1
	}
	return 0
}

// role is what a KS and a GM have in common for the daemon.
type role interface {
	control.Provider
	HandlePacket(from netip.AddrPort, pkt []byte)
}

// versioned is a role whose GDOI document names this getvpnd's version:
// the roles know their protocol state, not the build they are part of.
type versioned struct {
	role
	version string
}

// Unwrap is the role, for the control socket's optional endpoints
// (control.COOPProvider).
func (v versioned) Unwrap() control.Provider { return v.role }

func (v versioned) GDOI() show.GDOI {
	d := v.role.GDOI()
	d.Version = v.version
	return d
}

// The control socket serves the roles' snapshots and the event log.
var (
	_ control.Provider          = (*ks.Server)(nil)
	_ control.COOPProvider      = (*ks.Server)(nil)
	_ control.FeaturesProvider  = (*ks.Server)(nil)
	_ control.RekeyProvider     = (*ks.Server)(nil)
	_ control.ClearProvider     = (*ks.Server)(nil)
	_ control.RemovalProvider   = (*ks.Server)(nil)
	_ control.ReloadProvider    = (*ks.Server)(nil)
	_ control.ClearProvider     = (*gm.Member)(nil)
	_ control.DirectionProvider = (*gm.Member)(nil)
	_ control.FeaturesProvider  = (*gm.Member)(nil)
	_ control.EventSource       = (*events.Log)(nil)
)

// serve runs the daemon of cfg; load rereads its configuration (reload).
func serve(ctx context.Context, cfg *config.Config, load func() (*config.Config, error), stderr io.Writer) error {
	logOut := stderr
	if cfg.Log.File != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Log.File), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(cfg.Log.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	ev := events.New(logOut, cfg.Log.Format, cfg.Log.Level)
	ev.SetRateLimit(cfg.Log.RateLimit, 2*cfg.Log.RateLimit)
	for _, w := range cfg.Warnings() {
		ev.Logf("warn", "config: %s", w)
	}
	counters := &events.Counters{}
	ev.CountSuppressed(counters)
	clk, err := daemonClock(cfg, ev)
	if err != nil {
		return err
	}
	kl, err := keylog.Open(cfg.KeyLog)
	if err != nil {
		return err
	}
	defer kl.Close()

	if cfg.Role == config.RoleGM && !cfg.Listen.Address.IsValid() && !cfg.Identity.IsValid() {
		// The GDOI address is the registration interface's: there is
		// nothing to bind before it has one (see ifwait.go).
		if !waitRegistrationInterface(ctx, cfg, netip.Addr{}, ev) {
			return nil
		}
	}
	local, ifaceUp, err := localAddress(cfg)
	if err != nil {
		return err
	}
	conn, err := listenGDOI(ctx, local)
	if err != nil {
		return fmt.Errorf("GDOI socket: %w", err)
	}
	defer conn.Close()
	send := func(to netip.AddrPort, pkt []byte) {
		if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
			counters.Inc(counter.SendErrors)
			ev.Logf("debug", "send to %s: %v", to, err)
		}
	}

	var r role
	var background func(context.Context)
	switch cfg.Role {
	case config.RoleKS:
		srv, err := ks.New(cfg, ks.Options{Env: phase1.Env{Events: ev, Counters: counters, KeyLog: kl, Send: send, Local: local, Now: clk.Now},
			LoadConfig: load})
		if err != nil {
			return err
		}
		r = srv
		if err := multicastSender(conn, multicastTTL(cfg)); err != nil {
			return fmt.Errorf("GDOI socket: %w", err)
		}
		background = func(ctx context.Context) {
			clock.Drive(ctx, clk, srv) // the KS's one timer: rekeys, retransmissions, housekeeping
		}
	case config.RoleGM:
		dp := startDataPlane(ctx, cfg, local.Addr(), ev, clk)
		defer dp.close()
		groups := &rekeyGroups{ctx: ctx, ev: ev, counter: counters,
			iface: func() (*net.Interface, error) { return interfaceOf(registrationInterface(cfg), local.Addr()) }}
		mem, err := gm.New(cfg, gm.Options{Env: phase1.Env{Events: ev, Counters: counters, KeyLog: kl, Send: send, Local: local, Now: clk.Now},
			InterfaceUp: ifaceUp, OnInstall: dp.install, OnDirection: dp.engine.SetDirection, OnWithdraw: dp.engine.Remove,
			JoinGroup: groups.join})
		if err != nil {
			return err
		}
		groups.handle = mem.HandlePacket
		r = &gmRole{Member: mem, dp: dp}
		defer mem.Stop()
		background = func(ctx context.Context) {
			if !waitRegistrationInterface(ctx, cfg, local.Addr(), ev) {
				return
			}
			dp.retryNow() // its WAN interface is most likely there now too
			mem.Start()
			clock.Drive(ctx, clk, mem) // the GM's one timer
		}
	default:
		return fmt.Errorf("role %q", cfg.Role)
	}

	ctl, err := control.Serve(ctx, cfg.ControlSocket, versioned{r, version}, ev)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer ctl.Close()
	ev.Logf("info", "getvpnd %s: %s %s listening on %s, control socket %s", version, cfg.Role, cfg.Identity, local, cfg.ControlSocket)

	go background(ctx)
	if rp, ok := r.(control.ReloadProvider); ok {
		go reloadOnHangup(ctx, rp, ev)
	}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	rx := &receiver{ev: ev, counters: counters, worker: "gdoi", received: counter.PacketsReceived, handle: r.HandlePacket}
	// A KS answers registrations on every core: its server takes
	// datagrams from several goroutines at once and does an exchange's
	// cryptography outside its lock; each peer's datagrams stay in order.
	// A GM handles them on its reader, in order.
	workers := 1
	if cfg.Role == config.RoleKS {
		workers = runtime.NumCPU()
	}
	rx.serveSharded(ctx, conn, workers)
	ev.Logf("info", "getvpnd: stopping")
	return nil
}

// reloadOnHangup rereads the configuration on every SIGHUP, as getctl
// reload does.
func reloadOnHangup(ctx context.Context, rp control.ReloadProvider, ev *events.Log) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if res, err := rp.Reload(); err != nil {
				ev.Logf("error", "SIGHUP: %v", err)
			} else {
				ev.Logf("info", "SIGHUP: configuration reread, %d changes", len(res.Changed))
			}
		}
	}
}

// registrationInterface is the GM's registration interface name, "" when
// not configured.
func registrationInterface(cfg *config.Config) string {
	if len(cfg.Groups) > 0 {
		return cfg.Groups[0].RegistrationInterface
	}
	return ""
}

// localAddress is the address the GDOI socket binds: the listen address,
// else the identity, else (GM) the registration interface's first IPv4
// address. ifaceUp reports the registration interface's state.
func localAddress(cfg *config.Config) (netip.AddrPort, func() bool, error) {
	addr := cfg.Listen.Address
	if !addr.IsValid() {
		addr = cfg.Identity
	}
	var ifaceUp func() bool
	if cfg.Role == config.RoleGM && len(cfg.Groups) > 0 && cfg.Groups[0].RegistrationInterface != "" {
		name := cfg.Groups[0].RegistrationInterface
		ifaceUp = func() bool {
			ifi, err := net.InterfaceByName(name)
			return err == nil && ifi.Flags&net.FlagUp != 0
		}
		if !addr.IsValid() {
			a, err := interfaceIPv4(name)
			if err != nil {
				return netip.AddrPort{}, nil, err
			}
			addr = a
		}
	}
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	if cfg.Identity == (netip.Addr{}) {
		cfg.Identity = addr
	}
	return netip.AddrPortFrom(addr, cfg.Listen.Port), ifaceUp, nil
}

func interfaceIPv4(name string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("registration interface: %w", err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("registration interface %s: %w", name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && n.IP.To4() != nil {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("registration interface %s has no IPv4 address", name)
}

// listenGDOI opens the UDP socket GDOI runs on. IP_FREEBIND lets it bind
// the configured address before the address is configured: in a container
// (as in containerlab) the daemon may start before its node's exec lines
// have added the address. A KS receives nothing until it is there and then
// answers at once; a GM waits for it before registering (ifwait.go).
func listenGDOI(ctx context.Context, local netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", local.String())
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	growReadBuffer(conn, gdoiSocketBuffer)
	return conn, nil
}

// gdoiSocketBuffer is the GDOI socket's receive buffer: a unicast rekey to
// thousands of GMs brings their acknowledgements back in one burst (8,000
// in about 100 ms, BenchmarkUnicastRekeyFanOut), and the kernel's default
// (about 200 KB, some 300 datagrams) would drop most of them.
const gdoiSocketBuffer = 8 << 20

// growReadBuffer asks for n octets of receive buffer, beyond the
// net.core.rmem_max cap when the daemon may (CAP_NET_ADMIN).
func growReadBuffer(conn *net.UDPConn, n int) {
	forced := false
	if raw, err := conn.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			forced = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) == nil
		})
	}
	if !forced {
		conn.SetReadBuffer(n)
	}
}

// every calls fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	everyUntil(ctx, d, nil, func() bool { fn(); return false })
}

// everyUntil calls fn every d, and at once on each receive from kick (nil:
// never), until it returns true or ctx is done.
func everyUntil(ctx context.Context, d time.Duration, kick <-chan struct{}, fn func() (done bool)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		if fn() {
			return
		}
	}
}
