package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The members share one UDP socket bound to port 848 on every address:
// the kernel tells, with IP_PKTINFO, which member's address a datagram
// was sent to, and a datagram is sent from a member's address by naming
// it the same way. Their addresses are one local route for the whole
// prefix (AnyIP), not an address each on the interface: nothing is set
// up per member, one file descriptor serves 8,000 of them, and one
// reader hands datagrams to the workers.
type udpNet struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
}

// listen makes prefix local on iface (unless iface is "") and opens the
// members' socket with a receive buffer of rcvbuf octets.
func listen(prefix netip.Prefix, iface string, rcvbuf int) (*udpNet, error) {
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("--prefix %s: IPv4 only", prefix)
	}
	if iface != "" {
		if err := localRoute(prefix.Masked(), iface); err != nil {
			return nil, err
		}
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: listenPort})
	if err != nil {
		return nil, fmt.Errorf("the members' socket: %w", err)
	}
	// A rekey comes to every member at once: the buffer holds the burst
	// while the workers verify. FORCE goes past net.core.rmem_max where
	// the swarm may (CAP_NET_ADMIN); else the largest the system allows.
	if rc, err := conn.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
		})
	}
	pc := ipv4.NewPacketConn(conn)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("IP_PKTINFO on the members' socket: %w", err)
	}
	return &udpNet{conn: conn, pc: pc}, nil
}

// interfaceWait is how long the swarm waits for --interface to exist.
const interfaceWait = 60 * time.Second

// localRoute adds (or replaces) the local route that makes every address
// of prefix the node's own, on iface.
func localRoute(prefix netip.Prefix, iface string) error {
	// Under containerlab the swarm starts before its links are wired:
	// wait for the interface as getvpnd's GM does (README "Topologies").
	var l netlink.Link
	var err error
	for deadline := time.Now().Add(interfaceWait); ; time.Sleep(100 * time.Millisecond) {
		if l, err = netlink.LinkByName(iface); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("--interface %s (waited %v): %w", iface, interfaceWait, err)
	}
	r := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), 32)},
		Type:      unix.RTN_LOCAL,
		Table:     unix.RT_TABLE_LOCAL,
		Scope:     netlink.SCOPE_HOST,
		Protocol:  unix.RTPROT_STATIC,
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("local route %s dev %s: %w", prefix, iface, err)
	}
	return nil
}

// send sends b from member address from to to.
func (n *udpNet) send(from, to netip.AddrPort, b []byte) {
	cm := &ipv4.ControlMessage{Src: from.Addr().AsSlice()}
	// A send that fails (a full buffer) is a lost datagram, as on the
	// wire: the member's retry interval covers it.
	_, _ = n.pc.WriteTo(b, cm, net.UDPAddrFromAddrPort(to))
}

// serve reads datagrams until the socket closes, handing each with the
// member address it was sent to.
func (n *udpNet) serve(deliver func(from, to netip.AddrPort, b []byte)) {
	buf := make([]byte, 65535)
	for {
		k, cm, src, err := n.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // EINTR, a datagram too short for its control message: the next one
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok || cm == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(cm.Dst)
		if !ok {
			continue
		}
		from := ua.AddrPort()
		deliver(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), netip.AddrPortFrom(dst.Unmap(), listenPort), append([]byte(nil), buf[:k]...))
	}
}

func (n *udpNet) Close() error { return n.conn.Close() }
