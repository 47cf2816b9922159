// Package netns is getlab's embedded topology runtime: each node of a
// containerlab topology is a network namespace, each link a veth pair, each
// bridge node a Linux bridge in a namespace of its own, and each node's
// process runs in the node's namespaces with its own mount namespace (see
// holder.go). It needs root and nothing but the kernel and util-linux.
//
// Every resource a lab creates lives inside its namespaces or its lab
// directory, and every name carries the lab's ID, so two labs run side by
// side and destroying one (or sweeping stale ones) removes all of it.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/topo"
)

// Prefix starts the ID of every lab, and so the name of every namespace a
// lab creates: "getlab-3fa9c1-gm1" is node gm1 of lab getlab-3fa9c1.
const Prefix = "getlab-"

// nsDir is where the lab's named network namespaces live.
const nsDir = nsdo.NamedDir

// Options tune a deployment.
type Options struct {
	// LabRoot holds one directory per lab; default DefaultLabRoot().
	LabRoot string
	// BinDir holds the binaries the project's images map to; default DefaultBinDir().
	BinDir string
	// Detached marks a lab that outlives the process that deployed it
	// (`getlab up`); a stale-lab sweep leaves detached labs alone.
	Detached bool
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
	// Containers, when set, runs the non-bridge nodes as containers
	// (harness/docker); nil runs them as namespaces with holders.
	Containers Containers
	// DeferProcesses leaves the node processes unstarted: the caller starts
	// them with Lab.StartProcesses once it is ready to watch them (a suite
	// starts its capture first, so the daemons' first packets are on it).
	DeferProcesses bool
	// WatchStart is how long starting node processes watches them: one
	// that exits in that time fails the start, reported with the tail of
	// its log. 0 does not wait (`getlab up` watches for a second).
	WatchStart time.Duration
	// KeepOnError leaves a lab whose bring-up failed as it was, for a look
	// inside: Deploy returns it with its error. Otherwise everything
	// created is removed.
	KeepOnError bool
}

// DefaultLabRoot is $GETLAB_LABS or /tmp/getlab.
func DefaultLabRoot() string {
	if d := os.Getenv("GETLAB_LABS"); d != "" {
		return d
	}
	return "/tmp/getlab"
}

// Lab is a deployed topology. Its exported fields are saved as lab.json in
// the lab directory, which is how `getlab ps` and `getlab down` find a lab
// deployed by another process.
type Lab struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	File  string `json:"file"`
	Dir   string `json:"dir"`
	Owner int    `json:"owner"`
	// OwnerStart is the owner's start time (see Node.PIDStart).
	OwnerStart uint64    `json:"owner_start,omitempty"`
	Detached   bool      `json:"detached"`
	Runtime    string    `json:"runtime"` // "netns" or a Containers runtime ("docker")
	Created    time.Time `json:"created"`
	Nodes      []*Node   `json:"nodes"`

	mu   sync.Mutex
	topo *topo.Topology
	opts Options
}

// Node is one node of a lab as the runtime runs it.
type Node struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Image  string `json:"image,omitempty"`
	NetNS  string `json:"netns"`  // path of its network namespace
	Dir    string `json:"dir"`    // working directory of its processes
	Log    string `json:"log"`    // stdout and stderr of its process
	Holder int    `json:"holder"` // pid owning its mount namespace (0 for bridges)
	PID    int    `json:"pid"`    // its process; the holder's pid if it runs none
	// Start times of Holder and PID (clock ticks after boot, field 22 of
	// /proc/PID/stat): with the pid they name the process for good, so the
	// lab never signals a stranger that got a pid after its process exited.
	HolderStart uint64   `json:"holder_start,omitempty"`
	PIDStart    uint64   `json:"pid_start,omitempty"`
	Argv        []string `json:"argv,omitempty"` // its process's command line, if any
	// Started is when the lab last started its process (wall clock): a
	// spec times what a restarted process does from it, not from when
	// Restart returned, which a loaded machine may make later than the
	// process's first exchanges.
	Started time.Time `json:"started,omitempty"`
	Env     []string  `json:"env,omitempty"`
	// Container is the node's container ID on a container runtime.
	Container string `json:"container,omitempty"`

	exited  chan struct{} // closed when a process this Lab started has been reaped
	waitErr error         // how that process ended, once exited is closed
}

