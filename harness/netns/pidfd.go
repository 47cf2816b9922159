package netns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A lab signals processes whose ids it read from lab.json, possibly long
// after they were written: by then a process may have exited and its id gone
// to a stranger, which root would kill. So every process is verified before
// any signal: a pidfd is opened on the id, the process it refers to is
// checked against the start time recorded with the id (or, for a record
// without one, against the node's network namespace), and the signal goes
// through that pidfd, which can only ever reach the process it was opened
// on.

// procStart is the start time of process pid, in clock ticks after boot
// (field 22 of /proc/PID/stat), or 0 if it cannot be read. With the pid it
// names one process for the life of the machine.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return statStart(b)
}

// statStart reads the start time out of a /proc/PID/stat line. Fields are
// counted after the parenthesised command name, which may hold spaces and
// parentheses itself: the state is field 3, the start time field 22.
func statStart(stat []byte) uint64 {
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// errNotOurs is the error for a recorded pid that now names another process.
var errNotOurs = errors.New("the pid now belongs to another process")

// procRef is a process of a lab, verified and held by a pidfd.
type procRef struct {
	pid, fd int
}

// openProc opens pid and verifies it is the lab's process: started at start
// when a start time was recorded, else a member of the network namespace at
// netns (see ours). It fails with os.ErrProcessDone when no such process runs and with
// errNotOurs when the pid is another process's.
func openProc(pid int, start uint64, netns string) (*procRef, error) {
	if pid <= 0 {
		return nil, os.ErrProcessDone
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, os.ErrProcessDone
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd %d: %w", pid, err)
	}
	p := &procRef{pid: pid, fd: fd}
	// Read after the pidfd is open: if the pid was already reused, the
	// pidfd refers to the stranger and the check fails; if the process
	// exits and its pid is reused after the check, the pidfd still refers
	// to the process checked and signals nobody.
	if err := p.ours(start, netns); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// ours checks the process against both marks a lab has of its own: the
// start time recorded with the pid (to the clock tick: a reused pid would
// have to be handed out within the same 10 ms to pass), and membership of
// the node's network namespace, where every process of a node runs. The
// namespace is checked while its name exists; a record without a start
// time is judged by the namespace alone, and refused without either.
func (p *procRef) ours(start uint64, netns string) error { return checkProc(p.pid, start, netns) }

func checkProc(pid int, start uint64, netns string) error {
	if start != 0 {
		switch procStart(pid) {
		case 0:
			return os.ErrProcessDone
		case start:
		default:
			return errNotOurs
		}
	}
	var want, got syscall.Stat_t
	if err := syscall.Stat(netns, &want); err != nil {
		if start != 0 {
			return nil
		}
		return fmt.Errorf("pid %d was recorded without a start time, and its node's namespace %s cannot be checked: %w", pid, netns, err)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
		return os.ErrProcessDone
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return errNotOurs
	}
	return nil
}

func (p *procRef) signal(sig syscall.Signal) error {
	return unix.PidfdSendSignal(p.fd, sig, nil, 0)
}

// wait waits up to d for the process to exit (a pidfd polls readable then).
func (p *procRef) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := max(int(time.Until(deadline)/time.Millisecond), 0)
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}, ms)
		if err == nil {
			return n > 0
		}
		if !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}

func (p *procRef) close() { unix.Close(p.fd) }
