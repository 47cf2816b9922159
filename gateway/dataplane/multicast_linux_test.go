package dataplane

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/ipv4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// links makes veth pairs name<->peer, up, with addr on name or peer
// ("" for none).
func links(t *testing.T, pairs ...[4]string) bool {
	t.Helper()
	lo, _ := netlink.LinkByName("lo")
	_ = netlink.LinkSetUp(lo)
	for _, p := range pairs {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p[0]}, PeerName: p[1]}); err != nil {
			t.Errorf("veth %s: %v", p[0], err)
			return false
		}
		for i, name := range p[:2] {
			l, err := netlink.LinkByName(name)
			if err == nil {
				err = netlink.LinkSetUp(l)
			}
			if err == nil && p[2+i] != "" {
				a, _ := netlink.ParseAddr(p[2+i])
				err = netlink.AddrAdd(l, a)
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return false
			}
		}
	}
	return true
}

// capture is a packet socket that reads the IPv4 frames arriving on an
// interface (not those it sends), or sends frames out of it.
type capture struct {
	fd    int
	index int
}

func openCapture(t *testing.T, name string) *capture {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &capture{fd: fd, index: ifi.Index}
}

// next returns the first frame arriving within two seconds that match
// accepts, or nil.
func (c *capture) next(match func(f []byte) bool) []byte {
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			continue
		}
		if match(buf[:n]) {
			return bytes.Clone(buf[:n])
		}
	}
	return nil
}

func (c *capture) send(t *testing.T, frame []byte) {
	t.Helper()
	if err := unix.Sendto(c.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: c.index}); err != nil {
		t.Fatal(err)
	}
}

// ipFrame reports whether f is an IPv4 frame of protocol proto to dst.
func ipFrame(f []byte, proto uint8, dst netip.Addr) bool {
	if len(f) < ethLen+ipv4.HeaderLen || binary.BigEndian.Uint16(f[12:]) != etherTypeIPv4 {
		return false
	}
	ip := f[ethLen:]
	return ipv4.Protocol(ip) == proto && ipv4.Dst(ip) == dst
}

// In a namespace of its own, a host on lan1 sends a datagram to a group
// through its socket (so that it crosses the veth with a partial
// checksum, as in the labs), lan0 being the GM's LAN interface: ESP to
// the group leaves the GM's wan0, with no route to the group there, and
// fed back into wan0 (as if from the core: the GM's own packet socket
// ignores what it sends) it comes out of lan0, decrypted, to the group's
// MAC address.
func TestMulticastThroughPacketSockets(t *testing.T) {
	inNewNetns(t, func() {
		if !links(t, [4]string{"lan0", "lan1", "", "198.51.100.10/24"}, [4]string{"wan0", "wan1", "192.0.2.11/24", ""}) {
			return
		}
		clk := clock.NewFake(time.Unix(1e9, 0))
		e := New(Options{Clock: clock.New(1, clk.Now), MTU: 1500, Groups: []config.Group{{Name: "GETVPN"}}, ESPOut: true})
		if err := e.Install("GETVPN", mcastPolicy(t, "aes256gcm16", 1), clk.Now()); err != nil {
			t.Error(err)
			return
		}
		if _, err := openMulticast("wan0", []string{"lan0", "wan0"}); err == nil {
			t.Error("the WAN interface taken as a multicast LAN")
		}
		if _, err := openMulticast("wan0", []string{"lan0", "lan0"}); err == nil {
			t.Error("a LAN interface taken twice")
		}
		m, err := openMulticast("wan0", []string{"lan0"})
		if err != nil {
			t.Error(err)
			return
		}
		var wg sync.WaitGroup
		m.run(e, &wg)
		defer wg.Wait()
		defer m.close()
		wanSide, lanSide := openCapture(t, "wan1"), openCapture(t, "lan1")

		host, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(testnet.Host(1).AsSlice())})
		if err != nil {
			t.Error(err)
			return
		}
		defer host.Close()
		lan1, _ := net.InterfaceByName("lan1")
		rc, _ := host.SyscallConn()
		_ = rc.Control(func(fd uintptr) {
			err = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(lan1.Index)})
			if err == nil {
				err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 8)
			}
		})
		if err != nil {
			t.Error(err)
			return
		}
		payload := []byte("DP-60 multicast through the GM")
		if _, err := host.WriteToUDP(payload, &net.UDPAddr{IP: net.IP(group.AsSlice()), Port: 5000}); err != nil {
			t.Error(err)
			return
		}
		espFrame := wanSide.next(func(f []byte) bool { return ipFrame(f, ipv4.ProtoESP, group) })
		if espFrame == nil {
			t.Errorf("no ESP to %v on the WAN; counters %v", group, e.Counters())
			return
		}
		esp := espFrame[ethLen:]
		if [6]byte(espFrame[0:6]) != groupMACOf || ipv4.Src(esp) != testnet.Host(1) || ipv4.TTL(esp) != 7 || binary.BigEndian.Uint32(esp[20:]) != mcastSPI {
			t.Errorf("ESP frame to %x: %v > %v TTL %d SPI %#x", espFrame[0:6], ipv4.Src(esp), ipv4.Dst(esp), ipv4.TTL(esp), binary.BigEndian.Uint32(esp[20:]))
		}

		wanSide.send(t, espFrame)
		frame := lanSide.next(func(f []byte) bool { return ipFrame(f, ipv4.ProtoUDP, group) })
		if frame == nil {
			t.Errorf("nothing delivered on the LAN; counters %v", e.Counters())
			return
		}
		lan0, _ := net.InterfaceByName("lan0")
		ip := frame[ethLen:]
		if [6]byte(frame[0:6]) != groupMACOf || !bytes.Equal(frame[6:12], lan0.HardwareAddr) {
			t.Errorf("delivered %x > %x, want %x > %x", frame[6:12], frame[0:6], lan0.HardwareAddr, groupMACOf)
		}
		if ipv4.Src(ip) != testnet.Host(1) || ipv4.TTL(ip) != 6 || !ipv4.HeaderOK(ip) || !udpChecksumOK(ip) || !bytes.Equal(ip[28:], payload) {
			t.Errorf("delivered %v > %v TTL %d, header ok %v, UDP ok %v, payload %q", ipv4.Src(ip), ipv4.Dst(ip), ipv4.TTL(ip), ipv4.HeaderOK(ip), udpChecksumOK(ip), ip[28:])
		}
		// The frame may be read before its sender has counted it.
		for deadline := time.Now().Add(time.Second); e.Count(McastInDelivered) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if e.Count(McastOutEncrypted) != 1 || e.Count(McastInDecrypted) != 1 || e.Count(McastInDelivered) != 1 || e.Count(DropMalformed) != 0 {
			t.Errorf("counters %v", e.Counters())
		}
	})
}