// Deploy brings a topology up: namespaces, links and bridges, sysctls, node
// holders, exec lines, then node processes — in that order, so a daemon
// starts with its interfaces configured. On error everything created so far
// is removed.
func Deploy(ctx context.Context, t *topo.Topology, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("netns: deploying a topology needs root (network namespaces)")
	}
	opts = withDefaults(opts)
	l, err := newLab(t, opts)
	if err != nil {
		return nil, err
	}
	if err := l.bringUp(ctx); err != nil {
		de := &DeployError{Lab: l.ID, Err: err}
		if opts.KeepOnError {
			de.Kept = true
			if err := l.save(); err != nil {
				de.Err = errors.Join(de.Err, err)
			}
			return l, de
		}
		de.Cleanup = l.Destroy()
		return nil, de
	}
	return l, nil
}

func withDefaults(opts Options) Options {
	if opts.LabRoot == "" {
		opts.LabRoot = DefaultLabRoot()
	}
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir()
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	return opts
}

func newLab(t *topo.Topology, opts Options) (*Lab, error) {
	var id string
	for range 10 {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		id = Prefix + hex.EncodeToString(b[:])
		// Free both as a directory here and as namespaces, which another
		// lab root may be using.
		_, err := os.Stat(filepath.Join(opts.LabRoot, id))
		inUse, _ := filepath.Glob(filepath.Join(nsDir, id+"-*"))
		if errors.Is(err, os.ErrNotExist) && len(inUse) == 0 {
			break
		}
	}
	l := &Lab{
		ID:         id,
		Name:       t.Name,
		File:       t.File,
		Dir:        filepath.Join(opts.LabRoot, id),
		Owner:      os.Getpid(),
		OwnerStart: procStart(os.Getpid()),
		Detached:   opts.Detached,
		Runtime:    "netns",
		Created:    time.Now(),
		topo:       t,
		opts:       opts,
	}
	if opts.Containers != nil {
		l.Runtime = opts.Containers.Runtime()
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("netns: lab directory: %w", err)
	}
	for _, tn := range t.Nodes {
		n := &Node{
			Name:  tn.Name,
			Kind:  tn.Kind,
			Image: tn.Image,
			NetNS: filepath.Join(nsDir, id+"-"+tn.Name),
			Dir:   filepath.Join(l.Dir, tn.Name),
			Log:   filepath.Join(l.Dir, tn.Name, tn.Name+".log"),
		}
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("netns: node directory: %w", err)
		}
		l.Nodes = append(l.Nodes, n)
	}
	// Saved before anything is created, so a crash mid-deploy leaves a
	// record that `getlab down --all` can act on.
	return l, l.save()
}

// Detach makes the lab outlive the process that deployed it, as `getlab
// up`'s labs do: a stale-lab sweep (another run's) leaves it alone, and
// only `getlab down` removes it. A suite keeping its lab for a look
// inside (GETLAB_KEEP=1) detaches it instead of destroying it.
func (l *Lab) Detach() error {
	l.mu.Lock()
	l.Detached = true
	l.mu.Unlock()
	return l.save()
}

// Topology is the topology the lab was deployed from (nil for a lab opened
// from its state file).
func (l *Lab) Topology() *topo.Topology { return l.topo }

// Node returns the named node, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (l *Lab) node(name string) (*Node, error) {
	if n := l.Node(name); n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("netns: lab %s has no node %q", l.ID, name)
}

// NetNS is the path of a node's network namespace.
func (l *Lab) NetNS(node string) (string, error) {
	n, err := l.node(node)
	if err != nil {
		return "", err
	}
	return n.NetNS, nil
}

