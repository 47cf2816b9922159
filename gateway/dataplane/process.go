package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// Outbound processes one packet the kernel forwarded from the LAN side. The
// packet is buf[off:off+n]; buf must have Headroom octets before off and
// Tailroom after the packet, so that it is encrypted in place. The results
// (the ESP packet, its fragments' ESP packets, the clear packet, or an ICMP
// error for the sender) go to the worker's emit.
//
// A panic on the packet is recovered: counted (internal_error), logged
// (INTERNAL_ERROR) and the packet dropped; the worker goes on.
func (w *Worker) Outbound(buf []byte, off, n int) {
	pkt := buf[off : off+n]
	defer events.Recover(w.e.opt.Events, w.internalError, "dataplane-lan", "LAN", pkt)
	if flow, ok := w.parse(pkt, "LAN"); ok {
		w.outbound(buf, off, n, &flow)
	}
}

// outbound sends a parsed LAN packet by the policy: encrypted under the
// SA of the first permit entry that matches, nowhere when that entry has
// no SA, and in clear when no group's entry permits it.
func (w *Worker) outbound(buf []byte, off, n int, flow *ipv4.Flow) {
	e := w.e
	pkt := buf[off : off+n]
	st := e.state.Load()
	switch v, sa := classifyOut(e, st, flow); v {
	case outEncrypt:
		w.encrypt(sa, buf, off, n)
	case outDropNoSA:
		e.count(OutDropNoSA)
	case outClearInboundOnly:
		// Receive-only: the SAs are installed inbound only and matching
		// traffic goes out in clear (S0 Table 5).
		e.count(OutClearInboundOnly)
		w.send(pkt)
	case outFailClose:
		// The fail-close ACL comes last in the crypto map (S0
		// L3120-3150): a deny entry sends the packet in clear, anything
		// else is dropped.
		w.failClose(st.failClose.out, flow, pkt, OutClearFailClose, OutDropFailClose)
	case outClearDeny:
		e.count(OutClearDeny)
		w.send(pkt)
	default:
		e.count(OutClearNoMatch)
		w.send(pkt)
	}
}

// outVerdict is what the merged policy says about a packet from the LAN.
type outVerdict uint8

const (
	outClearNoMatch     outVerdict = iota // no entry matches, or no policy yet
	outClearDeny                          // a deny entry matches and no later group permits it
	outClearInboundOnly                   // a permit of a receive-only group
	outEncrypt                            // a permit with an SA to send on
	outDropNoSA                           // a permit without a usable SA
	outFailClose                          // no group encrypts it and fail-close is armed: its ACL decides
)

// classifyOut applies st to a LAN packet. The groups are tried in order,
// as a crypto map's entries are: a deny entry of one group passes the
// packet on to the next (DP-95), and the first permit that matches
// decides.
func classifyOut(e *Engine, st *state, flow *ipv4.Flow) (outVerdict, *SA) {
	denied := false
	for _, g := range st.groups {
		if !g.registered {
			continue
		}
		if matchAny(g.localOut, flow) || matchAny(g.ksDeny, flow) {
			denied = true
			continue
		}
		for _, p := range g.permits {
			if !p.sel.match(flow) {
				continue
			}
			if g.dir == config.DirectionInboundOnly {
				return outClearInboundOnly, nil
			}
			if sa := p.pick(e.opt.Clock.Now(), e.window); sa != nil {
				return outEncrypt, sa
			}
			return outDropNoSA, nil
		}
	}
	switch {
	case st.failClose != nil:
		return outFailClose, nil
	case denied:
		return outClearDeny, nil
	}
	return outClearNoMatch, nil
}

// parse reads the flow of a packet from side ("LAN" or "WAN"); a packet
// that is not well-formed IPv4 is counted (and, unless IPv6, logged) and
// reported not ok.
func (w *Worker) parse(pkt []byte, side string) (ipv4.Flow, bool) {
	flow, err := ipv4.ParseFlow(pkt)
	if err == nil {
		return flow, true
	}
	if ipv4.Version(pkt) == 6 {
		w.e.count(DropNotIPv4)
		return flow, false
	}
	w.e.count(DropMalformed)
	w.e.report("MALFORMED_PACKET", "peer", side, "reason", err.Error(), "proto", "ip", "size", strconv.Itoa(len(pkt)))
	return flow, false
}

func matchAny(sels []selector, f *ipv4.Flow) bool {
	for i := range sels {
		if sels[i].match(f) {
			return true
		}
	}
	return false
}

