package dataplane

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/ipv4"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// spoof sends count clear IPv4/UDP packets src -> dst:port from the node
// whose namespace is ns, through gateway, with a raw socket: a host on the
// WAN pretending to be a protected site. Each payload starts with marker.
func spoof(ns string, gateway, src, dst netip.Addr, port uint16, count int, marker []byte) error {
	return nsdo.Do(ns, func() error {
		route := &netlink.Route{Dst: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(32, 32)}, Gw: gateway.AsSlice()}
		if err := netlink.RouteReplace(route); err != nil {
			return err
		}
		defer netlink.RouteDel(route)
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{Addr: dst.As4()}
		for i := range count {
			payload := append(append([]byte(nil), marker...), byte(i))
			pkt := make([]byte, 28+len(payload))
			ipv4.WriteHeader(pkt, &ipv4.Header{TotalLen: len(pkt), ID: uint16(i), TTL: 64, Protocol: ipv4.ProtoUDP, Src: src, Dst: dst})
			binary.BigEndian.PutUint16(pkt[20:], 40000)
			binary.BigEndian.PutUint16(pkt[22:], port)
			binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
			copy(pkt[28:], payload)
			if err := unix.Sendto(fd, pkt, 0, to); err != nil {
				return err
			}
		}
		return nil
	})
}

// sendDF sends count UDP datagrams of size octets from src to dst:port in
// namespace ns with Don't Fragment set whatever the path MTU cache says
// (IP_PMTUDISC_PROBE): a PMTUD host's full-size packets.
func sendDF(ns string, src, dst netip.Addr, port uint16, size, count int) error {
	return nsdo.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			return err
		}
		to := &unix.SockaddrInet4{Addr: dst.As4(), Port: int(port)}
		for range count {
			if err := unix.Sendto(fd, make([]byte, size), 0, to); err != nil {
				return err
			}
		}
		return nil
	})
}
