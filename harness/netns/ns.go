package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// removeNamespace kills every process still inside the namespace at path
// (exec leftovers, a daemon that ignored SIGTERM, a crashed lab's holders),
// then unmounts and removes it. The kernel frees the veths, bridges and
// nftables tables inside once nothing holds the namespace.
func removeNamespace(path string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for range 3 {
		if killInNamespace(st.Dev, st.Ino) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every mount stacked on the name: a program may have mounted it twice.
	for range 16 {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	err := os.Remove(path)
	if errors.Is(err, unix.EBUSY) {
		err = removeHidden(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeHidden removes a namespace's name that is still a mount point
// beneath a later mount of its directory: the namespace was mounted while
// /run/netns was a plain directory (by an older getlab, or any program that
// does not make it a mount point first), and then another program (`ip
// netns add`) bound /run/netns onto itself. The copy of the mount in that
// bind is gone, but the original is hidden under it, keeps the file busy
// and the namespace alive. A file that is a mount point only in other mount
// namespaces may be unlinked, and the kernel then detaches the mounts on it
// in all of them (Linux 3.18 and later): so the file is removed from a
// private mount namespace with the directory's mounts and the file's own
// copy peeled off.
func removeHidden(path string) error {
	errc := make(chan error, 1)
	go func() {
		// The thread's mount namespace is changed for good: it stays
		// locked, so the runtime ends it with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("remove %s: unshare the mount namespace: %w", path, err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("remove %s: make / private: %w", path, err)
			return
		}
		for _, p := range []string{filepath.Dir(path), path} {
			for range 16 {
				if unix.Unmount(p, unix.MNT_DETACH) != nil {
					break
				}
			}
		}
		if err := os.Remove(path); err != nil {
			errc <- fmt.Errorf("remove %s (hidden beneath a later mount of %s): %w", path, filepath.Dir(path), err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// killInNamespace SIGKILLs the processes whose network namespace is the one
// with the given device and inode, and returns how many it found. Each is
// held by a pidfd while its namespace is checked, so the signal cannot reach
// a process that took the pid meanwhile.
func killInNamespace(dev, ino uint64) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Dev == dev && st.Ino == ino && alive(pid) {
			_ = unix.PidfdSendSignal(fd, syscall.SIGCONT, nil, 0)
			_ = unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0)
			n++
		}
		unix.Close(fd)
	}
	return n
}