// encrypt seals the inner packet buf[off:off+n] on sa and sends it, first
// fitting it to the WAN MTU: fragments (DF clear after the df-bit policy)
// or an ICMP "fragmentation needed" back to the sender (DF set). It
// reports whether any ESP went out.
func (w *Worker) encrypt(sa *SA, buf []byte, off, n int) bool {
	e := w.e
	inner := buf[off : off+n]
	w.clampMSS(inner)
	mtu := e.MTU()
	if n+esp.TunnelOverhead(sa.Transform, n) > mtu {
		fit := maxInner(sa, mtu)
		// The inner packet may be fragmented unless its sender forbids it
		// (DF), and df-bit clear overrides that (S0 DP-43: "the DF bit is
		// cleared and the packet is fragmented"). Each fragment must hold
		// the header, options included in the first, and 8 octets of data:
		// below that fragmenting would never end (or cut into the header).
		ihl := int(inner[0]&0x0f) * 4
		if (ipv4.DF(inner) && sa.tun.DF != esp.DFClear) || fit < max(28, ihl+8) {
			// Tell the sender the MTU that fits (S0 DP-42: 1500 - 60 =
			// 1440 for AES-CBC/SHA-1).
			e.count(OutDropTooBig)
			w.fragNeeded(inner, fit)
			return false
		}
		e.count(OutFragmented)
		return w.fragmentAndEncrypt(sa, inner, fit)
	}
	pkt, err := sa.seal(buf, off, n, w.nextID(), &w.iv)
	if err != nil {
		w.sealFailed(sa, err)
		return false
	}
	e.count(OutEncrypted)
	w.sendESP(pkt)
	return true
}

func (w *Worker) nextID() uint16 { w.ipid++; return w.ipid }

// clampMSS applies Options.TCPMSS to a packet the GM encrypts or has
// decrypted.
func (w *Worker) clampMSS(pkt []byte) {
	if w.e.mss != 0 && clampMSS(pkt, w.e.mss) {
		w.e.count(TCPMSSClamped)
	}
}

func (w *Worker) sealFailed(sa *SA, err error) {
	if errors.Is(err, errNoIV) {
		w.e.count(OutDropIVExhausted)
		w.e.report("GM_RE_REGISTER", "group", sa.Group, "reason", "IV counter space of TEK "+hexSPI(sa.SPI)+" exhausted (RFC 6054): a new Sender-ID or TEK is needed")
		return
	}
	w.e.count(DropMalformed)
	w.e.report("MALFORMED_PACKET", "peer", "LAN", "reason", err.Error(), "proto", "ip")
}

// maxInner is the largest inner packet that fits the MTU once encrypted on
// sa.
func maxInner(sa *SA, mtu int) int {
	n := mtu - esp.TunnelOverhead(sa.Transform, 0) + sa.Transform.PadAlign()
	for n > 0 && n+esp.TunnelOverhead(sa.Transform, n) > mtu {
		n--
	}
	return n
}

