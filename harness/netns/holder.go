package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The holder is the process that owns a node's mount namespace, the way a
// pause container owns a pod's namespaces. It is this same binary re-executed
// with holderEnv set; init() below diverts it before main or the test runner
// starts. It is born (CLONE_NEWNS) in a private mount namespace on a thread
// that sits in the node's network namespace, sets up the node's file view,
// reports readiness on fd 3 and then waits for SIGTERM. Node processes and
// exec lines join it with nsenter, so they all see the same /run and binds,
// and the bench reaches the node's files through /proc/<pid>/root.
const holderEnv = "GETLAB_NETNS_HOLDER"

// holderSpec is what the runtime tells a holder to mount.
type holderSpec struct {
	Node    string      `json:"node"`
	Scratch string      `json:"scratch"` // a directory of the lab the holder may mount a tmpfs on
	Binds   []bindMount `json:"binds"`
}

type bindMount struct {
	Host     string `json:"host"`
	Node     string `json:"node"`
	ReadOnly bool   `json:"ro"`
}

func init() {
	spec := os.Getenv(holderEnv)
	if spec == "" {
		return
	}
	status := os.NewFile(3, "status")
	if err := holderSetup(spec); err != nil {
		// One line: the runtime names the bind (its file line) from its index.
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		if be, ok := errors.AsType[*bindError](err); ok {
			fmt.Fprintf(status, "bind %d: %s\n", be.index, strings.ReplaceAll(be.err.Error(), "\n", "; "))
		} else {
			fmt.Fprintf(status, "error: %s\n", msg)
		}
		os.Exit(1)
	}
	fmt.Fprintln(status, "ready")
	status.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	os.Exit(0)
}

func holderSetup(specJSON string) error {
	var spec holderSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("holder spec: %w", err)
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	m := &mounter{scratch: spec.Scratch}
	// A private /run: daemons put sockets and pid files there, and two nodes
	// must never share /run/getvpnd/control.sock.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("tmpfs on /run: %w", err)
	}
	m.private = append(m.private, "/run")
	// A sysfs of this network namespace, so /sys/class/net lists the node's
	// own interfaces as it would in a container.
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("sysfs on /sys: %w", err)
	}
	for i, b := range spec.Binds {
		if err := m.bind(b); err != nil {
			return &bindError{i, err}
		}
	}
	return nil
}

// bindError is the bind (by its index in the spec) a holder could not mount.
type bindError struct {
	index int
	err   error
}

func (e *bindError) Error() string { return fmt.Sprintf("bind %d: %v", e.index, e.err) }

// mounter makes bind targets exist without writing to the host: a missing
// target is created inside a directory that is private to this namespace,
// either one of ours (the /run tmpfs) or an overlay whose upper layer is a
// tmpfs in the lab's scratch directory.
type mounter struct {
	scratch   string
	scratchUp bool
	overlays  int
	private   []string
}

func (m *mounter) bind(b bindMount) error {
	st, err := os.Stat(b.Host)
	if err != nil {
		return err
	}
	if err := m.ensureTarget(b.Node, st.IsDir()); err != nil {
		return err
	}
	if err := unix.Mount(b.Host, b.Node, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	if b.ReadOnly {
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
		if err := unix.Mount("", b.Node, "", flags, ""); err != nil {
			return fmt.Errorf("remount read-only: %w", err)
		}
	}
	return nil
}

func (m *mounter) ensureTarget(target string, dir bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	anc := filepath.Dir(target)
	for {
		if _, err := os.Stat(anc); err == nil {
			break
		}
		anc = filepath.Dir(anc)
	}
	if !m.isPrivate(anc) {
		if err := m.overlay(anc); err != nil {
			return err
		}
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func (m *mounter) isPrivate(dir string) bool {
	for _, p := range m.private {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

// overlay makes dir writable for this namespace only.
func (m *mounter) overlay(dir string) error {
	if dir == "/" {
		return errors.New("no parent directory of the target exists; the netns runtime will not overlay /")
	}
	if !m.scratchUp {
		if err := os.MkdirAll(m.scratch, 0o700); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", m.scratch, "tmpfs", 0, "mode=700"); err != nil {
			return fmt.Errorf("tmpfs on %s: %w", m.scratch, err)
		}
		m.scratchUp = true
	}
	m.overlays++
	upper := filepath.Join(m.scratch, fmt.Sprint(m.overlays), "upper")
	work := filepath.Join(m.scratch, fmt.Sprint(m.overlays), "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", overlayEscape(dir), overlayEscape(upper), overlayEscape(work))
	if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay on %s: %w", dir, err)
	}
	m.private = append(m.private, dir)
	return nil
}

// overlayEscape escapes what overlayfs's option parser would split a path
// at: ',' between options, ':' between lower layers (a lab root may be
// any directory).
func overlayEscape(path string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ":", `\:`).Replace(path)
}
