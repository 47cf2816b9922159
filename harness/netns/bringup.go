package netns

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/topo"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

func (l *Lab) bringUp(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"preflight", l.preflight},
		{"namespaces", l.createNamespaces},
		{"links", l.createLinks},
		{"sysctls", l.applySysctls},
		{"holders", l.startHolders},
		{"exec", l.runExecLines},
		{"processes", func(ctx context.Context) error { return l.startProcesses(ctx) }},
	}
	for _, s := range steps {
		if s.name == "processes" && l.opts.DeferProcesses {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted before %s: %w", s.name, err)
		}
		if err := s.fn(ctx); err != nil {
			return err
		}
		l.opts.Log("%s: %s done", l.ID, s.name)
	}
	return l.save()
}

// eachNode runs fn for every node concurrently and joins the errors, each a
// StepError of step on its node unless fn said more precisely where it
// failed.
func (l *Lab) eachNode(step string, fn func(tn *topo.Node, n *Node) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.topo.Nodes)) // in file order, whichever fails first
	for i, tn := range l.topo.Nodes {
		n := l.Nodes[i]
		wg.Go(func() { errs[i] = l.stepError(step, tn.Name, tn.Line, fn(tn, n)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// preflight checks what a lab takes from the host before anything is
// created: every bind's host path and every device exist, and on the netns
// runtime every image maps to something it can run. (A container runtime
// would create a missing bind source on the host; a lab must not.)
func (l *Lab) preflight(context.Context) error {
	var errs []error
	for _, tn := range l.topo.Nodes {
		if tn.Kind == "bridge" {
			continue
		}
		for i, b := range tn.Binds {
			if _, err := os.Stat(b.Host); err != nil {
				errs = append(errs, &StepError{File: l.displayFile(), Line: lineAt(tn.BindLines, i), Node: tn.Name,
					Step: "bind", What: bindString(b), Err: fmt.Errorf("host path: %w", err)})
			}
		}
		for i, d := range tn.Devices {
			st, err := os.Stat(d)
			if err == nil && st.Mode()&os.ModeDevice == 0 {
				err = fmt.Errorf("%s is not a device", d)
			}
			if err != nil {
				errs = append(errs, &StepError{File: l.displayFile(), Line: lineAt(tn.DeviceLines, i), Node: tn.Name,
					Step: "device", What: d, Err: err})
			}
		}
		if l.opts.Containers == nil {
			if _, err := nodeArgv(tn, l.opts.BinDir); err != nil {
				errs = append(errs, &StepError{File: l.displayFile(), Line: tn.Line, Node: tn.Name,
					Step: "image", What: strconv.Quote(tn.Image), Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

func lineAt(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}

func bindString(b topo.Bind) string {
	s := b.Host + ":" + b.Node
	if b.ReadOnly {
		s += ":ro"
	}
	return s
}

func (l *Lab) createNamespaces(ctx context.Context) error {
	step := "namespace"
	if l.opts.Containers != nil {
		step = "container"
	}
	return l.eachNode(step, func(tn *topo.Node, n *Node) error {
		if l.opts.Containers != nil && tn.Kind != "bridge" {
			return l.runContainer(ctx, tn, n)
		}
		if _, err := nsdo.CreateNamed(filepath.Base(n.NetNS)); err != nil {
			return err
		}
		if err := nsdo.Do(n.NetNS, resetForwarding); err != nil {
			return err
		}
		if tn.Kind != "bridge" {
			return nil
		}
		h, err := handleAt(n.NetNS)
		if err != nil {
			return err
		}
		defer h.Close()
		// The bridge device takes the node's name, as the host bridge a
		// containerlab bridge node names does.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: tn.Name}}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("bridge %s: %w", tn.Name, err)
		}
		return h.LinkSetUp(br)
	})
}

// handleAt opens a netlink handle inside the namespace at path.
func handleAt(path string) (*netlink.Handle, error) {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

// createLinks makes one veth pair per link, each end created directly in its
// node's namespace under the name the topology gives it, so no temporary
// name ever appears in the host namespace.
func (l *Lab) createLinks(context.Context) error {
	var errs []error
	for _, link := range l.topo.Links {
		if err := l.createLink(link); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// createLink makes one link; its error is a StepError naming the link and,
// when one end failed, that end's node.
func (l *Lab) createLink(link *topo.Link) error {
	fail := func(node string, err error) error {
		return &StepError{File: l.displayFile(), Line: link.Line, Node: node, Step: "link", What: link.String(), Err: err}
	}
	a, b := l.Node(link.A.Node), l.Node(link.B.Node)
	nsA, err := vnetns.GetFromPath(a.NetNS)
	if err != nil {
		return fail(a.Name, err)
	}
	defer nsA.Close()
	nsB, err := vnetns.GetFromPath(b.NetNS)
	if err != nil {
		return fail(b.Name, err)
	}
	defer nsB.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: link.A.Iface, MTU: link.MTU, Namespace: netlink.NsFd(nsA)},
		PeerName:      link.B.Iface,
		PeerNamespace: netlink.NsFd(nsB),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fail("", fmt.Errorf("create veth pair %s/%s: %w", link.A.Iface, link.B.Iface, err))
	}
	for _, end := range []struct {
		node  *Node
		iface string
	}{{a, link.A.Iface}, {b, link.B.Iface}} {
		if err := l.bringEndUp(end.node, end.iface, link.MTU); err != nil {
			return fail(end.node.Name, fmt.Errorf("interface %s: %w", end.iface, err))
		}
	}
	return nil
}

func (l *Lab) bringEndUp(n *Node, iface string, mtu int) error {
	h, err := handleAt(n.NetNS)
	if err != nil {
		return err
	}
	defer h.Close()
	dev, err := h.LinkByName(iface)
	if err != nil {
		return err
	}
	if mtu != 0 && dev.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(dev, mtu); err != nil {
			return fmt.Errorf("mtu %d: %w", mtu, err)
		}
	}
	if n.Kind == "bridge" {
		br, err := h.LinkByName(n.Name)
		if err != nil {
			return err
		}
		if err := h.LinkSetMaster(dev, br); err != nil {
			return fmt.Errorf("attach to bridge: %w", err)
		}
	}
	return h.LinkSetUp(dev)
}

// nodeDefaults are the sysctls every node starts from. A new namespace
// copies some of them from the host (on hosts where a container engine has
// turned forwarding on, every node would route), so the lab sets them: a
// node forwards only when its topology entry's sysctls say so.
var nodeDefaults = map[string]string{
	"net.ipv4.ip_forward":              "0",
	"net.ipv6.conf.all.forwarding":     "0",
	"net.ipv6.conf.default.forwarding": "0",
}

// resetForwarding applies nodeDefaults in the calling thread's namespace.
func resetForwarding() error { return writeSysctls(nodeDefaults) }

// sysctlError is a sysctl that could not be set.
type sysctlError struct {
	key, value string
	err        error
}

func (e *sysctlError) Error() string { return fmt.Sprintf("sysctl %s=%s: %v", e.key, e.value, e.err) }

// writeSysctls sets net.* sysctls in the calling thread's network
// namespace, in name order. Only the net.* ones are per namespace; anything
// else would change the host, so it is refused (a container runtime
// refuses them too).
func writeSysctls(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if !strings.HasPrefix(k, "net.") {
			return &sysctlError{k, v, errors.New("only net.* sysctls are per namespace")}
		}
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("no such sysctl in a network namespace (%w)", err)
			}
			return &sysctlError{k, v, err}
		}
	}
	return nil
}

// applySysctls writes each node's sysctls over the defaults.
func (l *Lab) applySysctls(context.Context) error {
	return l.eachNode("sysctl", func(tn *topo.Node, n *Node) error {
		if len(tn.Sysctls) == 0 {
			return nil
		}
		err := nsdo.Do(n.NetNS, func() error { return writeSysctls(tn.Sysctls) })
		if se, ok := errors.AsType[*sysctlError](err); ok {
			return &StepError{File: l.displayFile(), Line: tn.SysctlLines[se.key], Node: tn.Name,
				Step: "sysctl", What: se.key + "=" + se.value, Err: se.err}
		}
		return err
	})
}

func (l *Lab) startHolders(context.Context) error {
	return l.eachNode("holder", func(tn *topo.Node, n *Node) error {
		if tn.Kind == "bridge" || n.Container != "" {
			return nil
		}
		pid, start, err := l.startHolder(tn, n)
		if err != nil {
			return err
		}
		l.mu.Lock()
		n.Holder, n.PID, n.HolderStart, n.PIDStart = pid, pid, start, start
		l.mu.Unlock()
		return nil
	})
}

// runExecLines runs each node's exec lines in order; a node stops at its
// first failing line (the next ones would run on a node not as the file
// says).
func (l *Lab) runExecLines(ctx context.Context) error {
	return l.eachNode("exec", func(tn *topo.Node, n *Node) error {
		for i, line := range tn.Exec {
			if err := l.execLine(ctx, n, line); err != nil {
				err.File, err.Line = l.displayFile(), lineAt(tn.ExecLines, i)
				return err
			}
		}
		return nil
	})
}

// nodePath is the PATH of node processes and exec lines: the project's
// binaries first, the way its images put getvpnd and getctl on the PATH, so
// `getlab exec gm1 -- getctl show gdoi` works on every runtime.
func (l *Lab) nodePath() string {
	return "PATH=" + l.opts.BinDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

// StartProcesses starts the node processes of a lab deployed with
// Options.DeferProcesses: those of the named nodes, or of every node when
// none is named (a suite starts its key servers before its group members,
// as an operator would).
func (l *Lab) StartProcesses(ctx context.Context, nodes ...string) error {
	for _, name := range nodes {
		if l.Node(name) == nil {
			return fmt.Errorf("lab %s: no node %q", l.ID, name)
		}
	}
	if err := l.startProcesses(ctx, nodes...); err != nil {
		_ = l.save()
		return err
	}
	l.opts.Log("%s: processes %v done", l.ID, nodes)
	return l.save()
}

// startProcesses starts the node processes (of the nodes named, or of all),
// then, with Options.WatchStart, watches them that long: a process that
// exits in that time fails the step with the tail of its log.
func (l *Lab) startProcesses(ctx context.Context, only ...string) error {
	var (
		mu      sync.Mutex
		started []*topo.Node
	)
	err := l.eachNode("process", func(tn *topo.Node, n *Node) error {
		ok, err := l.startNodeProcess(tn, n, only)
		if ok {
			mu.Lock()
			started = append(started, tn)
			mu.Unlock()
		}
		return err
	})
	if l.opts.WatchStart <= 0 || len(started) == 0 {
		return err
	}
	// Watched even when another node's process failed to start, so that
	// one report names every process that died.
	select {
	case <-time.After(l.opts.WatchStart):
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
	slices.SortFunc(started, func(a, b *topo.Node) int { return slices.Index(l.topo.Nodes, a) - slices.Index(l.topo.Nodes, b) })
	errs := []error{err}
	for _, tn := range started {
		n := l.Node(tn.Name)
		select {
		case <-n.exited:
			errs = append(errs, l.processExited(tn, n, fmt.Sprintf("exited within %v of its start", l.opts.WatchStart)))
		default:
		}
	}
	return errors.Join(errs...)
}

// processExited is the StepError of a node process that has exited: how it
// ended and the tail of its log.
func (l *Lab) processExited(tn *topo.Node, n *Node, when string) error {
	return &StepError{File: l.displayFile(), Line: tn.Line, Node: tn.Name, Step: "process",
		What: commandLine(n.Argv), Err: fmt.Errorf("%s: %v", when, exitError(n.waitErr)),
		OutputName: "log", Output: fileTail(n.Log)}
}

// startNodeProcess starts node n's process, if it has one and is among
// only (or only is empty), and reports whether it started one.
func (l *Lab) startNodeProcess(tn *topo.Node, n *Node, only []string) (bool, error) {
	if tn.Kind == "bridge" || len(only) > 0 && !slices.Contains(only, tn.Name) {
		return false, nil
	}
	if n.Container == "" {
		argv, err := nodeArgv(tn, l.opts.BinDir)
		if err != nil || argv == nil {
			return false, err
		}
		env := []string{l.nodePath(), "HOME=/root"}
		for k, v := range tn.Env {
			env = append(env, k+"="+v)
		}
		l.mu.Lock()
		n.Argv, n.Env = argv, env
		l.mu.Unlock()
	} else if len(n.Argv) == 0 {
		// The container told its command at creation; it has none.
		return false, nil
	}
	if err := l.startProcess(n); err != nil {
		return false, l.startError(tn, n, err)
	}
	return true, nil
}
