// Package probe says what a machine offers the bench: its kernel, whether
// it has netem, nftables and multicast routing, a Docker engine and
// tshark. A bug-report bundle carries the probe of the machine that ran
// the failing spec, and `getlab repro` probes its own machine and says
// what differs: a spec that needs what one machine lacks skips or fails
// there for that reason, not for the bug.
//
// Where it can (as root), a kernel facility is tried for real in a
// throwaway network namespace — a netem qdisc on its loopback, an
// nftables table, MRT_INIT on a raw IGMP socket — since that is the
// question the bench asks of it; the kernel's own config
// (/proc/config.gz) is read too, and answers alone without root.
package probe

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The states of a check.
const (
	Yes     = "yes"
	No      = "no"
	Unknown = "unknown"
)

// Check is one capability: whether the machine has it, and how that was
// found (or why it could not be).
type Check struct {
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

func (c Check) String() string {
	if c.Detail == "" {
		return c.State
	}
	return c.State + " (" + c.Detail + ")"
}

// Result is a machine's probe.
type Result struct {
	Time   time.Time `json:"time"`
	Host   string    `json:"host"`
	Kernel string    `json:"kernel"` // uname -r
	Arch   string    `json:"arch"`
	CPUs   int       `json:"cpus"`
	Go     string    `json:"go"` // the toolchain that built the prober (getlab)
	Root   bool      `json:"root"`
	// Netem is the kernel's netem qdisc; the bench brings its own wire
	// where it is missing, but another vendor's lab may want it.
	Netem Check `json:"netem"`
	// Nftables is the kernel's nftables, which the fault helpers use.
	Nftables Check `json:"nftables"`
	// MulticastRouting is the kernel's multicast routing (MRT_INIT):
	// without it the routed core runs getlab-mrouter, which forwards in
	// user space.
	MulticastRouting Check `json:"multicast_routing"`
	// Docker is an engine answering on its socket (the docker runtime).
	Docker Check `json:"docker"`
	// Tshark is tshark's version, for the decoder cross-checks.
	Tshark Check `json:"tshark"`
}

// Prober probes a machine; the zero value probes this one as it is.
type Prober struct {
	// ConfigGz is the kernel config (default /proc/config.gz).
	ConfigGz string
	// DockerSocket is the engine's socket (default $DOCKER_HOST when it
	// is unix://, else /var/run/docker.sock).
	DockerSocket string
	// Tshark is the tshark command (default "tshark").
	Tshark string
	// NoLive reads the kernel config only, even as root: no namespace is
	// made.
	NoLive bool
}

// Run probes this machine with the defaults.
func Run(ctx context.Context) Result { return Prober{}.Run(ctx) }

// Run probes the machine.
func (p Prober) Run(ctx context.Context) Result {
	r := Result{Time: time.Now().UTC(), Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), Root: os.Geteuid() == 0}
	r.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	} else {
		var u unix.Utsname
		if unix.Uname(&u) == nil {
			r.Kernel = unix.ByteSliceToString(u.Release[:])
		}
	}
	cfgPath := p.ConfigGz
	if cfgPath == "" {
		cfgPath = "/proc/config.gz"
	}
	cfg, cfgErr := readKernelConfig(cfgPath)
	fromConfig := func(option string) Check {
		if cfgErr != nil {
			return Check{State: Unknown, Detail: "kernel config: " + cfgErr.Error()}
		}
		switch v := cfg[option]; v {
		case "y":
			return Check{State: Yes, Detail: "kernel config: " + option + "=y"}
		case "m":
			// A module may be loadable or not (no /lib/modules in a
			// container): only a live try says.
			return Check{State: Unknown, Detail: "kernel config: " + option + "=m (a module)"}
		default:
			return Check{State: No, Detail: "kernel config: " + option + " is not set"}
		}
	}
	r.Netem = fromConfig("CONFIG_NET_SCH_NETEM")
	r.Nftables = fromConfig("CONFIG_NF_TABLES")
	r.MulticastRouting = fromConfig("CONFIG_IP_MROUTE")
	if r.Root && !p.NoLive {
		live, err := liveChecks()
		if err != nil {
			// The config's answers stay; say why they were not tried.
			for _, c := range []*Check{&r.Netem, &r.Nftables, &r.MulticastRouting} {
				c.Detail += "; not tried: " + err.Error()
			}
		} else {
			r.Netem, r.Nftables, r.MulticastRouting = merge(live.netem, r.Netem), merge(live.nft, r.Nftables), merge(live.mroute, r.MulticastRouting)
		}
	} else if !r.Root {
		for _, c := range []*Check{&r.Netem, &r.Nftables, &r.MulticastRouting} {
			c.Detail += "; not tried (needs root)"
		}
	}
	r.Docker = p.docker(ctx)
	r.Tshark = p.tshark(ctx)
	return r
}

// merge keeps the live answer, with the config's as its evidence.
func merge(live, cfg Check) Check {
	live.Detail += "; " + cfg.Detail
	return live
}

