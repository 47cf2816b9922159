package netns

import (
	"errors"
	"fmt"
	"os"
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
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// killInNamespace SIGKILLs the processes whose network namespace is the one
// with the given device and inode, and returns how many it found.
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
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		if st.Dev == dev && st.Ino == ino && alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}
