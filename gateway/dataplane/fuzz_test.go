package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// FuzzInbound feeds arbitrary packets to registered GMs' WAN side, one on
// an AES-GCM TEK and one on AES-CBC: none may panic (a recovered panic
// counts as internal_error), and a valid ESP packet still decrypts
// afterwards (bad input costs no key). Seeded with each good packet cut at
// every length from its ESP header to IV + ICV.
func FuzzInbound(f *testing.F) {
	t := &testing.T{}
	type gm struct {
		b    *member
		good []byte
	}
	var gms []gm
	for _, tr := range []string{"aes128-sha1", "aes256gcm16"} {
		_, a, b := pair(t, tr)
		good := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false))[0]
		gms = append(gms, gm{b, good})
		f.Add(good)
		sa := b.e.state.Load().bySPI[binary.BigEndian.Uint32(good[20:])]
		for body := 0; body <= sa.Transform.IVLen()+sa.Transform.ICVLen(); body++ {
			f.Add(truncate(good, body))
		}
	}
	f.Add(udp(testnet.Host(2), testnet.Host(1), 1, 2, 10, false))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, g := range gms {
			g.b.run(true, pkt)
			if n := g.b.e.Count(InternalErrors); n != 0 {
				t.Fatalf("%d recovered panics on %x", n, pkt)
			}
			if out := g.b.run(true, g.good); len(out) != 1 {
				t.Fatal("the good packet no longer decrypts")
			}
		}
	})
}

// FuzzOutbound feeds arbitrary packets to a registered GM's LAN side at WAN
// MTUs from 68 to 1567: none may panic (a recovered panic counts as
// internal_error) or loop forever, and no ESP packet it makes exceeds the
// WAN MTU.
func FuzzOutbound(f *testing.F) {
	t := &testing.T{}
	_, a, _ := pair(t, "aes256gcm16")
	f.Add(udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, true), uint16(1500-68))
	f.Add(udp(testnet.Host(1), testnet.Host(2), 1, 2, 3000, false), uint16(1500-68))
	f.Add(withOptions(udp(testnet.Host(1), testnet.Host(2), 1, 2, 300, false)), uint16(88-68))
	f.Add([]byte{0x60, 0, 0}, uint16(0))
	f.Fuzz(func(t *testing.T, pkt []byte, mtu uint16) {
		if len(pkt) > 65535 {
			return
		}
		wan := 68 + int(mtu)%1500
		a.e.SetMTU(wan)
		out := a.run(false, pkt)
		if n := a.e.Count(InternalErrors); n != 0 {
			t.Fatalf("%d recovered panics on %x at MTU %d", n, pkt, wan)
		}
		for _, out := range out {
			// Clear traffic passes at any size (the kernel fragments it or
			// answers it); what the GM encrypts must fit the WAN MTU.
			if out[9] == 50 && len(out) > wan {
				t.Fatalf("emitted %d octets, above the WAN MTU %d (proto %d): %v", len(out), wan, out[9], a.e.Counters())
			}
		}
	})
}

// FuzzMulticastFrames feeds arbitrary frames to a multicast-routing GM's
// packet sockets, a LAN's (virtio-net header first, as read: wan false)
// and the WAN's: none may panic (a recovered panic counts as
// internal_error); the ESP it sends goes to a group within the WAN MTU,
// and what it delivers on a LAN is a frame to the MAC address of the
// group its packet is for. Seeded with good frames both ways, a UDP
// offload superpacket, and each cut at every length.
func FuzzMulticastFrames(f *testing.F) {
	t := &testing.T{}
	_, a, b := mcastPair(t, "aes256gcm16")
	pkt, h := mcastUDP(testnet.Host(1), group, 8, 300, true)
	esp := a.fromLAN(h, pkt)[0]
	lanFrame := func(h vnetHdr, pkt []byte) []byte {
		fr := make([]byte, vnetHdrLen+ethLen+len(pkt))
		fr[0], fr[1] = h.flags, h.gsoType
		binary.LittleEndian.PutUint16(fr[2:], h.hdrLen)
		binary.LittleEndian.PutUint16(fr[4:], h.gsoSize)
		binary.LittleEndian.PutUint16(fr[6:], h.csumStart)
		binary.LittleEndian.PutUint16(fr[8:], h.csumOffset)
		binary.BigEndian.PutUint16(fr[vnetHdrLen+12:], etherTypeIPv4)
		copy(fr[vnetHdrLen+ethLen:], pkt)
		return fr
	}
	good := lanFrame(h, pkt)
	gso := h
	gso.gsoType, gso.gsoSize = vnetGSOUDPL4, 7
	wanGood := append(binary.BigEndian.AppendUint16(make([]byte, 12), etherTypeIPv4), esp...)
	for _, fr := range [][]byte{good, lanFrame(gso, pkt)} {
		for n := 0; n <= len(fr); n += 9 {
			f.Add(fr[:n], false)
		}
	}
	for n := 0; n <= len(wanGood); n += 9 {
		f.Add(wanGood[:n], true)
	}
	f.Add(wanGood, true)
	buf := make([]byte, Headroom+65535+Tailroom)
	f.Fuzz(func(t *testing.T, frame []byte, wan bool) {
		if len(frame) > 65535 {
			return
		}
		clear(buf)
		b.frames = [2][][]byte{}
		a.esp = nil
		if wan {
			copy(buf[wanFrameOff:], frame)
			wanFrame(b.wan, buf, len(frame))
		} else {
			copy(buf[lanFrameOff:], frame)
			a.lan.frame(buf, len(frame))
			// What a sends, b decrypts and delivers.
			for _, p := range a.esp {
				clear(buf)
				binary.BigEndian.PutUint16(buf[wanFrameOff+12:], etherTypeIPv4)
				copy(buf[Headroom:], p)
				wanFrame(b.wan, buf, ethLen+len(p))
			}
		}
		if n := a.e.Count(InternalErrors) + b.e.Count(InternalErrors); n != 0 {
			t.Fatalf("%d recovered panics on %x", n, frame)
		}
		for _, p := range a.esp {
			if len(p) > a.e.MTU() || !routableGroup(ipv4.Dst(p)) || ipv4.Protocol(p) != ipv4.ProtoESP {
				t.Fatalf("sent %d octets of protocol %d to %v", len(p), ipv4.Protocol(p), ipv4.Dst(p))
			}
		}
		for _, fs := range b.frames {
			for _, fr := range fs {
				var mac [6]byte
				ip := fr[vnetHdrLen+ethLen:]
				groupMAC(mac[:], ipv4.Dst(ip).As4())
				if [6]byte(fr[vnetHdrLen:]) != mac || !routableGroup(ipv4.Dst(ip)) {
					t.Fatalf("delivered a frame to %x carrying a packet to %v", fr[vnetHdrLen:vnetHdrLen+6], ipv4.Dst(ip))
				}
			}
		}
	})
}
