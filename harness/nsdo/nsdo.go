// Package nsdo runs code inside a network namespace named by a path.
//
// A namespace is named by a path so the same code serves every runtime: a
// named namespace (/run/netns/NAME), a process's namespace (/proc/PID/ns/net,
// which is how containers are entered) or any bind mount of one. Sockets and
// netlink handles created inside keep that namespace after Do returns, so the
// usual pattern is to open them in Do and use them from any goroutine.
package nsdo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread switched into the network namespace at nsPath
// and switches the thread back afterwards. If the thread cannot be switched
// back it stays locked, so the Go runtime discards it when the goroutine ends
// instead of reusing a thread that sits in the wrong namespace.
func Do(nsPath string, fn func() error) error {
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("nsdo: open %s: %w", nsPath, err)
	}
	defer target.Close()

	errc := make(chan error, 1)
	// A fresh goroutine keeps the caller's thread untouched even if switching
	// back fails.
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nsdo: current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nsdo: enter %s: %w", nsPath, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("nsdo: leave %s: %w (after: %v)", nsPath, err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// NamedDir is where named network namespaces live (iproute2's convention, so
// `ip netns list` and `ip netns exec` see them).
const NamedDir = "/run/netns"

var namedDirMu sync.Mutex

// prepareNamedDir makes NamedDir a mount point with shared propagation
// before a namespace is mounted in it, the way iproute2's `ip netns add`
// does (netns_add: MS_SHARED|MS_REC, and if that fails with EINVAL because
// the directory is no mount point, bind it onto itself first). Were it left
// a plain directory, the next program to make it a mount point (`ip netns
// add` does) would hide every namespace mounted in it so far beneath its
// bind: those mounts could no longer be unmounted, their files not removed
// (EBUSY), and the namespaces would leak. Shared, a namespace mounted or
// unmounted in it by any program shows in every mount namespace that sees
// it, whichever program made it a mount point first.
func prepareNamedDir() error {
	namedDirMu.Lock()
	defer namedDirMu.Unlock()
	if err := os.MkdirAll(NamedDir, 0o755); err != nil {
		return fmt.Errorf("nsdo: %w", err)
	}
	bound := false
	for {
		err := unix.Mount("", NamedDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("nsdo: make %s a shared mount: %w", NamedDir, err)
		}
		if err := unix.Mount(NamedDir, NamedDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("nsdo: bind %s onto itself: %w", NamedDir, err)
		}
		bound = true
	}
}

// CreateNamed makes a named network namespace, NamedDir/name, with its
// loopback up, and returns its path. The thread that creates it is switched
// back, or discarded if it cannot be.
func CreateNamed(name string) (string, error) {
	if err := prepareNamedDir(); err != nil {
		return "", err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if err == nil {
			err = loopbackUp(h)
			h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		return "", fmt.Errorf("nsdo: create namespace %s: %w", name, err)
	}
	return filepath.Join(NamedDir, name), nil
}

func loopbackUp(ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// AttachNamed names an existing network namespace, the one at nsFile
// (/proc/<pid>/ns/net of a container), as NamedDir/name: what `ip netns
// attach` does. The name then works like one CreateNamed made; unmounting
// it leaves the namespace to its owner.
func AttachNamed(name, nsFile string) (string, error) {
	if err := prepareNamedDir(); err != nil {
		return "", err
	}
	path := filepath.Join(NamedDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return "", fmt.Errorf("nsdo: attach %s: %w", name, err)
	}
	f.Close()
	if err := unix.Mount(nsFile, path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("nsdo: attach %s to %s: %w", name, nsFile, err)
	}
	return path, nil
}
