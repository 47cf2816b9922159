package dataplane

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"

	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/wire/ipv4"
	"golang.org/x/net/bpf"
)

// Multicast routing (DP-60). The kernel of a GM may have no multicast
// routing at all (CONFIG_IP_MROUTE unset), and where it has some, it
// forwards nothing into a TUN: multicast from a LAN never reaches the LAN
// TUN, and multicast ESP from the WAN is delivered locally only for a
// group the GM has joined. So for the LAN interfaces it is given
// (DeviceOptions.MulticastLAN) the data plane carries protected multicast
// itself, as a router would: a packet socket on each LAN interface reads
// IPv4 multicast frames, which are classified like a packet from the LAN
// TUN and, where a permit has an SA, sent as ESP to the same group (the
// outer header keeps the inner's addresses, so the core replicates it); a
// packet socket on the WAN interface reads ESP to multicast groups, which
// is decrypted and sent out of every LAN interface in a frame to the
// group's MAC address. The functions here are the frame handling and the
// engine's part; multicast_linux.go has the sockets.

// Frame layout: a LAN packet socket reads (and writes) a virtio-net header
// before each Ethernet frame; the WAN socket reads bare frames.
const (
	vnetHdrLen    = 10
	ethLen        = 14
	etherTypeIPv4 = 0x0800
)

// virtio-net header flags and GSO types (linux/virtio_net.h).
const (
	vnetNeedsCsum = 1
	vnetGSONone   = 0
	vnetGSOUDP    = 3 // UFO: one datagram, to be sent in IP fragments
	vnetGSOUDPL4  = 5 // UDP GSO: several datagrams of gsoSize octets
	vnetGSOECN    = 0x80
)

// lanFrameOff is where a LAN frame is read into its buffer: its IPv4
// header then lands at Headroom, where the engine encrypts it in place.
// wanFrameOff is the same for the WAN's frames, which have no virtio-net
// header.
const (
	lanFrameOff = Headroom - ethLen - vnetHdrLen
	wanFrameOff = Headroom - ethLen
)

// Errors of frame parsing: a frame that is not one whole IPv4 packet.
var (
	errFrameShort    = errors.New("frame shorter than its Ethernet and IPv4 headers")
	errFrameChecksum = errors.New("IPv4 header checksum does not verify")
	errPartialCsum   = errors.New("partial checksum outside the packet (virtio-net header)")
	errGSO           = errors.New("offload superpacket that is not UDP (virtio-net header)")
)

// routableGroup reports whether a is a multicast group a router forwards:
// 224.0.0.0/4 less the local network control block 224.0.0.0/24 (IGMP,
// OSPF, PIM, ...), which is never routed.
func routableGroup(a netip.Addr) bool { return a.IsMulticast() && !a.IsLinkLocalMulticast() }

// framePacket returns the length of the IPv4 packet the Ethernet frame f
// carries (the frame's padding left out), once it has checked that the
// packet is all there and its header checksum verifies: a router checks
// that much before it forwards, and nothing has checked it before the
// packet socket. ok is false, with err nil, for a frame that is not IPv4
// at all (the socket's filter keeps those out).
func framePacket(f []byte) (n int, ok bool, err error) {
	if len(f) < ethLen+ipv4.HeaderLen {
		return 0, false, errFrameShort
	}
	if binary.BigEndian.Uint16(f[12:]) != etherTypeIPv4 {
		return 0, false, nil
	}
	// The frame may be padded past the packet: the packet is what its
	// total length says, and ipv4.Check checks it is all there.
	ip := f[ethLen:]
	total := ipv4.TotalLen(ip)
	if total > len(ip) {
		return 0, false, ipv4.ErrLength
	}
	ihl, err := ipv4.Check(ip[:total])
	if err != nil {
		return 0, false, err
	}
	if ipv4.Checksum(ip[:ihl]) != 0 {
		return 0, false, errFrameChecksum
	}
	return total, true, nil
}

