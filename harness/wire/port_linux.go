package wire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/getlab/getlab/pcap"
)

// port is one side of the wire: a packet socket that reads every frame
// arriving on the interface (its own transmissions excluded) and one that
// sends frames out of it, as a cable's far end would.
type port struct {
	name   string
	rx, tx *os.File
	rrc    syscall.RawConn
	wrc    syscall.RawConn
	// One recvmmsg reads into bufs: each the virtio-net header and a
	// frame of up to 64 KB.
	bufs  [][]byte
	rhdrs []mmsghdr
	// wmu keeps writes whole: the side forwarding into this port and the
	// port's scheduler both send, and share the headers below.
	wmu   sync.Mutex
	whdrs []mmsghdr
	wiovs []unix.Iovec
}

// rxBuffer is the receive socket's buffer: a burst waits there while the
// wire decides.
const rxBuffer = 16 << 20

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPort opens the packet sockets of interface name and sets it up and
// promiscuous (frames for any MAC address cross a wire).
func openPort(name string) (*port, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("wire: interface %s: %w", name, err)
	}
	rx, err := packetSocket(ifi.Index, unix.ETH_P_ALL, func(fd int) error {
		// The virtio-net header says whether a frame is an offloaded
		// superpacket, which a real link never carries: the wire cuts it
		// into the segments it stands for (pcap.WireFrames).
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return fmt.Errorf("PACKET_VNET_HDR: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
		}
		mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fmt.Errorf("promiscuous: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rxBuffer); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rxBuffer)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wire: %s: %w", name, err)
	}
	// Protocol 0: a socket that only sends. Through the qdisc, not past
	// it (PACKET_QDISC_BYPASS): a frame sent past it is invisible to
	// packet taps, and the capture on the wire's own link must see what
	// the wire sends.
	tx, err := packetSocket(ifi.Index, 0, func(int) error { return nil })
	if err != nil {
		rx.Close()
		return nil, fmt.Errorf("wire: %s: %w", name, err)
	}
	p := &port{name: name, rx: rx, tx: tx}
	p.bufs, p.rhdrs = make([][]byte, readBatch), make([]mmsghdr, readBatch)
	riovs := make([]unix.Iovec, readBatch)
	for i := range p.bufs {
		p.bufs[i] = make([]byte, pcap.VnetHdrLen+65536)
		riovs[i].Base = &p.bufs[i][0]
		riovs[i].SetLen(len(p.bufs[i]))
		p.rhdrs[i].hdr.Iov = &riovs[i]
		p.rhdrs[i].hdr.SetIovlen(1)
	}
	if p.rrc, err = rx.SyscallConn(); err == nil {
		p.wrc, err = tx.SyscallConn()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func packetSocket(ifindex int, proto uint16, set func(fd int) error) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := set(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind: %w", err)
	}
	return os.NewFile(uintptr(fd), "packet"), nil
}

// readBatch waits for a frame, then reads the frames queued, up to
// readBatch in one recvmmsg, handing each, cut into the frames a wire
// carries, to got. A frame handed over lives in the port's buffers until
// the next readBatch: got copies what it keeps.
func (p *port) readBatch(got func(frame []byte)) error {
	var n int
	var errno syscall.Errno
	err := p.rrc.Read(func(fd uintptr) bool {
		for {
			n, errno = mmsg(unix.SYS_RECVMMSG, int(fd), p.rhdrs)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait until the socket is readable
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	for i := range n {
		frames, ferr := pcap.WireFrames(p.bufs[i][:p.rhdrs[i].len])
		if ferr != nil {
			continue // shorter than its header: nothing a wire would carry
		}
		for _, f := range frames {
			got(f)
		}
	}
	return nil
}

// write sends frames out of the interface, in order, a batch per sendmmsg,
// and says how many the kernel refused (the caller counts them as
// dropped).
func (p *port) write(frames [][]byte) (refused int, err error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	for len(frames) > 0 {
		batch := frames[:min(len(frames), readBatch)]
		frames = frames[len(batch):]
		if cap(p.whdrs) < len(batch) {
			p.whdrs, p.wiovs = make([]mmsghdr, readBatch), make([]unix.Iovec, readBatch)
		}
		hs := p.whdrs[:len(batch)]
		for i, f := range batch {
			p.wiovs[i].Base = &f[0]
			p.wiovs[i].SetLen(len(f))
			hs[i] = mmsghdr{}
			hs[i].hdr.Iov = &p.wiovs[i]
			hs[i].hdr.SetIovlen(1)
		}
		for len(hs) > 0 {
			var n int
			var errno syscall.Errno
			werr := p.wrc.Write(func(fd uintptr) bool {
				n, errno = mmsg(unix.SYS_SENDMMSG, int(fd), hs)
				return errno != unix.EAGAIN // full: wait until writable
			})
			if werr != nil {
				if errors.Is(werr, os.ErrClosed) {
					return refused, nil
				}
				return refused + len(hs), werr
			}
			switch {
			case errno == unix.EINTR:
			case errno != 0:
				// The first frame was refused: ENOBUFS (the far end's
				// backlog is full: lost, as on a congested link),
				// EMSGSIZE (larger than the interface's MTU).
				refused++
				hs = hs[1:]
			default:
				hs = hs[n:]
			}
		}
	}
	return refused, nil
}

// mmsghdr is struct mmsghdr (a msghdr and the length sent or received),
// padded as C pads it.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// mmsg is one recvmmsg or sendmmsg (trap) on fd over hs, without waiting.
func mmsg(trap uintptr, fd int, hs []mmsghdr) (int, syscall.Errno) {
	flags := uintptr(unix.MSG_DONTWAIT)
	r, _, e := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), flags, 0, 0)
	return int(r), e
}

func (p *port) close() {
	if p.rx != nil {
		p.rx.Close()
	}
	if p.tx != nil {
		p.tx.Close()
	}
}
