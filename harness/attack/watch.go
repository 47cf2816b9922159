package attack

import (
	"context"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/getlab/getlab/harness/nsdo"
)

// Watch calls fn with every IPv4 packet that arrives at the node whose
// namespace is ns, on interface iface ("" for every interface), with the
// time it was read, until fn returns true or ctx ends (then it returns
// ctx's error). A packet socket gets a copy of each packet the node
// receives, whether it delivers it to a process or forwards it (a GM's
// ESP): it watches the node from the wire's side, as an observer on the
// path would, and sends nothing. Packets the node sends are left out.
// fn's packet is reused after fn returns.
func Watch(ctx context.Context, ns, iface string, fn func(pkt []byte, at time.Time) bool) error {
	return nsdo.Do(ns, func() error {
		proto := htons(unix.ETH_P_IP)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(proto))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if iface != "" {
			ifi, err := net.InterfaceByName(iface)
			if err != nil {
				return err
			}
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
				return err
			}
		}
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		buf := make([]byte, 65535)
		for ctx.Err() == nil {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < 20 {
				continue // timeout: look at the context again
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			if hl := int(buf[0]&0x0f) * 4; buf[0]>>4 != 4 || hl < 20 || n < hl {
				continue
			}
			if fn(buf[:n], time.Now()) {
				return nil
			}
		}
		return ctx.Err()
	})
}

// htons is v in network byte order, as packet sockets take protocols.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// IPv4Payload splits an IPv4 packet Watch delivered into its source
// address, IP protocol and the payload after its header (ok false when
// the header does not fit).
func IPv4Payload(pkt []byte) (src [4]byte, proto uint8, payload []byte, ok bool) {
	if len(pkt) < 20 {
		return src, 0, nil, false
	}
	hl := int(pkt[0]&0x0f) * 4
	if hl < 20 || len(pkt) < hl {
		return src, 0, nil, false
	}
	return [4]byte(pkt[12:16]), pkt[9], pkt[hl:], true
}