// vnetHdr is a virtio-net header, written by the packet socket in the
// host's byte order: little-endian wherever this runs.
type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func parseVnetHdr(b []byte) vnetHdr {
	_ = b[vnetHdrLen-1]
	return vnetHdr{
		flags: b[0], gsoType: b[1],
		hdrLen:     binary.LittleEndian.Uint16(b[2:]),
		gsoSize:    binary.LittleEndian.Uint16(b[4:]),
		csumStart:  binary.LittleEndian.Uint16(b[6:]),
		csumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
}

// completeChecksum fills in the checksum a sender left for its device to
// finish (CHECKSUM_PARTIAL: a datagram from a host next door crosses a
// veth so): the field at start+offset holds the pseudo-header's sum, and
// the rest is summed from start to the end of the frame f, as the
// kernel's skb_checksum_help does. start counts from the Ethernet header
// and must fall after the IPv4 header.
func completeChecksum(f []byte, start, offset int) bool {
	field := start + offset
	ihl := int(f[ethLen]&0x0f) * 4
	if start < ethLen+ihl || field+2 > len(f) {
		return false
	}
	c := ^fold(sum(f[start:], 0))
	if c == 0 {
		c = 0xffff // a UDP sum of zero is sent as all ones (RFC 768)
	}
	binary.BigEndian.PutUint16(f[field:], c)
	return true
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

// decTTL takes one off the TTL of the IPv4 header in ip and updates its
// checksum incrementally: the TTL is the high octet of the 16-bit word it
// shares with the protocol.
func decTTL(ip []byte) {
	word := binary.BigEndian.Uint16(ip[8:])
	ip[8]--
	binary.BigEndian.PutUint16(ip[10:], checksumReplace(binary.BigEndian.Uint16(ip[10:]), 8, word, word-0x0100))
}

// groupMAC is the Ethernet address of IPv4 group g: 01:00:5e and the low
// 23 bits of the group (RFC 1112 §6.4).
func groupMAC(dst []byte, g [4]byte) {
	dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = 0x01, 0x00, 0x5e, g[1]&0x7f, g[2], g[3]
}

// lanMulticast hands the frames one LAN interface's packet socket reads
// to a worker's OutboundMulticast: checked, their partial checksums
// completed and UDP offload superpackets cut into their datagrams, as a
// wire would carry them.
type lanMulticast struct {
	w   *Worker
	seg []byte // one datagram of a superpacket, at Headroom
}

func newLANMulticast(w *Worker) *lanMulticast {
	return &lanMulticast{w: w, seg: make([]byte, Headroom+65535+Tailroom)}
}

// frame takes the n octets read at buf[lanFrameOff:]: a virtio-net header
// and an Ethernet frame, whose IPv4 header is at buf[Headroom]. A panic
// is recovered as in Outbound.
func (l *lanMulticast) frame(buf []byte, n int) {
	if n < vnetHdrLen || n > len(buf)-lanFrameOff {
		l.malformed(errFrameShort, n)
		return
	}
	defer events.Recover(l.w.e.opt.Events, l.w.internalError, "dataplane-mcast-lan", "LAN", buf[lanFrameOff:lanFrameOff+n])
	h := parseVnetHdr(buf[lanFrameOff:])
	f := buf[lanFrameOff+vnetHdrLen : lanFrameOff+n]
	ipLen, ok, err := framePacket(f)
	if err != nil {
		l.malformed(err, n)
		return
	}
	if !ok || !routableGroup(ipv4.Dst(f[ethLen:])) {
		return // not multicast a router forwards: the socket's filter keeps these out
	}
	f = f[:ethLen+ipLen]
	if h.flags&vnetNeedsCsum != 0 && !completeChecksum(f, int(h.csumStart), int(h.csumOffset)) {
		l.malformed(errPartialCsum, n)
		return
	}
	switch h.gsoType &^ vnetGSOECN {
	case vnetGSONone, vnetGSOUDP:
		// A UFO datagram is one packet, fragmented if need be before
		// encryption like any other.
		l.w.OutboundMulticast(buf, Headroom, ipLen)
	case vnetGSOUDPL4:
		l.segments(f[ethLen:], int(h.gsoSize))
	default:
		l.malformed(errGSO, n)
	}
}

func (l *lanMulticast) malformed(err error, n int) { badFrame(l.w.e, "LAN", err, n) }

// badFrame counts and reports a frame of n octets from side that is not
// one whole IPv4 packet.
func badFrame(e *Engine, side string, err error, n int) {
	e.count(DropMalformed)
	e.report("MALFORMED_PACKET", "peer", side, "reason", "multicast frame: "+err.Error(), "proto", "ip", "size", strconv.Itoa(n))
}

// wanFrame hands the IPv4 packet of a frame the WAN's multicast socket
// read to w's InboundMulticast: the n octets at buf[wanFrameOff:], an
// Ethernet frame whose IPv4 header is at buf[Headroom]. A frame that is
// not one whole IPv4 packet is counted and reported; a panic is
// recovered as in Inbound.
func wanFrame(w *Worker, buf []byte, n int) {
	if n < 0 || n > len(buf)-wanFrameOff {
		badFrame(w.e, "WAN", errFrameShort, n)
		return
	}
	defer events.Recover(w.e.opt.Events, w.internalError, "dataplane-mcast-wan", "WAN", buf[wanFrameOff:wanFrameOff+n])
	ipLen, ok, err := framePacket(buf[wanFrameOff : wanFrameOff+n])
	if err != nil {
		badFrame(w.e, "WAN", err, n)
		return
	}
	if ok {
		w.InboundMulticast(buf, Headroom, ipLen)
	}
}

// groupFilter is the classic BPF program of a multicast packet socket:
// IPv4 frames to a routable group and, when proto is not 0, of that IP
// protocol only. The kernel drops the rest of an interface's traffic,
// which the socket would otherwise copy to user space frame by frame.
func groupFilter(proto uint8) []bpf.Instruction {
	const ipProto, ipDst = ethLen + 9, ethLen + 16
	var prog []bpf.Instruction
	var drops []int // the jumps taken to the final "ret 0"
	dropIf := func(cond bpf.JumpTest, val uint32) {
		drops = append(drops, len(prog))
		prog = append(prog, bpf.JumpIf{Cond: cond, Val: val})
	}
	prog = append(prog, bpf.LoadAbsolute{Off: 12, Size: 2})
	dropIf(bpf.JumpNotEqual, etherTypeIPv4)
	prog = append(prog, bpf.LoadAbsolute{Off: ipDst, Size: 4}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0000000})
	dropIf(bpf.JumpNotEqual, 0xe0000000) // 224.0.0.0/4
	prog = append(prog, bpf.LoadAbsolute{Off: ipDst, Size: 4}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xffffff00})
	dropIf(bpf.JumpEqual, 0xe0000000) // 224.0.0.0/24
	if proto != 0 {
		prog = append(prog, bpf.LoadAbsolute{Off: ipProto, Size: 1})
		dropIf(bpf.JumpNotEqual, uint32(proto))
	}
	prog = append(prog, bpf.RetConstant{Val: 1 << 18}, bpf.RetConstant{Val: 0})
	for _, i := range drops {
		j := prog[i].(bpf.JumpIf)
		j.SkipTrue = uint8(len(prog) - 1 - (i + 1))
		prog[i] = j
	}
	return prog
}