func (l *Lab) save() error {
	l.mu.Lock()
	b, err := json.MarshalIndent(l, "", "  ")
	l.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, "lab.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("netns: save lab state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(l.Dir, "lab.json"))
}

// Open loads a lab deployed by another process from its state file. id may
// be the full ID or the part after the prefix.
func Open(id string, opts Options) (*Lab, error) {
	opts = withDefaults(opts)
	if len(id) < len(Prefix) || id[:len(Prefix)] != Prefix {
		id = Prefix + id
	}
	return openDir(filepath.Join(opts.LabRoot, id), opts)
}

func openDir(dir string, opts Options) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, fmt.Errorf("netns: open lab: %w", err)
	}
	l := &Lab{opts: opts}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("netns: %s: %w", filepath.Join(dir, "lab.json"), err)
	}
	return l, nil
}

// Destroy stops every process of the lab, deletes its namespaces (and with
// them every veth, bridge and nftables table inside) and removes its lab
// directory. It is safe to call twice and on a half-deployed lab.
func (l *Lab) Destroy() error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, n := range l.Nodes {
		wg.Go(func() {
			if err := l.destroyNode(n); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) == 0 {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Lab) destroyNode(n *Node) error {
	if n.PID != 0 && n.PID != n.Holder {
		l.stopProcess(n, n.PID, n.PIDStart, n.exited, 2*time.Second)
	}
	if n.Container != "" {
		if l.opts.Containers == nil {
			return fmt.Errorf("netns: node %s is %s container %s: destroy the lab with that runtime", n.Name, l.Runtime, n.Container)
		}
		if err := l.opts.Containers.Remove(context.Background(), n.Container); err != nil {
			return fmt.Errorf("netns: node %s: %w", n.Name, err)
		}
	} else if n.Holder != 0 {
		l.stopProcess(n, n.Holder, n.HolderStart, nil, time.Second)
	}
	if err := removeNamespace(n.NetNS); err != nil {
		return fmt.Errorf("netns: node %s: %w", n.Name, err)
	}
	return nil
}

// stopProcess stops one of node n's processes, recorded as pid started at
// start: SIGTERM, then SIGKILL after grace. exited, if not nil, is closed
// when this process (a child of ours) has been reaped. A pid that now names
// another process is left alone (see pidfd.go): whatever still runs in the
// node's namespace is killed with it.
func (l *Lab) stopProcess(n *Node, pid int, start uint64, exited chan struct{}, grace time.Duration) {
	p, err := openProc(pid, start, n.NetNS)
	if err != nil {
		if !errors.Is(err, os.ErrProcessDone) {
			l.opts.Log("%s: node %s: not signalling pid %d: %v", l.ID, n.Name, pid, err)
		}
		return
	}
	defer p.close()
	if p.signal(syscall.SIGTERM) != nil {
		return
	}
	// A stopped process cannot act on SIGTERM until continued.
	_ = p.signal(syscall.SIGCONT)
	if waitExit(p, exited, grace) {
		return
	}
	_ = p.signal(syscall.SIGKILL)
	waitExit(p, exited, time.Second)
}

// waitExit waits up to d for p to exit, and for exited (if not nil) to be
// closed: a child of ours is reaped, not left a zombie.
func waitExit(p *procRef, exited chan struct{}, d time.Duration) bool {
	if exited != nil {
		select {
		case <-exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	return p.wait(d)
}

// ownerAlive reports whether the process that deployed the lab still runs.
func (l *Lab) ownerAlive() bool {
	return alive(l.Owner) && (l.OwnerStart == 0 || procStart(l.Owner) == l.OwnerStart)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	st := procState(b)
	return st != 'Z' && st != 'X'
}

// procState is the state letter of a /proc/PID/stat line: the field after
// the parenthesised command name, which may itself hold spaces.
func procState(stat []byte) byte {
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return stat[i+2]
		}
	}
	return '?'
}
