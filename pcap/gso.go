package pcap

import (
	"encoding/binary"
	"errors"
)

// A capture socket sees a frame as the kernel holds it, which on a veth
// is not always as a wire would carry it: an offloaded superpacket (a TCP
// sender's TSO, a TUN writer's coalesced segments, UDP GSO) crosses a veth
// whole, up to 64 KB, and its checksums may be left for a device to fill
// in. A real link carries the segments, each with its checksums. The
// capture asks for each frame's virtio-net header (PACKET_VNET_HDR) and
// writes what a wire would: the superpacket cut into its segments, the
// checksums completed.

// vnetHdrLen is the size of the virtio-net header a packet socket with
// PACKET_VNET_HDR puts before each frame (struct virtio_net_hdr).
const vnetHdrLen = 10

// virtio-net header flags and GSO types (linux/virtio_net.h).
const (
	vnetNeedsCsum  = 1
	vnetGSONone    = 0
	vnetGSOTCPv4   = 1
	vnetGSOUDP     = 3 // UFO: one datagram in IP fragments
	vnetGSOTCPv6   = 4
	vnetGSOUDPL4   = 5 // UDP GSO: several datagrams
	vnetGSOECNFlag = 0x80
)

// vnetHdr is a virtio-net header; the packet socket writes it in the
// host's byte order, little-endian on every machine this runs on.
type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func parseVnetHdr(b []byte) (vnetHdr, error) {
	if len(b) < vnetHdrLen {
		return vnetHdr{}, errors.New("pcap: frame shorter than its virtio-net header")
	}
	return vnetHdr{
		flags: b[0], gsoType: b[1],
		hdrLen:     binary.LittleEndian.Uint16(b[2:]),
		gsoSize:    binary.LittleEndian.Uint16(b[4:]),
		csumStart:  binary.LittleEndian.Uint16(b[6:]),
		csumOffset: binary.LittleEndian.Uint16(b[8:]),
	}, nil
}

// wireFrames returns the frames a wire would carry for an Ethernet frame
// read with its virtio-net header h: the frame itself, with its partial
// checksum completed, or the segments of a superpacket, each with its
// own lengths, IPv4 identification, TCP sequence number and checksums.
// A frame it cannot cut (an unknown GSO type, headers it cannot parse) is
// returned as it was read: the capture loses nothing.
func wireFrames(h vnetHdr, frame []byte) [][]byte {
	gso := h.gsoType &^ vnetGSOECNFlag
	if gso == vnetGSONone || gso == vnetGSOUDP || h.gsoSize == 0 {
		if h.flags&vnetNeedsCsum != 0 {
			completeChecksum(frame, int(h.csumStart), int(h.csumOffset))
		}
		return [][]byte{frame}
	}
	segs, ok := segment(frame, int(h.gsoSize), gso)
	if !ok {
		return [][]byte{frame}
	}
	return segs
}

// VnetHdrLen is the length of the virtio-net header a packet socket with
// PACKET_VNET_HDR puts before each frame it reads.
const VnetHdrLen = vnetHdrLen

// WireFrames returns the frames a wire carries for b, what a packet socket
// with PACKET_VNET_HDR read: the virtio-net header, then a frame, which
// may be an offloaded superpacket (cut into its segments) or carry a
// partial checksum (completed). The frames may share b's memory.
func WireFrames(b []byte) ([][]byte, error) {
	h, err := parseVnetHdr(b)
	if err != nil {
		return nil, err
	}
	return wireFrames(h, b[vnetHdrLen:]), nil
}

// completeChecksum fills in a checksum the sender left partial: the field
// at start+offset holds the pseudo-header's sum, the rest is summed from
// start to the end of the frame (as the kernel's skb_checksum_help does).
func completeChecksum(frame []byte, start, offset int) {
	field := start + offset
	if start <= 0 || field+2 > len(frame) {
		return
	}
	c := ^fold(sum(frame[start:], 0))
	if c == 0 {
		c = 0xffff // as the kernel writes a sum of zero (CSUM_MANGLED_0)
	}
	binary.BigEndian.PutUint16(frame[field:], c)
}