// segments cuts a UDP offload superpacket ip into datagrams of at most
// mss octets of payload, each with its own lengths, identification and
// checksums, and hands each to the engine.
func (l *lanMulticast) segments(ip []byte, mss int) {
	ihl := int(ip[0]&0x0f) * 4
	hdr := ihl + 8
	if ipv4.Protocol(ip) != ipv4.ProtoUDP || mss <= 0 || len(ip) < hdr || ipv4.IsFragment(ip) {
		l.malformed(errGSO, len(ip))
		return
	}
	data := ip[hdr:]
	id := binary.BigEndian.Uint16(ip[4:])
	for i, off := 0, 0; off < len(data); i, off = i+1, off+mss {
		chunk := data[off:min(off+mss, len(data))]
		seg := l.seg[Headroom : Headroom+hdr+len(chunk)]
		copy(seg, ip[:hdr])
		copy(seg[hdr:], chunk)
		binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)))
		binary.BigEndian.PutUint16(seg[4:], id+uint16(i))
		seg[10], seg[11] = 0, 0
		binary.BigEndian.PutUint16(seg[10:], ipv4.Checksum(seg[:ihl]))
		udp := seg[ihl:]
		binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
		udp[6], udp[7] = 0, 0
		c := ^fold(sum(udp, sum(seg[12:20], uint64(ipv4.ProtoUDP)+uint64(len(udp)))))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], c)
		l.w.OutboundMulticast(l.seg, Headroom, len(seg))
	}
}

// noClear is a multicast worker's emit for clear packets and its sender
// of ICMP errors: it has neither (OutboundMulticast forwards nothing in
// clear, and no ICMP error answers a datagram to a group).
func noClear([]byte) error { return nil }

