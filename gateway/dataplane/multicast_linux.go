package dataplane

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// mcastDevice is the data plane's multicast routing (DeviceOptions.
// MulticastLAN, multicast.go): a packet socket on each LAN interface,
// which reads its multicast and writes what is decrypted for it; one on
// the WAN interface, which reads the ESP sent to groups; and per LAN
// interface a raw socket that sends the ESP its worker makes out of the
// WAN interface.
type mcastDevice struct {
	wan    *packetSocket
	lans   []*packetSocket
	espOut []*net.IPConn
	// closed tells the workers that a failed read is the end: a closed
	// os.File's raw read fails with an error that is not os.ErrClosed.
	closed atomic.Bool
}

// mcastBatch is the frames a multicast worker reads per recvmmsg.
const mcastBatch = 16

// openMulticast opens the sockets of multicast routing between the LAN
// interfaces lans and the WAN interface wan.
func openMulticast(wan string, lans []string) (_ *mcastDevice, err error) {
	m := &mcastDevice{}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	wanIf, err := net.InterfaceByName(wan)
	if err != nil {
		return nil, fmt.Errorf("data plane: multicast: WAN interface %s: %w", wan, err)
	}
	for i, name := range lans {
		switch {
		case name == wan:
			return nil, fmt.Errorf("data plane: multicast LAN interface %s is the WAN interface", name)
		case slices.Contains(lans[:i], name):
			return nil, fmt.Errorf("data plane: multicast LAN interface %s listed twice", name)
		}
		// The LAN reads frames with their virtio-net header: a datagram
		// from a host next door may still carry the partial checksum
		// its sender's offload left, or be a UDP offload superpacket.
		s, err := openPacketSocket(name, groupFilter(0), true)
		if err != nil {
			return nil, err
		}
		m.lans = append(m.lans, s)
		c, err := openGroupESPOut(wanIf.Index)
		if err != nil {
			return nil, err
		}
		m.espOut = append(m.espOut, c)
	}
	if m.wan, err = openPacketSocket(wan, groupFilter(unix.IPPROTO_ESP), false); err != nil {
		return nil, err
	}
	return m, nil
}

// packetSocket is an AF_PACKET socket bound to one Ethernet interface for
// IPv4 frames, read and written through Go's poller.
type packetSocket struct {
	name string
	mac  [6]byte
	f    *os.File
	rc   syscall.RawConn
	// out and werr are send's state; write, made once, its system call
	// (a closure per frame would be allocated per frame).
	out   []byte
	werr  error
	write func(fd uintptr) bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacketSocket opens a packet socket on interface name that receives
// the IPv4 frames prog lets through, whatever their destination MAC
// (PACKET_MR_ALLMULTI: every group's frames, joined or not, as a
// multicast router's interface receives them), but not the frames the
// GM itself sends; with vnet, each frame read and written has a
// virtio-net header before it.
func openPacketSocket(name string, prog []bpf.Instruction, vnet bool) (*packetSocket, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("data plane: multicast: interface %s: %w", name, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("data plane: multicast: interface %s is not an Ethernet interface", name)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("data plane: multicast: filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	// Protocol 0 until bound: nothing is queued before the filter is on.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("data plane: multicast: packet socket: %w", err)
	}
	set := func() error {
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
			return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
		}
		// What the GM sends (the ESP on the WAN, the frames it delivers
		// on a LAN) is not input: it would loop.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
		}
		if vnet {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
				return fmt.Errorf("PACKET_VNET_HDR: %w", err)
			}
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, espInBuffer) // best effort, as the ESP socket's
		// Each read says how many frames the socket dropped for a full
		// buffer (the WAN's worker counts them as in_drop_queue_full).
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			return fmt.Errorf("SO_RXQ_OVFL: %w", err)
		}
		mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_ALLMULTI}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fmt.Errorf("PACKET_MR_ALLMULTI: %w", err)
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index})
	}
	if err := set(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("data plane: multicast: %s: %w", name, err)
	}
	// Non-blocking, so that reads wait in Go's poller and Close ends them.
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data plane: multicast: %s: %w", name, err)
	}
	s := &packetSocket{name: name, mac: [6]byte(ifi.HardwareAddr), f: f, rc: rc}
	s.write = s.writeFrame
	return s, nil
}

// send writes one frame (with its virtio-net header on a LAN socket) out
// of the socket's interface. One goroutine sends on a socket.
func (s *packetSocket) send(frame []byte) error {
	s.out, s.werr = frame, nil
	if err := s.rc.Write(s.write); err != nil {
		return err
	}
	return s.werr
}

