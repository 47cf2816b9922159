package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/clock"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/dataplane"
	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/gm"
	"github.com/vishvananda/netlink"
)

// gmDataPlane is a GM's data plane as the daemon runs it: the engine, and
// the device that feeds it (nil while the data plane is off or has not
// started, with the reason in info.Error).
type gmDataPlane struct {
	engine *dataplane.Engine
	ev     *events.Log
	// clk is the daemon's clock, the engine's: a policy's install time
	// must be on the clock the engine ages its SAs by.
	clk clock.Clock

	mu   sync.Mutex
	dev  *dataplane.Device
	info control.DataPlane

	// kick makes a data plane that failed to start retry at once rather
	// than at its next one-second retry.
	kick chan struct{}
}

// retryNow makes a data plane that has not started retry now; the GM
// calls it when its registration interface (usually the WAN interface)
// becomes ready.
func (d *gmDataPlane) retryNow() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// startDataPlane builds the engine and, when the configuration enables it,
// the TUN devices and routing. A data plane that cannot start (the WAN
// interface not there yet, no /dev/net/tun, no CAP_NET_ADMIN, strict
// rp_filter) is logged and shown in the status, and retried every second
// and as soon as the GM's registration interface is ready (retryNow): in a
// container the daemon may start before its interfaces exist. The GM
// registers meanwhile, so that the failure can be seen.
func startDataPlane(ctx context.Context, cfg *config.Config, local netip.Addr, ev *events.Log, clk clock.Clock) *gmDataPlane {
	df, _ := esp.ParseDFPolicy(cfg.DataPlane.DFBit) // validated by config
	d := &gmDataPlane{ev: ev, clk: clk, info: control.DataPlane{Enabled: cfg.DataPlane.Enabled, DaemonDown: cfg.DataPlane.DaemonDown},
		kick: make(chan struct{}, 1)}
	d.engine = dataplane.New(dataplane.Options{
		Events: ev, Clock: clk, DF: df, LocalDenyInbound: cfg.DataPlane.LocalDenyInbound,
		Groups: cfg.Groups, Local: local, FailClose: cfg.DataPlane.FailClose, TCPMSS: cfg.DataPlane.TCPMSS,
		// The device sends ESP out through raw sockets (a batch per
		// sendmmsg), not back into the TUN.
		ESPOut: cfg.DataPlane.Enabled,
	})
	if !cfg.DataPlane.Enabled {
		// A control-plane-only GM: what an earlier data plane left to
		// drop forwarded traffic while it was down goes.
		if err := dataplane.Release(cfg.DataPlane.Table); err != nil {
			ev.Logf("warn", "data plane disabled, but %v", err)
		}
		return d
	}
	if !dataplane.Forwarding() {
		ev.Logf("warn", "data plane: net.ipv4.ip_forward is 0 in this namespace: nothing will be forwarded")
	}
	queues := cfg.DataPlane.Queues
	adjustMSS := "off"
	if cfg.DataPlane.TCPMSS != 0 {
		adjustMSS = strconv.Itoa(cfg.DataPlane.TCPMSS)
	}
	if queues == 0 {
		queues = runtime.NumCPU()
	}
	open := func() error {
		wan, err := wanInterface(cfg)
		if err != nil {
			return err
		}
		dev, err := dataplane.OpenDevice(dataplane.DeviceOptions{WANInterface: wan, Table: cfg.DataPlane.Table, Queues: queues,
			Guard: cfg.DataPlane.DaemonDown == "drop", MulticastLAN: cfg.DataPlane.Multicast.LAN})
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.dev = dev
		d.info.Error = ""
		d.info.LANDevice, d.info.WANDevice, d.info.WANInterface, d.info.Queues = dev.LANName(), dev.WANName(), wan, dev.Queues()
		d.mu.Unlock()
		go dev.Run(ctx, d.engine)
		mcast := "off"
		if lans := cfg.DataPlane.Multicast.LAN; len(lans) > 0 {
			mcast = strings.Join(lans, ",")
		}
		ev.Logf("info", "data plane: WAN %s, TUN %s and %s, %d queues, df-bit %s, tcp adjust-mss %s, forwarded traffic while getvpnd is down: %s, multicast routed from and to: %s",
			wan, dev.LANName(), dev.WANName(), queues, df, adjustMSS, cfg.DataPlane.DaemonDown, mcast)
		return nil
	}
	if err := open(); err != nil {
		d.setError(err)
		ev.Logf("error", "data plane not running (retrying every second, and once the registration interface is ready): %v", err)
		go everyUntil(ctx, time.Second, d.kick, func() bool {
			err := open()
			if err != nil {
				d.setError(err)
			}
			return err == nil
		})
	}
	go every(ctx, time.Second, d.engine.Prune)
	return d
}

func (d *gmDataPlane) setError(err error) {
	d.mu.Lock()
	d.info.Error = err.Error()
	d.mu.Unlock()
}

// wanInterface is the registration interface, or else the interface of the
// route to the first key server.
func wanInterface(cfg *config.Config) (string, error) {
	for _, g := range cfg.Groups {
		if g.RegistrationInterface != "" {
			return g.RegistrationInterface, nil
		}
	}
	for _, g := range cfg.Groups {
		for _, ks := range g.KSList {
			routes, err := netlink.RouteGet(net.IP(ks.AsSlice()))
			if err != nil || len(routes) == 0 {
				continue
			}
			l, err := netlink.LinkByIndex(routes[0].LinkIndex)
			if err != nil {
				continue
			}
			return l.Attrs().Name, nil
		}
	}
	return "", fmt.Errorf("no WAN interface: set groups[].registration_interface (no route to any KS either)")
}

// install is the GM's OnInstall: a downloaded policy goes to the engine.
func (d *gmDataPlane) install(group string, p *gdoi.Policy) {
	if err := d.engine.Install(group, p, d.clk.Now()); err != nil {
		d.ev.Logf("error", "data plane: %v", err)
	}
}

func (d *gmDataPlane) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dev != nil {
		d.dev.Close()
	}
}

// gmRole is a GM whose GET /v1/gdoi includes the data plane.
type gmRole struct {
	*gm.Member
	dp *gmDataPlane
}

func (r *gmRole) GDOI() control.GDOI {
	st := r.Member.GDOI()
	r.dp.mu.Lock()
	info := r.dp.info
	r.dp.mu.Unlock()
	r.dp.engine.Decorate(&st, info)
	return st
}
