package netns

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/topo"
)

// Containers runs a lab's non-bridge nodes as containers (package
// harness/docker implements it). The lab keeps doing the rest the same way
// on every runtime: each container's network namespace is named
// /run/netns/<lab>-<node> like a netns node's, so links, sysctls, faults,
// captures and traffic work on it unchanged; exec lines and the node's
// process run inside the container (its file system, its tools) through
// nsenter, and the bench reads its files through /proc/<pid>/root.
type Containers interface {
	// Runtime names the runtime ("docker").
	Runtime() string
	// Run creates and starts node's container with no network of its own
	// and idle: the node's process is started later, through Container.Argv
	// (the image's entrypoint and command, or the topology's cmd). dir is
	// the topology file's folder, against which relative binds resolve.
	Run(ctx context.Context, lab string, node *topo.Node, dir string) (Container, error)
	// Remove removes one container; RemoveLab every container of a lab
	// ("" = of every getlab lab).
	Remove(ctx context.Context, id string) error
	RemoveLab(ctx context.Context, lab string) error
}

// Container is a running node container.
type Container struct {
	ID   string
	PID  int      // its init process, which owns its namespaces
	Argv []string // the node's process
	Env  []string
}

// runContainer starts node n's container and names its network namespace.
func (l *Lab) runContainer(ctx context.Context, tn *topo.Node, n *Node) error {
	c, err := l.opts.Containers.Run(ctx, l.ID, tn, filepath.Dir(l.File))
	if err != nil {
		return err
	}
	l.mu.Lock()
	start := procStart(c.PID)
	n.Container, n.Holder, n.PID, n.HolderStart, n.PIDStart = c.ID, c.PID, c.PID, start, start
	// The image's environment, PATH included: exec lines put the lab's
	// PATH before it, so the image's own wins where it sets one.
	n.Argv, n.Env = c.Argv, c.Env
	l.mu.Unlock()
	if _, err := nsdo.AttachNamed(filepath.Base(n.NetNS), fmt.Sprintf("/proc/%d/ns/net", c.PID)); err != nil {
		return err
	}
	return nsdo.Do(n.NetNS, resetForwarding)
}
