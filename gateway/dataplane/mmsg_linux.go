package dataplane

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads a batch of datagrams per recvmmsg(2) into buffers it
// was given once, allocating nothing per read. golang.org/x/net's
// ipv4.PacketConn.ReadBatch does the same system call but returns each
// datagram's source as a new net.Addr (two allocations per packet), which
// the ESP input, reading every packet a GM decrypts, must not make; x/sys
// has no recvmmsg.
type batchReader struct {
	rc     syscall.RawConn
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	oobCap []int                 // each control buffer's size: the kernel overwrites it with what it used
	recv   func(fd uintptr) bool // r.recvmmsg, made once: a closure per read would escape
	n      int                   // what the last recvmmsg returned
	errno  syscall.Errno
	// Sizes and OOBSizes are what the last read put in each buffer.
	Sizes, OOBSizes []int
}

// mmsghdr is struct mmsghdr: a msghdr and the length received. Go pads it
// as C does (to the msghdr's pointer alignment).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// newBatchReader reads c (a socket: the raw ESP socket, a packet socket's
// file) into bufs, each datagram's control messages into the matching oobs
// (nil: none).
func newBatchReader(c syscall.Conn, bufs, oobs [][]byte) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc, hdrs: make([]mmsghdr, len(bufs)), iovs: make([]unix.Iovec, len(bufs)),
		oobCap: make([]int, len(bufs)), Sizes: make([]int, len(bufs)), OOBSizes: make([]int, len(bufs))}
	r.recv = r.recvmmsg
	for i, b := range bufs {
		if len(b) == 0 {
			return nil, errors.New("dataplane: empty read buffer")
		}
		r.iovs[i].Base = &b[0]
		r.iovs[i].SetLen(len(b))
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
		if oobs != nil && len(oobs[i]) > 0 {
			r.hdrs[i].hdr.Control = &oobs[i][0]
			r.oobCap[i] = len(oobs[i])
		}
	}
	return r, nil
}

// Read waits for at least one datagram and reads as many as are queued,
// up to the number of buffers; it returns how many it read.
func (r *batchReader) Read() (int, error) {
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	for i := range r.n {
		r.Sizes[i] = int(r.hdrs[i].len)
		r.OOBSizes[i] = int(r.hdrs[i].hdr.Controllen)
	}
	return r.n, nil
}

// recvmmsg is one system call on the socket; false asks the runtime's
// poller to wait until it is readable.
func (r *batchReader) recvmmsg(fd uintptr) bool {
	// The kernel writes back the control lengths: give them back their
	// room each time.
	for i := range r.hdrs {
		r.hdrs[i].hdr.SetControllen(r.oobCap[i])
	}
	var (
		r0 uintptr
		e  syscall.Errno
	)
	for {
		r0, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
		if e != unix.EINTR {
			break
		}
	}
	if e == unix.EAGAIN {
		return false
	}
	r.n, r.errno = int(r0), e
	return true
}