func (s *packetSocket) writeFrame(fd uintptr) bool {
	for {
		_, err := unix.Write(int(fd), s.out)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.werr = err
		return true
	}
}

// openGroupESPOut opens a raw IPv4 socket (IPPROTO_RAW: the packets carry
// their own header) that sends packets to multicast groups out of the
// interface wanIndex: a multicast destination is not routed by the
// unicast routes the GM's own ESP follows, and the WAN may have no route
// to 224.0.0.0/4 at all. Nothing sent loops back to the GM itself.
func openGroupESPOut(wanIndex int) (*net.IPConn, error) {
	c, err := net.ListenPacket("ip4:255", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("data plane: multicast ESP output socket: %w", err)
	}
	ic := c.(*net.IPConn)
	rc, err := ic.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(wanIndex)})
			if err == nil {
				err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0)
			}
		})
		err = errors.Join(cerr, err)
	}
	if err != nil {
		ic.Close()
		return nil, fmt.Errorf("data plane: multicast ESP output socket: %w", err)
	}
	return ic, nil
}

// run starts a worker per LAN interface and one for the WAN, which end
// when the device closes.
func (m *mcastDevice) run(e *Engine, wg *sync.WaitGroup) {
	for i, s := range m.lans {
		wg.Go(func() { m.lanLoop(s, m.espOut[i], e) })
	}
	wg.Go(func() { m.wanLoop(e) })
}

// lanLoop reads one LAN interface's multicast, a batch per recvmmsg, and
// sends the ESP its worker makes through espOut, a batch per sendmmsg.
func (m *mcastDevice) lanLoop(s *packetSocket, espOut *net.IPConn, e *Engine) {
	bufs, into, _ := mcastBuffers(lanFrameOff)
	r, err := newBatchReader(s.f, into, nil)
	if err != nil {
		e.count(ReadErrors)
		return
	}
	w := e.NewWorker(noClear, noClear)
	esp := newESPBatch(e, espOut, 2*mcastBatch)
	w.SetESPSink(esp.add)
	lan := newLANMulticast(w)
	for {
		n, err := r.Read()
		if err != nil {
			if m.closed.Load() || readFailed(e, err) {
				return
			}
			continue
		}
		for i := range n {
			lan.frame(bufs[i], r.Sizes[i])
		}
		esp.flush()
	}
}

// wanLoop reads the ESP sent to groups off the WAN interface, a batch per
// recvmmsg, and delivers what its worker decrypts to every LAN interface.
func (m *mcastDevice) wanLoop(e *Engine) {
	bufs, into, oobs := mcastBuffers(wanFrameOff)
	r, err := newBatchReader(m.wan.f, into, oobs)
	if err != nil {
		e.count(ReadErrors)
		return
	}
	ports := make([]mcastPort, len(m.lans))
	for i, s := range m.lans {
		ports[i] = mcastPort{mac: s.mac, send: s.send}
	}
	w := e.NewWorker(newMcastDelivery(e, ports).deliver, noClear)
	var dropped uint32 // the socket's drop count when last read
	for {
		n, err := r.Read()
		if err != nil {
			if m.closed.Load() || readFailed(e, err) {
				return
			}
			continue
		}
		for i := range n {
			wanFrame(w, bufs[i], r.Sizes[i])
		}
		if n > 0 {
			if d, ok := socketDrops(oobs[n-1][:r.OOBSizes[n-1]]); ok && d != dropped {
				e.counters[InDropQueueFull].Add(uint64(d - dropped))
				dropped = d
			}
		}
	}
}

// mcastBuffers are a multicast worker's read buffers, each read into at
// off (into), so that the IPv4 header of a frame lands at Headroom, and
// their control message buffers.
func mcastBuffers(off int) (bufs, into, oobs [][]byte) {
	bufs, into, oobs = make([][]byte, mcastBatch), make([][]byte, mcastBatch), make([][]byte, mcastBatch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+65535+Tailroom)
		into[i] = bufs[i][off:]
		oobs[i] = make([]byte, unix.CmsgSpace(4))
	}
	return bufs, into, oobs
}

// close closes every socket, which ends the workers.
func (m *mcastDevice) close() {
	m.closed.Store(true)
	for _, s := range m.lans {
		s.f.Close()
	}
	if m.wan != nil {
		m.wan.f.Close()
	}
	for _, c := range m.espOut {
		c.Close()
	}
}
