package fault

import (
	"fmt"
	"syscall"
	"time"
)

// Processes is what a runtime offers for process faults on its nodes: the
// netns runtime's Lab implements it, and so will the docker runtime.
type Processes interface {
	// Signal sends sig to the node's process.
	Signal(node string, sig syscall.Signal) error
	// Restart stops the node's process (SIGTERM, SIGKILL after grace) and
	// starts it again with the same command line.
	Restart(node string, grace time.Duration) error
}

// RestartGrace is how long a restarted process gets to exit on SIGTERM.
const RestartGrace = 2 * time.Second

// Kill ends the node's process at once (SIGKILL), as a crash or power loss
// would: it gets no chance to say goodbye on the wire.
func Kill(p Processes, node string) error {
	return wrap("kill", node, p.Signal(node, syscall.SIGKILL))
}

// Stop freezes the node's process (SIGSTOP): it keeps its sockets and state
// but answers nothing, like a hung box, until Continue.
func Stop(p Processes, node string) error {
	return wrap("stop", node, p.Signal(node, syscall.SIGSTOP))
}

// Continue resumes a stopped process (SIGCONT).
func Continue(p Processes, node string) error {
	return wrap("continue", node, p.Signal(node, syscall.SIGCONT))
}

// Restart stops the node's process gracefully and starts it again.
func Restart(p Processes, node string) error {
	return wrap("restart", node, p.Restart(node, RestartGrace))
}

func wrap(what, node string, err error) error {
	if err != nil {
		return fmt.Errorf("fault: %s %s: %w", what, node, err)
	}
	return nil
}
