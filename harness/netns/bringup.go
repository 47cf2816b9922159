package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

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
			return err
		}
		if err := s.fn(ctx); err != nil {
			return err
		}
		l.opts.Log("%s: %s done", l.ID, s.name)
	}
	return l.save()
}

// eachNode runs fn for every node concurrently and joins the errors.
func (l *Lab) eachNode(fn func(tn *topo.Node, n *Node) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, tn := range l.topo.Nodes {
		n := l.Nodes[i]
		wg.Go(func() {
			if err := fn(tn, n); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("node %s: %w", tn.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) createNamespaces(ctx context.Context) error {
	return l.eachNode(func(tn *topo.Node, n *Node) error {
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
	for i, link := range l.topo.Links {
		if err := l.createLink(link); err != nil {
			errs = append(errs, fmt.Errorf("link %d (%s:%s -- %s:%s): %w",
				i+1, link.A.Node, link.A.Iface, link.B.Node, link.B.Iface, err))
		}
	}
	return errors.Join(errs...)
}

func (l *Lab) createLink(link *topo.Link) error {
	a, b := l.Node(link.A.Node), l.Node(link.B.Node)
	nsA, err := vnetns.GetFromPath(a.NetNS)
	if err != nil {
		return err
	}
	defer nsA.Close()
	nsB, err := vnetns.GetFromPath(b.NetNS)
	if err != nil {
		return err
	}
	defer nsB.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: link.A.Iface, MTU: link.MTU, Namespace: netlink.NsFd(nsA)},
		PeerName:      link.B.Iface,
		PeerNamespace: netlink.NsFd(nsB),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	for _, end := range []struct {
		node  *Node
		iface string
	}{{a, link.A.Iface}, {b, link.B.Iface}} {
		if err := l.bringEndUp(end.node, end.iface, link.MTU); err != nil {
			return fmt.Errorf("%s:%s: %w", end.node.Name, end.iface, err)
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

// writeSysctls sets net.* sysctls in the calling thread's network
// namespace. Only the net.* ones are per namespace; anything else would
// change the host, so it is refused (a container runtime refuses them too).
func writeSysctls(m map[string]string) error {
	for k, v := range m {
		if !strings.HasPrefix(k, "net.") {
			return fmt.Errorf("sysctl %s: only net.* sysctls are per namespace", k)
		}
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// applySysctls writes each node's sysctls over the defaults.
func (l *Lab) applySysctls(context.Context) error {
	return l.eachNode(func(tn *topo.Node, n *Node) error {
		if len(tn.Sysctls) == 0 {
			return nil
		}
		return nsdo.Do(n.NetNS, func() error { return writeSysctls(tn.Sysctls) })
	})
}

func (l *Lab) startHolders(context.Context) error {
	return l.eachNode(func(tn *topo.Node, n *Node) error {
		if tn.Kind == "bridge" || n.Container != "" {
			return nil
		}
		pid, err := l.startHolder(tn, n)
		if err != nil {
			return err
		}
		l.mu.Lock()
		n.Holder, n.PID = pid, pid
		l.mu.Unlock()
		return nil
	})
}

func (l *Lab) runExecLines(ctx context.Context) error {
	return l.eachNode(func(tn *topo.Node, n *Node) error {
		for _, line := range tn.Exec {
			if err := l.execLine(ctx, n, line); err != nil {
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
		return err
	}
	l.opts.Log("%s: processes %v done", l.ID, nodes)
	return l.save()
}

func (l *Lab) startProcesses(_ context.Context, only ...string) error {
	return l.eachNode(func(tn *topo.Node, n *Node) error {
		if tn.Kind == "bridge" {
			return nil
		}
		if len(only) > 0 && !slices.Contains(only, tn.Name) {
			return nil
		}
		if n.Container != "" {
			// The container told its command at creation.
			if len(n.Argv) == 0 {
				return nil
			}
			return l.startProcess(n)
		}
		argv, err := nodeArgv(tn, l.opts.BinDir)
		if err != nil || argv == nil {
			return err
		}
		env := []string{l.nodePath(), "HOME=/root"}
		for k, v := range tn.Env {
			env = append(env, k+"="+v)
		}
		l.mu.Lock()
		n.Argv, n.Env = argv, env
		l.mu.Unlock()
		return l.startProcess(n)
	})
}
