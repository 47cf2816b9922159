package suitekit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/topo"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The implementations a run judges: the Makefile passes `make conformance
// KS=... GM=...` to the suites as $GETLAB_KS and $GETLAB_GM, each a name
// registered under images/ (harness/impl); getvpnd when unset.

// DefaultImpl plays a role no variable names.
const DefaultImpl = "getvpnd"

var registry struct {
	once sync.Once
	r    *impl.Registry
	err  error
}

// ImplName is the name of the implementation chosen for role.
func ImplName(role impl.Role) string {
	v := "GETLAB_GM"
	if role == impl.KS || role == impl.COOPKS {
		v = "GETLAB_KS"
	}
	if n := os.Getenv(v); n != "" {
		return n
	}
	return DefaultImpl
}

// Impl is the implementation chosen for role, failing the spec when the
// name is not registered (a typo in KS= must not run getvpnd instead).
func Impl(role impl.Role) *impl.Impl {
	im, err := lookupImpl(role)
	Expect(err).NotTo(HaveOccurred(), "%s implementation", role.Label())
	return im
}

// lookupImpl is Impl without failing: for use outside a spec (a
// container's labels), where a failure cannot be reported.
func lookupImpl(role impl.Role) (*impl.Impl, error) {
	return lookupImplNamed(ImplName(role))
}

// lookupImplNamed returns the registered implementation called name.
func lookupImplNamed(name string) (*impl.Impl, error) {
	registry.once.Do(func() {
		dir, err := impl.DefaultDir()
		if err != nil {
			registry.err = err
			return
		}
		registry.r, registry.err = impl.Load(dir)
	})
	if registry.err != nil {
		return nil, fmt.Errorf("the implementation registry: %w", registry.err)
	}
	return registry.r.Get(name)
}

// Offers reports whether role's implementation offers every one of caps.
func Offers(role impl.Role, caps ...impl.Capability) bool {
	return impl.RequireCapabilities(role, Impl(role), caps...) == ""
}

// Offered is Offers for use outside a spec (a container's labels): false
// when role's implementation is not registered, which the spec that
// starts the lab then reports.
func Offered(role impl.Role, caps ...impl.Capability) bool {
	im, err := lookupImpl(role)
	return err == nil && impl.RequireCapabilities(role, im, caps...) == ""
}

// Require skips the spec unless role's implementation plays it and offers
// every one of caps, with the registry's one sentence: "KS implementation
// X does not offer Y".
func Require(role impl.Role, caps ...impl.Capability) {
	if why := impl.RequireCapabilities(role, Impl(role), caps...); why != "" {
		Skip(why)
	}
}

// RequireKeyLog skips the spec unless one end of the KS-GM exchanges writes
// a key log: either end's keys decrypt their shared phase-1 and
// GROUPKEY-PULL messages. It names the KS when neither does.
func RequireKeyLog() {
	if !Offers(impl.GM, impl.KeyLog) {
		Require(impl.KS, impl.KeyLog)
	}
}

// TimerScale is the scale a scenario can run at when it wants want: want
// if both roles' implementations scale their timers down to it, else 1
// (protocol time). It may be called outside a spec (a suite's package
// variables): an unknown implementation gives 1 there, and the spec that
// starts the lab fails on the name.
func TimerScale(want float64) float64 {
	for _, r := range []impl.Role{impl.KS, impl.GM} {
		im, err := lookupImpl(r)
		if err != nil || im.Caps.TimerScale == nil || want < im.Caps.TimerScale.Floor {
			return 1
		}
	}
	return want
}

// SlowAt labels a container whose scenario wants timer scale want: "slow"
// when the pairing runs it in protocol time instead (an implementation
// that does not offer timer-scale down to want), so that `LABELS='!slow'`
// leaves it out of a quick run; no label otherwise.
func SlowAt(want float64) Labels {
	if TimerScale(want) < 1 {
		return Labels{}
	}
	return Label("slow")
}

