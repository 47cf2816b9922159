package netns

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/topo"
	"golang.org/x/sys/unix"
)

// startHolder re-executes this binary as the node's holder (holder.go), in
// the node's network namespace and a new mount namespace, and waits until it
// has mounted the node's file view.
func (l *Lab) startHolder(tn *topo.Node, n *Node) (pid int, start uint64, err error) {
	spec := holderSpec{Node: tn.Name, Scratch: filepath.Join(n.Dir, ".scratch")}
	for _, b := range tn.Binds {
		spec.Binds = append(spec.Binds, bindMount{Host: b.Host, Node: b.Node, ReadOnly: b.ReadOnly})
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return 0, 0, err
	}
	log, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, 0, err
	}
	defer log.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer statusR.Close()

	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"getlab-holder:" + tn.Name}
	cmd.Env = []string{holderEnv + "=" + string(specJSON)}
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Setsid: true}
	// Forked from a thread inside the node's network namespace, the holder
	// is born there.
	err = nsdo.Do(n.NetNS, cmd.Start)
	statusW.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("start holder: %w", err)
	}
	// Read before anything can reap it: until then the pid is the holder's.
	start = procStart(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(statusR).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			_ = cmd.Process.Kill()
			return 0, 0, l.holderError(tn, n, s)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return 0, 0, errors.New("holder: not ready after 10s")
	}
	return cmd.Process.Pid, start, nil
}

// holderError words a holder's failure status line: a bind that could not
// be mounted ("bind I: MESSAGE"), another error ("error: MESSAGE"), or
// nothing (it died).
func (l *Lab) holderError(tn *topo.Node, n *Node, status string) error {
	if rest, ok := strings.CutPrefix(status, "bind "); ok {
		idx, msg, _ := strings.Cut(rest, ": ")
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(tn.Binds) {
			return &StepError{File: l.displayFile(), Line: lineAt(tn.BindLines, i), Node: tn.Name,
				Step: "bind", What: bindString(tn.Binds[i]), Err: errors.New(msg)}
		}
	}
	if msg, ok := strings.CutPrefix(status, "error: "); ok {
		return errors.New(msg)
	}
	return fmt.Errorf("exited before it was ready (log %s: %s)", n.Log, fileTail(n.Log))
}

// enter is the nsenter prefix that puts a command into a node: its holder's
// mount and network namespaces, or only the network namespace of a node
// without a holder (a bridge).
func (n *Node) enter() []string {
	if n.Container != "" {
		// The container's file system, network, IPC and host name. Not
		// its PID namespace: entering one makes nsenter fork, and the lab
		// must signal (kill, stop, restart) the node's process itself.
		return []string{"nsenter", "-t", fmt.Sprint(n.Holder), "-m", "-n", "-i", "-u", "--wd=/", "--"}
	}
	if n.Holder != 0 {
		return []string{"nsenter", "-t", fmt.Sprint(n.Holder), "-m", "-n", "--wd=" + n.Dir, "--"}
	}
	return []string{"nsenter", "--net=" + n.NetNS, "--"}
}

