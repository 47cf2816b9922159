package attack

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

const protoESP = 50

// ipv4Packet returns an IPv4 packet src -> dst of protocol proto carrying
// body, with identification id. The checksum is left to the kernel, which
// fills it for raw sockets (raw(7), IP_HDRINCL).
func ipv4Packet(src, dst netip.Addr, proto uint8, id uint16, body []byte) []byte {
	b := make([]byte, 20, 20+len(body))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(body)))
	binary.BigEndian.PutUint16(b[4:], id)
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, body...)
}

// ESPCase is one hostile ESP packet: a whole IPv4 packet.
type ESPCase = Case

// ESPCorpus returns hostile ESP packets from src to dst (a protected flow:
// with address preservation the outer addresses are the hosts'), for a
// target that holds the live SPI live. None needs a key: SPIs cross the
// WAN in clear.
//
//   - the live SPI with every body length from 0 to 63 octets after the
//     sequence number: shorter than any IV plus ICV, then just long enough
//     to be checked and fail (RFC 4303 §3.4.2: a packet too short for
//     the ICV is dropped, not read past its end);
//   - the live SPI with random bodies of 64 to 1400 octets (bad ICV);
//   - unknown SPIs, SPI 0 and the reserved SPIs 1 to 255 (RFC 4303 §2.1);
//   - ESP with a sequence number of 0, which a sender never uses.
//
// Packets carry identification id0, id0+1, ..., so a capture tells them
// from the daemons'.
func ESPCorpus(seed uint64, src, dst netip.Addr, live uint32, id0 uint16) []ESPCase {
	rng := rand.New(rand.NewPCG(seed, 0x657370)) // "esp"
	var cs []ESPCase
	id := id0
	add := func(name string, spi, seq uint32, bodyLen int) {
		esp := make([]byte, 8+bodyLen)
		binary.BigEndian.PutUint32(esp[0:], spi)
		binary.BigEndian.PutUint32(esp[4:], seq)
		for i := 8; i < len(esp); i++ {
			esp[i] = byte(rng.Uint32())
		}
		cs = append(cs, ESPCase{Name: name, Bytes: ipv4Packet(src, dst, protoESP, id, esp)})
		id++
	}
	for n := 0; n < 64; n++ {
		add(fmt.Sprintf("live SPI %08x, %d octets after the header", live, n), live, rng.Uint32()|1, n)
	}
	for _, n := range []int{64, 100, 256, 1000, 1400} {
		add(fmt.Sprintf("live SPI %08x, random %d-octet body (bad ICV)", live, n), live, rng.Uint32()|1, n)
	}
	for range 10 {
		spi := rng.Uint32() | 0x100
		if spi == live {
			spi ^= 0x8000
		}
		add(fmt.Sprintf("unknown SPI %08x", spi), spi, 1, 100)
	}
	for _, spi := range []uint32{0, 1, 255} {
		add(fmt.Sprintf("reserved SPI %d", spi), spi, 1, 100)
	}
	add("live SPI, sequence number 0", live, 0, 100)
	return cs
}

// Raw opens a raw IPv4 socket (IPPROTO_RAW: the caller writes the IP
// header) in the network namespace at nsPath. Close it with unix.Close.
func Raw(nsPath string) (int, error) {
	fd := -1
	err := in(nsPath, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("attack: raw socket: %w", err)
	}
	return fd, nil
}

// SendRaw writes each whole IPv4 packet to the raw socket fd, routed on
// its destination address, at rate packets per second (0: no pacing).
func SendRaw(ctx context.Context, fd int, cases []Case, rate int) (int, error) {
	p := pacer{start: time.Now(), rate: rate}
	for i, c := range cases {
		if err := p.wait(ctx, i); err != nil {
			return i, err
		}
		if len(c.Bytes) < 20 {
			return i, fmt.Errorf("attack: %q is not an IPv4 packet", c.Name)
		}
		to := &unix.SockaddrInet4{Addr: [4]byte(c.Bytes[16:20])}
		if err := unix.Sendto(fd, c.Bytes, 0, to); err != nil {
			return i, fmt.Errorf("attack: send %q: %w", c.Name, err)
		}
	}
	return len(cases), nil
}

// UDPPacket returns an IPv4/UDP packet src:sport -> dst:dport carrying
// payload, with identification id (UDP checksum 0: none, RFC 768).
func UDPPacket(src, dst netip.Addr, sport, dport uint16, id uint16, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	return ipv4Packet(src, dst, 17, id, append(u, payload...))
}