// ModelGap is why a lab of model cannot run with the pairing: the
// registry's sentence naming the first implementation (KS, then GM) that
// lacks a capability need lists for its role, or does not take the
// model's first group's lifetimes (its minimums); "" when it can. A suite
// calls it before each spec (SkipUnlessRuns), so that every skipped spec
// of an Ordered container names the capability, and its BeforeAll then
// starts no lab.
func ModelGap(model *scenario.Scenario, need map[impl.Role][]impl.Capability) string {
	for _, r := range []impl.Role{impl.KS, impl.GM} {
		im := Impl(r)
		if why := impl.RequireCapabilities(r, im, need[r]...); why != "" {
			return why
		}
		g := model.Groups[0]
		if why := impl.RequireLifetimes(r, im, g.TEKLifetime, g.KEKLifetime); why != "" {
			return why
		}
	}
	return ""
}

// SkipUnlessRuns skips the spec with ModelGap's sentence unless the lab of
// model can run.
func SkipUnlessRuns(model *scenario.Scenario, need map[impl.Role][]impl.Capability) {
	Expect(model).NotTo(BeNil(), "the scenario's model")
	if why := ModelGap(model, need); why != "" {
		Skip(why)
	}
}

// RequireLifetimes skips the spec unless both roles' implementations
// accept TEK and KEK lifetimes as short as model's groups have, naming
// the first that does not (its implementation.yaml minimums).
func RequireLifetimes(model *scenario.Scenario) {
	for _, r := range []impl.Role{impl.KS, impl.GM} {
		for _, g := range model.Groups {
			if why := impl.RequireLifetimes(r, Impl(r), g.TEKLifetime, g.KEKLifetime); why != "" {
				Skip(why)
			}
		}
	}
}

// RenderScenario is an Edit writing, for every KS and GM node of the
// topology copy (label getlab.role), its role's implementation's config
// rendered from model into the file the node binds at the
// implementation's config path, and making the node run that
// implementation (runImpl): the topology's own configs and commands of
// those nodes are replaced, the rest of the copy is kept.
func RenderScenario(file string, model *scenario.Scenario) Edit {
	return func(dir string) {
		path := filepath.Join(dir, file)
		t, err := topo.Load(path)
		Expect(err).NotTo(HaveOccurred())
		for _, n := range t.Nodes {
			role := impl.Role(n.Labels["getlab.role"])
			if role != impl.KS && role != impl.GM {
				continue
			}
			im := Impl(role)
			host := ""
			for _, b := range n.Binds {
				if b.Node == im.Config.Path {
					host = b.Host
				}
			}
			Expect(host).NotTo(BeEmpty(), "%s: node %s binds nothing at %s, where %s reads its config",
				file, n.Name, im.Config.Path, im.Name)
			out, err := im.Render(role, model, n.Name)
			Expect(err).NotTo(HaveOccurred(), "rendering %s's config with %s", n.Name, im.Name)
			Expect(os.WriteFile(host, out, 0o644)).To(Succeed())
			runImpl(path, n.Name, im, role)
		}
	}
}

// WaitReady waits until node, playing role, is ready as its
// implementation's readiness says (impl.ReadinessOf).
func WaitReady(ctx context.Context, lab *netns.Lab, node string, role impl.Role, within time.Duration) {
	r := Impl(role).ReadinessOf(role)
	n := lab.Node(node)
	Expect(n).NotTo(BeNil(), "no node %s", node)
	var check func() error
	switch r.Kind() {
	case "udp":
		check = func() error { return udpBound(n.Holder, r.UDP) }
	case "command":
		check = func() error {
			var out bytes.Buffer
			if err := lab.Exec(ctx, node, r.Command, nil, &out, &out); err != nil {
				return fmt.Errorf("%v: %w: %s", r.Command, err, out.String())
			}
			return nil
		}
	default:
		check = func() error {
			if st := n.State(); st != "running" {
				return fmt.Errorf("process %s", st)
			}
			return nil
		}
	}
	Eventually(check).WithContext(ctx).WithTimeout(within).WithPolling(20*time.Millisecond).
		Should(Succeed(), "%s (%s %s) ready by %s", node, role.Label(), Impl(role).Name, r.Kind())
}