// l3 is where a frame's IP header and transport header are.
type l3 struct {
	ip, l4, payload int // offsets
	v6              bool
	proto           uint8
}

// parseL3 finds the IP and TCP/UDP headers of an Ethernet frame (one VLAN
// tag at most; no IPv6 extension headers, no IPv4 fragments).
func parseL3(frame []byte) (l3, bool) {
	var p l3
	if len(frame) < 14 {
		return p, false
	}
	et, off := binary.BigEndian.Uint16(frame[12:]), 14
	if et == 0x8100 && len(frame) >= 18 {
		et, off = binary.BigEndian.Uint16(frame[16:]), 18
	}
	p.ip = off
	switch et {
	case 0x0800:
		if len(frame) < off+20 || frame[off]>>4 != 4 {
			return p, false
		}
		ihl := int(frame[off]&0x0f) * 4
		if ihl < 20 || len(frame) < off+ihl || binary.BigEndian.Uint16(frame[off+6:])&0x3fff != 0 {
			return p, false
		}
		p.proto, p.l4 = frame[off+9], off+ihl
	case 0x86dd:
		if len(frame) < off+40 {
			return p, false
		}
		p.v6, p.proto, p.l4 = true, frame[off+6], off+40
	default:
		return p, false
	}
	switch p.proto {
	case 6:
		if len(frame) < p.l4+20 {
			return p, false
		}
		thl := int(frame[p.l4+12]>>4) * 4
		if thl < 20 || len(frame) < p.l4+thl {
			return p, false
		}
		p.payload = p.l4 + thl
	case 17:
		if len(frame) < p.l4+8 {
			return p, false
		}
		p.payload = p.l4 + 8
	default:
		return p, false
	}
	return p, true
}

// segment cuts a TCP or UDP superpacket into segments of at most mss
// octets of payload each.
func segment(frame []byte, mss int, gso uint8) ([][]byte, bool) {
	p, ok := parseL3(frame)
	switch {
	case !ok:
		return nil, false
	case gso == vnetGSOTCPv4 && p.proto == 6 && !p.v6, gso == vnetGSOTCPv6 && p.proto == 6 && p.v6, gso == vnetGSOUDPL4 && p.proto == 17:
	default:
		return nil, false
	}
	hdr, data := frame[:p.payload], frame[p.payload:]
	var segs [][]byte
	for i, off := 0, 0; off < len(data); i, off = i+1, off+mss {
		chunk := data[off:min(off+mss, len(data))]
		s := make([]byte, len(hdr)+len(chunk))
		copy(s, hdr)
		copy(s[len(hdr):], chunk)
		last := off+mss >= len(data)
		ip := s[p.ip:]
		if p.v6 {
			binary.BigEndian.PutUint16(ip[4:], uint16(len(s)-p.l4))
		} else {
			binary.BigEndian.PutUint16(ip[2:], uint16(len(s)-p.ip))
			binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])+uint16(i))
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:p.l4-p.ip], 0)))
		}
		l4 := s[p.l4:]
		var ck int
		if p.proto == 6 {
			binary.BigEndian.PutUint32(l4[4:], binary.BigEndian.Uint32(l4[4:])+uint32(off))
			if i > 0 {
				l4[13] &^= 0x80 // CWR only on the first segment
			}
			if !last {
				l4[13] &^= 0x09 // FIN and PSH only on the last
			}
			ck = 16
		} else {
			binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
			ck = 6
		}
		l4[ck], l4[ck+1] = 0, 0
		c := ^fold(sum(l4, pseudoHeader(s, p, len(l4))))
		if p.proto == 17 && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[ck:], c)
		segs = append(segs, s)
	}
	return segs, len(segs) > 0
}

// pseudoHeader is the sum of a segment's IPv4 or IPv6 pseudo-header.
func pseudoHeader(s []byte, p l3, l4len int) uint64 {
	var acc uint64
	if p.v6 {
		acc = sum(s[p.ip+8:p.ip+40], 0)
	} else {
		acc = sum(s[p.ip+12:p.ip+20], 0)
	}
	return acc + uint64(p.proto) + uint64(l4len)
}

// sum adds b as big-endian 16-bit words to acc (RFC 1071).
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
