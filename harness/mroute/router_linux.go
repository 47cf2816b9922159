package mroute

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/getlab/getlab/pcap"
)

// Router forwards by a Table between the interfaces of its node.
type Router struct {
	Table *Table
	ifs   map[string]*iface
	log   func(format string, a ...any)
	// sendErrors counts frames an outbound interface refused.
	mu         sync.Mutex
	sendErrors map[string]uint64
	done       atomic.Bool
}

type iface struct {
	name  string
	mac   net.HardwareAddr
	index int
	fd    int
}

// frameMax is the largest frame read: a router carries what a link does
// (the veths' MTU, 1,500 octets in the labs, up to 64 KB).
const frameMax = pcap.VnetHdrLen + 65536 + 14

// Open opens a packet socket on every interface of phyints, waiting up to
// wait for those not there yet (a node's links may come up after it
// starts).
func Open(phyints []string, t *Table, wait time.Duration, logf func(string, ...any)) (*Router, error) {
	r := &Router{Table: t, ifs: map[string]*iface{}, log: logf, sendErrors: map[string]uint64{}}
	deadline := time.Now().Add(wait)
	for _, name := range phyints {
		var ifi *net.Interface
		for {
			var err error
			if ifi, err = net.InterfaceByName(name); err == nil {
				break
			}
			if time.Now().After(deadline) {
				r.Close()
				return nil, fmt.Errorf("mroute: interface %s: %w", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("mroute: packet socket: %w", err)
		}
		set := func() error {
			// Readers wake this often to see whether the router stops:
			// closing a socket does not end a recvfrom blocked on it.
			tv := unix.NsecToTimeval(int64(readWake))
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
				return fmt.Errorf("SO_RCVTIMEO: %w", err)
			}
			// The virtio-net header says when a frame's checksum is still
			// the sender's offload's to complete (a datagram the node
			// next door sent), or when it is a superpacket: a router
			// forwards what a real link carries (pcap.WireFrames).
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
				return fmt.Errorf("PACKET_VNET_HDR: %w", err)
			}
			// The router's own transmissions are not input.
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
				return fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
			}
			// Every group's frames, joined or not, as a multicast router's
			// interface receives them.
			mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_ALLMULTI}
			if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
				return fmt.Errorf("PACKET_MR_ALLMULTI: %w", err)
			}
			return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index})
		}
		if err := set(); err != nil {
			unix.Close(fd)
			r.Close()
			return nil, fmt.Errorf("mroute: %s: %w", name, err)
		}
		r.ifs[name] = &iface{name: name, mac: ifi.HardwareAddr, index: ifi.Index, fd: fd}
	}
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

const readWake = 200 * time.Millisecond

// Run forwards until ctx ends, one reader per interface, then closes the
// interfaces' sockets.
func (r *Router) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(r.ifs))
	for _, in := range r.ifs {
		wg.Go(func() { errs <- r.read(in) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	r.done.Store(true)
	wg.Wait()
	r.Close()
	return err
}

func (r *Router) read(in *iface) error {
	buf := make([]byte, frameMax)
	for {
		if r.done.Load() {
			return nil
		}
		n, from, err := unix.Recvfrom(in.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return fmt.Errorf("mroute: read %s: %w", in.name, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		frames, err := pcap.WireFrames(buf[:n])
		if err != nil {
			continue // shorter than its header: nothing a link carries
		}
		for _, f := range frames {
			r.forward(in, f)
		}
	}
}

func (r *Router) forward(in *iface, f []byte) {
	oifs, frame := r.Table.Forward(in.name, f)
	for _, o := range oifs {
		out := r.ifs[o]
		if out == nil {
			continue // routes added through the control socket name the router's interfaces only
		}
		copy(frame[6:12], out.mac)
		// Sent without a virtio-net header: the socket was opened
		// with one for reading, so an empty one goes first.
		if err := unix.Sendto(out.fd, append(make([]byte, pcap.VnetHdrLen, pcap.VnetHdrLen+len(frame)), frame...), 0, &unix.SockaddrLinklayer{Ifindex: out.index}); err != nil {
			r.mu.Lock()
			r.sendErrors[o]++
			r.mu.Unlock()
		}
	}
}

// SendErrors are the frames each outbound interface refused.
func (r *Router) SendErrors() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.sendErrors)
}

// Interfaces are the names of the router's interfaces.
func (r *Router) Interfaces() []string {
	out := make([]string, 0, len(r.ifs))
	for n := range r.ifs {
		out = append(out, n)
	}
	return out
}

// Close closes every interface's socket; Run does once its readers end.
func (r *Router) Close() {
	for _, i := range r.ifs {
		if i.fd >= 0 {
			unix.Close(i.fd)
			i.fd = -1
		}
	}
}