// execLine runs one of a node's exec lines to completion. Its output goes to
// the node's exec.log; a failure is a StepError with the command's exit
// status and the end of its stderr (the caller fills in the file and line).
func (l *Lab) execLine(ctx context.Context, n *Node, line string) *StepError {
	fail := func(err error, stderr string) *StepError {
		return &StepError{Node: n.Name, Step: "exec", What: strconv.Quote(line), Err: err, OutputName: "stderr", Output: stderr}
	}
	argv, err := shellwords.Split(line)
	if err != nil {
		return fail(err, "")
	}
	if len(argv) == 0 {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(n.Dir, "exec.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err, "")
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", line)
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stderr := &tail{max: 2048}
	if err := l.Exec(ctx, n.Name, argv, nil, logf, io.MultiWriter(logf, stderr)); err != nil {
		err = exitError(err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("still running after %v: %w", execTimeout, err)
		}
		return fail(err, stderr.String())
	}
	return nil
}

// execTimeout bounds one exec line: they configure a node, they do not run
// services.
const execTimeout = 30 * time.Second

// Exec runs argv inside a node and waits for it.
func (l *Lab) Exec(ctx context.Context, node string, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		return errors.New("netns: exec: empty command")
	}
	full := append(n.enter(), argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(append(os.Environ(), l.nodePath()), n.Env...)
	return cmd.Run()
}

// startProcess starts a node's process in the background, with its output
// appended to the node's log. It is not tied to this process: a lab brought
// up by `getlab up` keeps running after getlab exits.
func (l *Lab) startProcess(n *Node) error {
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	full := append(n.enter(), n.Argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = n.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", strings.Join(n.Argv, " "), err)
	}
	// Read before anything can reap it: until then the pid is this
	// process's.
	start := procStart(cmd.Process.Pid)
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		l.mu.Lock()
		n.waitErr = err
		l.mu.Unlock()
		close(exited)
	}()
	l.mu.Lock()
	n.PID, n.PIDStart, n.exited, n.Started = cmd.Process.Pid, start, exited, started
	l.mu.Unlock()
	return waitEntered(cmd.Process.Pid, n.Holder, exited)
}

// errExitedAtStart is waitEntered's error for a process that exited before
// it had joined the node.
var errExitedAtStart = errors.New("exited at once")

// startError words startProcess's error for the node: a process that exited
// at once is reported with how it ended and the tail of its log.
func (l *Lab) startError(tn *topo.Node, n *Node, err error) error {
	if errors.Is(err, errExitedAtStart) {
		<-n.exited
		return l.processExited(tn, n, "exited at once")
	}
	return &StepError{File: l.displayFile(), Line: tn.Line, Node: tn.Name, Step: "process",
		What: commandLine(n.Argv), Err: err}
}

// waitEntered returns once pid has joined the holder's mount namespace, so
// that whoever reads the node's files through /proc/<pid>/root right after
// a start sees the node's view and not the host's (nsenter needs a moment
// between fork and setns).
func waitEntered(pid, holder int, exited chan struct{}) error {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder))
	if err != nil {
		return fmt.Errorf("holder %d: %w", holder, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("process %d: %w", pid, errExitedAtStart)
		default:
		}
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); got == want {
			return nil
		}
	}
	return fmt.Errorf("process %d did not enter the node within 5s", pid)
}

// Signal sends sig to a node's process (its holder if it runs none), once
// it is verified to be the node's and not a process that got its pid since.
func (l *Lab) Signal(node string, sig syscall.Signal) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	if n.PID == 0 {
		return fmt.Errorf("netns: node %s runs no process", node)
	}
	p, err := openProc(n.PID, n.PIDStart, n.NetNS)
	if err == nil {
		defer p.close()
		err = p.signal(sig)
	}
	if errors.Is(err, os.ErrProcessDone) || errors.Is(err, unix.ESRCH) {
		err = errors.New("it has exited")
	}
	if err != nil {
		return fmt.Errorf("netns: signal %v to %s (pid %d): %w", sig, node, n.PID, err)
	}
	return nil
}

// Restart stops a node's process (SIGTERM, then SIGKILL after grace) and
// starts it again with the same command line, in the same namespaces.
func (l *Lab) Restart(node string, grace time.Duration) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	if len(n.Argv) == 0 {
		return fmt.Errorf("netns: node %s runs no process to restart", node)
	}
	l.stopProcess(n, n.PID, n.PIDStart, n.exited, grace)
	if err := l.startProcess(n); err != nil {
		return fmt.Errorf("netns: restart %s: %w", node, err)
	}
	return l.save()
}

// State is a node's process state as `ps` shows it: running, stopped,
// exited, or up (a node with no process, such as a bridge).
func (n *Node) State() string {
	if n.PID == 0 {
		if _, err := os.Stat(n.NetNS); err == nil {
			return "up"
		}
		return "gone"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.PID))
	if err != nil || checkProc(n.PID, n.PIDStart, n.NetNS) != nil {
		return "exited" // or the pid is another process's now
	}
	switch procState(b) {
	case 'T', 't':
		return "stopped"
	case 'Z', 'X':
		return "exited"
	}
	return "running"
}
