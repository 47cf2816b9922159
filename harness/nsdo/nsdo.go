// Package nsdo runs code inside a network namespace named by a path.
//
// A namespace is named by a path so the same code serves every runtime: a
// named namespace (/run/netns/NAME), a process's namespace (/proc/PID/ns/net,
// which is how containers are entered) or any bind mount of one. Sockets and
// netlink handles created inside keep that namespace after Do returns, so the
// usual pattern is to open them in Do and use them from any goroutine.
package nsdo

import (
	"fmt"
	"runtime"

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