// OutboundMulticast processes one IPv4 multicast packet read off a LAN
// interface (DP-60), buf[off:off+n] with Headroom and Tailroom around it,
// as Outbound does a packet from the LAN TUN, with what a router adds:
// a packet whose TTL would expire is dropped, and the TTL is taken off
// before encryption. A permit with an SA sends it as ESP to its group
// (the ESP sink: Options.ESPOut); a permit without one drops it. Nothing
// else is forwarded: the GM, without the kernel's multicast routing, is
// not a multicast router for clear traffic, and the kernel, which does
// not forward it either, is what decides for unicast traffic in clear.
func (w *Worker) OutboundMulticast(buf []byte, off, n int) {
	pkt := buf[off : off+n]
	defer events.Recover(w.e.opt.Events, w.internalError, "dataplane-mcast-lan", "LAN", pkt)
	flow, ok := w.parse(pkt, "LAN")
	if !ok {
		return
	}
	e := w.e
	if !routableGroup(flow.Dst) {
		e.count(McastOutNotRouted)
		return
	}
	if ipv4.TTL(pkt) <= 1 {
		e.count(McastDropTTL)
		return
	}
	switch v, sa := classifyOut(e, e.state.Load(), &flow); v {
	case outEncrypt:
		decTTL(pkt)
		if w.encrypt(sa, buf, off, n) {
			e.count(McastOutEncrypted)
		}
	case outDropNoSA:
		e.count(OutDropNoSA)
		e.count(McastOutDropNoSA)
	default:
		e.count(McastOutNotRouted)
	}
}

// InboundMulticast processes one ESP packet to a multicast group read off
// the WAN interface (DP-60), buf[off:off+n]: decrypted as Inbound does,
// the inner packet matching its SA's permit entry, and handed to emit.
// Only what it decrypts goes on: ESP no SA knows is dropped whatever a
// deny entry says, since nothing routes multicast in clear here.
func (w *Worker) InboundMulticast(buf []byte, off, n int) {
	pkt := buf[off : off+n]
	defer events.Recover(w.e.opt.Events, w.internalError, "dataplane-mcast-wan", "WAN", pkt)
	flow, ok := w.parse(pkt, "WAN")
	if !ok || flow.Protocol != ipv4.ProtoESP || !routableGroup(flow.Dst) {
		return // the socket's filter lets nothing else through
	}
	if !w.decrypt(w.e.state.Load(), pkt, &flow) {
		w.unknownSPI(pkt, &flow)
	}
}

// mcastDelivery is the WAN multicast worker's emit: it sends what the
// worker decrypted out of every multicast LAN interface, as a router
// forwards it, TTL decremented, in a frame from the interface's own
// address to the group's. It floods: the GM keeps no IGMP state, so every
// LAN gets every group the policy lets through, as with IGMP snooping off.
type mcastDelivery struct {
	e     *Engine
	ports []mcastPort
	frame []byte // virtio-net header | Ethernet header | packet
}

// mcastPort is one LAN interface: its address and the sender of a frame
// with its virtio-net header, which may not keep the slice.
type mcastPort struct {
	mac  [6]byte
	send func([]byte) error
}

func newMcastDelivery(e *Engine, ports []mcastPort) *mcastDelivery {
	return &mcastDelivery{e: e, ports: ports, frame: make([]byte, vnetHdrLen+ethLen+65535)}
}

func (d *mcastDelivery) deliver(inner []byte) error {
	e := d.e
	if len(inner) < ipv4.HeaderLen || len(inner) > len(d.frame)-vnetHdrLen-ethLen || !routableGroup(ipv4.Dst(inner)) {
		// With addresses preserved, multicast ESP carries a packet to
		// its own group; anything else has no interface to go to.
		e.count(McastInDropNotGroup)
		return nil
	}
	e.count(McastInDecrypted)
	if ipv4.TTL(inner) <= 1 {
		e.count(McastDropTTL)
		return nil
	}
	f := d.frame[:vnetHdrLen+ethLen+len(inner)]
	clear(f[:vnetHdrLen]) // no offload: the packet's checksums are whole
	eth := f[vnetHdrLen:]
	groupMAC(eth[0:6], ipv4.Dst(inner).As4())
	binary.BigEndian.PutUint16(eth[12:], etherTypeIPv4)
	copy(eth[ethLen:], inner)
	decTTL(eth[ethLen:])
	for i := range d.ports {
		copy(eth[6:12], d.ports[i].mac[:])
		if err := d.ports[i].send(f); err != nil {
			e.count(WriteErrors)
			continue
		}
		e.count(McastInDelivered)
	}
	return nil
}