// fragmentAndEncrypt splits the inner packet into IP fragments of at most
// fit octets, DF clear, and sends each as its own ESP packet ("fragmentation
// before-encryption", S0 DP-43): the far GM decrypts each and the far host
// reassembles. It reports whether any ESP went out.
func (w *Worker) fragmentAndEncrypt(sa *SA, inner []byte, fit int) bool {
	ihl := int(inner[0]&0x0f) * 4
	data := inner[ihl:]
	origOff := ipv4.FragmentOffset(inner)
	origMF := binary.BigEndian.Uint16(inner[6:])&0x2000 != 0
	first, sent := true, false
	for len(data) > 0 {
		hl := ihl
		if !first {
			hl = ipv4.HeaderLen // options are not copied into later fragments
		}
		chunk := min(len(data), (fit-hl)&^7)
		last := chunk == len(data)
		frag := w.frag[Headroom : Headroom+hl+chunk]
		copy(frag, inner[:ipv4.HeaderLen])
		if hl > ipv4.HeaderLen {
			copy(frag[ipv4.HeaderLen:hl], inner[ipv4.HeaderLen:ihl])
		}
		frag[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(frag[2:], uint16(hl+chunk))
		flags := uint16((origOff + (len(inner) - ihl - len(data))) / 8)
		if !last || origMF {
			flags |= 0x2000
		}
		binary.BigEndian.PutUint16(frag[6:], flags)
		frag[10], frag[11] = 0, 0
		binary.BigEndian.PutUint16(frag[10:], ipv4.Checksum(frag[:hl]))
		copy(frag[hl:], data[:chunk])
		data = data[chunk:]
		first = false

		pkt, err := sa.seal(w.frag, Headroom, hl+chunk, w.nextID(), &w.iv)
		if err != nil {
			w.sealFailed(sa, err)
			return sent
		}
		w.e.count(OutEncrypted)
		w.sendESP(pkt)
		sent = true
	}
	return sent
}

// fragNeeded sends the inner packet's source an ICMP destination
// unreachable, fragmentation needed (RFC 792, RFC 1191 next-hop MTU),
// unless the packet is itself an ICMP error or the rate limit says no. The
// ICMP is the GM's own packet: it goes out through the worker's local
// sender with source 0.0.0.0, which the kernel replaces with the address of
// the interface towards the sender, as for its own ICMP errors. A datagram
// to a multicast group gets none (RFC 1122 §3.2.2).
func (w *Worker) fragNeeded(inner []byte, mtu int) {
	e := w.e
	if isICMPError(inner) || ipv4.Dst(inner).IsMulticast() || !e.icmpAllowed() {
		return
	}
	ihl := int(inner[0]&0x0f) * 4
	quote := inner[:min(len(inner), ihl+8)]
	total := ipv4.HeaderLen + 8 + len(quote)
	pkt := w.frag[Headroom : Headroom+total]
	ipv4.WriteHeader(pkt, &ipv4.Header{TOS: 0xc0, TotalLen: total, ID: w.nextID(), TTL: 64, Protocol: ipv4.ProtoICMP, Src: netip.IPv4Unspecified(), Dst: ipv4.Src(inner)})
	icmp := pkt[ipv4.HeaderLen:]
	icmp[0], icmp[1] = 3, 4 // destination unreachable, fragmentation needed and DF set
	icmp[2], icmp[3], icmp[4], icmp[5] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(icmp[6:], uint16(max(mtu, 68)))
	copy(icmp[8:], quote)
	binary.BigEndian.PutUint16(icmp[2:], ipv4.Checksum(icmp))
	if err := w.local(pkt); err != nil {
		e.count(WriteErrors)
	}
}

func isICMPError(pkt []byte) bool {
	if ipv4.Protocol(pkt) != ipv4.ProtoICMP || ipv4.FragmentOffset(pkt) != 0 {
		return false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if len(pkt) <= ihl {
		return false
	}
	switch pkt[ihl] {
	case 0, 8, 13, 14, 17, 18: // echo reply/request, timestamp, address mask
		return false
	}
	return true
}

// Inbound processes one packet the kernel forwarded from the WAN side,
// pkt = buf[off:off+n]: ESP is decrypted in place, clear traffic checked
// against the policy. The result (the inner packet, or the clear packet)
// goes to the worker's emit. A panic is recovered as in Outbound (the
// packet logged may be partly decrypted: it is decrypted in place).
func (w *Worker) Inbound(buf []byte, off, n int) {
	pkt := buf[off : off+n]
	defer events.Recover(w.e.opt.Events, w.internalError, "dataplane-wan", "WAN", pkt)
	if flow, ok := w.parse(pkt, "WAN"); ok {
		w.inbound(pkt, &flow)
	}
}

// inbound takes a parsed WAN packet: ESP of a known SA is decrypted; clear
// traffic passes a deny entry or no entry at all, and is dropped where a
// permit entry says it should have been encrypted.
func (w *Worker) inbound(pkt []byte, flow *ipv4.Flow) {
	e := w.e
	st := e.state.Load()
	isESP := flow.Protocol == ipv4.ProtoESP
	if isESP && w.decrypt(st, pkt, flow) {
		return
	}
	// The groups in order, a deny passing the packet on to the next
	// (DP-95): the first group that permits it says it should have come
	// encrypted, under an SA this GM has.
	denied := false
	for _, g := range st.groups {
		if !g.registered {
			continue
		}
		if matchAny(g.localIn, flow) || matchAny(g.ksDeny, flow) {
			denied = true
			continue
		}
		for _, p := range g.permits {
			if !p.sel.match(flow) {
				continue
			}
			if isESP {
				w.unknownSPI(pkt, flow)
				return
			}
			if g.dir != config.DirectionBoth {
				// Inbound only or optional: clear traffic is accepted
				// beside ciphertext, from GMs not yet encrypting.
				e.count(InClearOptional)
				w.send(pkt)
				return
			}
			e.count(InDropClearPermit)
			e.report("RECVD_PKT_NOT_IPSEC", "dst", flow.Dst.String(), "ip", flow.Src.String(), "proto", strconv.Itoa(int(flow.Protocol)), "group", g.name)
			return
		}
	}
	if fc := st.failClose; fc != nil {
		w.failClose(fc.in, flow, pkt, InClearFailClose, InDropFailClose)
		return
	}
	switch {
	case isESP && !denied && anyRegistered(st):
		w.unknownSPI(pkt, flow) // ESP that no SA knows and no deny entry lets through
	case denied:
		e.count(InClearDeny)
		w.send(pkt)
	default:
		e.count(InClearNoMatch)
		w.send(pkt)
	}
}

// failClose applies the armed fail-close ACL to a packet no group
// encrypted or decrypted: a deny entry sends it in clear, anything else
// drops it.
func (w *Worker) failClose(rules []failCloseRule, flow *ipv4.Flow, pkt []byte, clear, drop Counter) {
	if passes(rules, flow) {
		w.e.count(clear)
		w.send(pkt)
		return
	}
	w.e.count(drop)
}

// unknownSPI drops ESP whose SPI no SA has.
func (w *Worker) unknownSPI(pkt []byte, flow *ipv4.Flow) {
	w.e.count(InDropUnknownSPI)
	spi, _, _ := esp.SPIOf(pkt)
	w.e.report("RECVD_PKT_INV_SPI", "dst", flow.Dst.String(), "spi", hexSPI(spi), "ip", flow.Src.String())
}

func anyRegistered(st *state) bool {
	for _, g := range st.groups {
		if g.registered {
			return true
		}
	}
	return false
}

// decrypt handles an ESP packet whose SPI an SA has; it returns false, with
// nothing done, for an SPI no SA has (the caller applies the clear policy:
// a deny entry may let it through).
func (w *Worker) decrypt(st *state, pkt []byte, outer *ipv4.Flow) bool {
	e := w.e
	spi, _, err := esp.SPIOf(pkt)
	if errors.Is(err, esp.ErrFragment) {
		e.count(InDropFragment)
		e.report("MALFORMED_PACKET", "peer", outer.Src.String(), "reason", "ESP packet arrived as IP fragments (the ESP socket gets them reassembled; the engine takes whole packets)", "proto", "esp", "size", strconv.Itoa(len(pkt)))
		return true
	}
	if err != nil {
		e.count(DropMalformed)
		e.report("MALFORMED_PACKET", "peer", outer.Src.String(), "reason", err.Error(), "proto", "esp", "size", strconv.Itoa(len(pkt)))
		return true
	}
	sa := st.bySPI[spi]
	if sa == nil || !sa.recv || !sa.valid(e.opt.Clock.Now()) {
		return false
	}
	inner, err := sa.cipher.OpenTunnel(pkt)
	switch {
	case err == nil:
	case errors.Is(err, esp.ErrAuth):
		sa.authFailures.Add(1)
		e.count(InDropAuth)
		e.report("RECVD_PKT_MAC_ERR", "conn_id", hexSPI(spi), "ip", outer.Src.String(), "group", sa.Group)
		return true
	case errors.Is(err, esp.ErrDummy):
		e.count(InDropDummy)
		return true
	case errors.Is(err, esp.ErrShort):
		e.count(InDropShort)
		e.report("RECVD_PKT_TOO_SHORT", "conn_id", hexSPI(spi), "size", strconv.Itoa(len(pkt)), "ip", outer.Src.String(), "dst", outer.Dst.String(), "group", sa.Group, "reason", err.Error())
		return true
	default:
		e.count(DropMalformed)
		e.report("MALFORMED_PACKET", "peer", outer.Src.String(), "reason", "SPI "+hexSPI(spi)+": "+err.Error(), "proto", "esp", "size", strconv.Itoa(len(pkt)))
		return true
	}
	flow, err := ipv4.ParseFlow(inner)
	if err != nil || !sa.sel.match(&flow) {
		sa.policyDrops.Add(1)
		e.count(InDropPolicy)
		e.report("RECVD_PKT_INV_IDENT", "dst", flow.Dst.String(), "ip", flow.Src.String(), "proto", strconv.Itoa(int(flow.Protocol)), "spi", hexSPI(spi), "group", sa.Group)
		return true
	}
	sa.decPackets.Add(1)
	sa.decBytes.Add(uint64(len(inner)))
	e.count(InDecrypted)
	// A decrypted SYN-ACK (or a far host's SYN) tells the LAN host how
	// much it may send: clamped, the LAN host's segments fit the WAN once
	// encrypted too, as with the interface command, which works both ways.
	w.clampMSS(inner)
	w.send(inner)
	return true
}

func hexSPI(spi uint32) string { return fmt.Sprintf("0x%08x", spi) }