// udpBound reports whether a UDP socket is bound to port in the network
// namespace of pid, from /proc/<pid>/net/udp: nothing is sent.
func udpBound(pid int, port uint16) error {
	socks, err := udpSockets(pid)
	if err != nil {
		return err
	}
	for _, s := range socks {
		if s.port == port {
			return nil
		}
	}
	return fmt.Errorf("nothing bound to UDP %d", port)
}

// UDPBacklog is the octets waiting in the receive queues of the UDP
// sockets bound to port in the network namespace of pid: what the process
// has not read yet.
func UDPBacklog(pid int, port uint16) (int, error) {
	socks, err := udpSockets(pid)
	total := 0
	for _, s := range socks {
		if s.port == port {
			total += s.rxQueue
		}
	}
	return total, err
}

// udpSocket is a line of /proc/<pid>/net/udp or udp6.
type udpSocket struct {
	port    uint16
	rxQueue int // octets received and not read
}

// udpSockets lists the UDP sockets of pid's network namespace, IPv4 and
// IPv6: local port (the second field, "addr:port" in hex) and receive
// queue (the fifth, "tx_queue:rx_queue" in hex).
func udpSockets(pid int) ([]udpSocket, error) {
	var out []udpSocket
	for _, f := range []string{"udp", "udp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 5 {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if !ok || err != nil {
				continue // the header line
			}
			_, hexRx, _ := strings.Cut(fields[4], ":")
			rx, _ := strconv.ParseUint(hexRx, 16, 32)
			out = append(out, udpSocket{port: uint16(port), rxQueue: int(rx)})
		}
	}
	return out, nil
}

// Status runs role's implementation's status command in node and parses
// its output strictly (impl.ParseStatus). The spec skips when the
// implementation offers no status command.
func Status(ctx context.Context, lab *netns.Lab, node string, role impl.Role) impl.StatusDoc {
	Require(role, impl.Status)
	st, err := status(ctx, lab, node, role)
	Expect(err).NotTo(HaveOccurred())
	return st
}

// StatusOf is Status without failing: the status, or why it could not be
// read, for a caller that polls it or reads it while driving a scenario.
// The caller checks that the implementation offers status (Offers).
func StatusOf(ctx context.Context, lab *netns.Lab, node string, role impl.Role) (impl.StatusDoc, error) {
	if !Offers(role, impl.Status) {
		return impl.StatusDoc{}, fmt.Errorf("%s implementation %s offers no status", role.Label(), Impl(role).Name)
	}
	return status(ctx, lab, node, role)
}

func status(ctx context.Context, lab *netns.Lab, node string, role impl.Role) (impl.StatusDoc, error) {
	cmd := Impl(role).Caps.Status.Command
	var out, errb bytes.Buffer
	if err := lab.Exec(ctx, node, cmd, nil, &out, &errb); err != nil {
		return impl.StatusDoc{}, fmt.Errorf("%s: %v: %w: %s", node, cmd, err, errb.String())
	}
	st, err := impl.ParseStatus(out.Bytes())
	if err != nil {
		return st, fmt.Errorf("%s: %v: %w", node, cmd, err)
	}
	return st, nil
}

// WaitStatusRegistered waits until node's status command says registered
// (with ks when ks is valid) and returns the status.
func WaitStatusRegistered(ctx context.Context, lab *netns.Lab, node string, ks netip.Addr, within time.Duration) impl.StatusDoc {
	Require(impl.GM, impl.Status)
	var st impl.StatusDoc
	Eventually(func(g Gomega) {
		var err error
		st, err = status(ctx, lab, node, impl.GM)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Registered).To(BeTrue())
		if ks.IsValid() {
			g.Expect(st.KS).To(Equal(ks.String()))
		}
	}).WithContext(ctx).WithTimeout(within).WithPolling(50 * time.Millisecond).Should(Succeed())
	return st
}