// readKernelConfig reads a gzipped kernel config into option → value
// ("y", "m", or a string); options "is not set" are absent.
func readKernelConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := map[string]string{}
	sc := bufio.NewScanner(z)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = strings.Trim(v, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

type live struct{ netem, nft, mroute Check }

// mrtInit and mrtDone are MRT_INIT and MRT_DONE (linux/mroute.h), which
// x/sys/unix does not name.
const (
	mrtInit = 200
	mrtDone = 201
)

// liveChecks tries netem, nftables and multicast routing in a network
// namespace of its own, made for it and gone when it returns: nothing
// of the machine's own networking is touched.
func liveChecks() (live, error) {
	type res struct {
		l   live
		err error
	}
	ch := make(chan res, 1)
	// A goroutine of its own: its thread is switched into the throwaway
	// namespace and back, and if switching back fails it stays locked,
	// so the runtime discards the thread with the goroutine (nsdo.Do's
	// pattern).
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: fmt.Errorf("current namespace: %w", err)}
			return
		}
		defer orig.Close()
		ns, err := netns.New() // unshare: this thread is now inside it
		if err != nil {
			_ = netns.Set(orig)
			runtime.UnlockOSThread()
			ch <- res{err: fmt.Errorf("throwaway namespace: %w", err)}
			return
		}
		var l live
		l.netem = tryNetem()
		l.nft = tryNftables(ns)
		l.mroute = tryMroute()
		ns.Close()
		if err := netns.Set(orig); err != nil {
			ch <- res{err: fmt.Errorf("back from the throwaway namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- res{l: l}
	}()
	r := <-ch
	return r.l, r.err
}

// tryNetem adds a netem qdisc to the namespace's loopback (tc qdisc add
// dev lo root netem delay 1ms).
func tryNetem() Check {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return Check{State: Unknown, Detail: "tried: lo: " + err.Error()}
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: 1000})
	if err := netlink.QdiscAdd(q); err != nil {
		// The kernel answers an unknown qdisc kind with ENOENT.
		return Check{State: No, Detail: "tried: tc qdisc add dev lo root netem: " + err.Error()}
	}
	return Check{State: Yes, Detail: "tried: tc qdisc add dev lo root netem: ok"}
}

// tryNftables adds an inet table in namespace ns.
func tryNftables(ns netns.NsHandle) Check {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return Check{State: Unknown, Detail: "tried: " + err.Error()}
	}
	c.AddTable(&nftables.Table{Name: "getlab_probe", Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		return Check{State: No, Detail: "tried: add table inet getlab_probe: " + err.Error()}
	}
	return Check{State: Yes, Detail: "tried: add table inet getlab_probe: ok"}
}

// tryMroute sets MRT_INIT on a raw IGMP socket, as a multicast routing
// daemon starts; a kernel without CONFIG_IP_MROUTE answers "protocol not
// available".
func tryMroute() Check {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IGMP)
	if err != nil {
		return Check{State: Unknown, Detail: "tried: raw IGMP socket: " + err.Error()}
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, mrtInit, 1); err != nil {
		return Check{State: No, Detail: "tried: MRT_INIT on a raw IGMP socket: " + err.Error()}
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, mrtDone, 1)
	return Check{State: Yes, Detail: "tried: MRT_INIT on a raw IGMP socket: ok"}
}

// docker asks the engine's socket for its version, as the docker runtime
// finds an engine: no docker command is needed.
func (p Prober) docker(ctx context.Context) Check {
	sock := p.DockerSocket
	if sock == "" {
		sock = "/var/run/docker.sock"
		if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
			sock = h
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return Check{State: Unknown, Detail: err.Error()}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Check{State: No, Detail: "no engine answers on " + sock + ": " + unwrapAll(err).Error()}
	}
	defer resp.Body.Close()
	var v struct{ Version, APIVersion string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		return Check{State: No, Detail: fmt.Sprintf("%s answers %s to GET /version", sock, resp.Status)}
	}
	return Check{State: Yes, Detail: fmt.Sprintf("engine %s (API %s) on %s", v.Version, v.APIVersion, sock)}
}

// unwrapAll is the innermost error: the syscall's, without the HTTP
// client's wrapping.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// tshark is the first line of `tshark --version`.
func (p Prober) tshark(ctx context.Context) Check {
	bin := p.Tshark
	if bin == "" {
		bin = "tshark"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return Check{State: No, Detail: "not installed (Debian package tshark)"}
		}
		return Check{State: Unknown, Detail: bin + " --version: " + err.Error()}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return Check{State: Yes, Detail: strings.TrimSpace(first)}
}

// Diff says, one line each, how machine b ("here") differs from machine a
// (the bundle's) in what the bench depends on: the capabilities' states
// first, then the kernel, the architecture, the CPUs and the versions of
// tshark and the toolchain. The host's name and the time are not
// compared. No line: nothing the bench depends on differs.
func Diff(a, b Result) []string {
	var out []string
	caps := []struct {
		name string
		a, b Check
	}{
		{"netem", a.Netem, b.Netem},
		{"nftables", a.Nftables, b.Nftables},
		{"multicast routing", a.MulticastRouting, b.MulticastRouting},
		{"docker engine", a.Docker, b.Docker},
		{"tshark", a.Tshark, b.Tshark},
	}
	for _, c := range caps {
		if c.a.State != c.b.State {
			out = append(out, fmt.Sprintf("%s: %s in the bundle, %s here", c.name, c.a, c.b))
		}
	}
	if a.Root != b.Root {
		out = append(out, fmt.Sprintf("root: %t in the bundle, %t here", a.Root, b.Root))
	}
	same := func(name, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s in the bundle, %s here", name, orNone(x), orNone(y)))
		}
	}
	same("kernel", a.Kernel, b.Kernel)
	same("arch", a.Arch, b.Arch)
	if a.CPUs != b.CPUs {
		out = append(out, fmt.Sprintf("cpus: %d in the bundle, %d here (timings at a timer scale may differ)", a.CPUs, b.CPUs))
	}
	if a.Tshark.State == Yes && b.Tshark.State == Yes {
		same("tshark version", a.Tshark.Detail, b.Tshark.Detail)
	}
	same("go toolchain", a.Go, b.Go)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
