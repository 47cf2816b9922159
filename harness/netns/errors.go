package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StepError is a bring-up step that failed: where in the topology file,
// on which node, which step and entry, and what the system said. Bring-up
// returns one per failure, so a user can fix the file without reading logs.
type StepError struct {
	File string // the topology file, relative to the working directory when under it
	Line int    // the line of the entry that failed (0 when unknown)
	Node string // the node ("" for a link's veth pair)
	// Step is the bring-up step: bind, device, image, namespace, container,
	// link, sysctl, holder, exec or process.
	Step string
	What string // the entry: a command, a link, "key=value", a bind, a device
	Err  error  // what the system said
	// OutputName names Output: "stderr" of an exec line, "log" of a process.
	OutputName string
	Output     string
}

func (e *StepError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Node != "" {
		fmt.Fprintf(&b, "node %s: ", e.Node)
	}
	b.WriteString(e.Step)
	if e.What != "" {
		b.WriteString(" " + e.What)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if out := strings.TrimRight(e.Output, "\n"); out != "" {
		lines := strings.Split(out, "\n")
		if len(lines) == 1 {
			fmt.Fprintf(&b, "\n  %s: %s", e.OutputName, lines[0])
		} else {
			fmt.Fprintf(&b, "\n  %s:", e.OutputName)
			for _, l := range lines {
				b.WriteString("\n    " + l)
			}
		}
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// DeployError is a failed Deploy: the steps that failed, and what became of
// the half-built lab.
type DeployError struct {
	Lab string // the lab's ID
	// Kept is set when Options.KeepOnError left the lab as it was; Deploy
	// then returns the lab too.
	Kept    bool
	Err     error // the failed steps, *StepError values joined
	Cleanup error // removing the half-built lab failed (nil when removed)
}

func (e *DeployError) Error() string {
	switch {
	case e.Kept:
		return fmt.Sprintf("%v\nlab %s kept as it was", e.Err, e.Lab)
	case e.Cleanup != nil:
		return fmt.Sprintf("%v\nremoving lab %s failed: %v", e.Err, e.Lab, e.Cleanup)
	}
	return fmt.Sprintf("%v\nlab %s removed", e.Err, e.Lab)
}

func (e *DeployError) Unwrap() error { return e.Err }

// stepError makes err a StepError of the step on node tn, unless it is one
// already (the failing function knew better where it failed).
func (l *Lab) stepError(step, node string, line int, err error) error {
	if err == nil {
		return nil
	}
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	return &StepError{File: l.displayFile(), Line: line, Node: node, Step: step, Err: err}
}

// displayFile is the topology file as the user would name it: relative to
// the working directory when it lies under it.
func (l *Lab) displayFile() string {
	f := l.File
	if wd, err := os.Getwd(); err == nil && f != "" {
		if rel, err := filepath.Rel(wd, f); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return f
}

// exitError words how a command ended: its exit status or the signal that
// killed it.
func exitError(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Errorf("exit status %d", ee.ExitCode())
}

// commandLine writes argv as one line, quoting the arguments a shell would
// split or interpret.
func commandLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$;&|<>*?()`") {
			q[i] = strconv.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// tail keeps the last max bytes written to it, from a line start where it
// can: enough of a command's stderr or a log to say why it failed.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	s := string(t.buf)
	if len(t.buf) >= t.max {
		if i := strings.IndexByte(s, '\n'); i >= 0 && i+1 < len(s) {
			s = s[i+1:]
		}
	}
	return s
}

// fileTail is the last lines of a file (at most 10 lines, 2 KiB).
func fileTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const limit = 2048
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-limit, 0)
	b := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(b, off)
	t := &tail{max: limit}
	t.Write(b[:n])
	lines := strings.Split(strings.TrimRight(t.String(), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
