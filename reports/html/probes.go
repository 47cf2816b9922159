package html

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"time"

	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
)

// A probe stream (harness/traffic) is a run of UDP datagrams that each
// carry a stream id and a sequence number. Seen on several links of a
// capture (in clear on the LANs, inside decrypted ESP on the WAN), it
// tells where probes went missing and when: a probe seen where the
// stream enters the capture and never where it leaves was lost on the
// way. That is the "probe loss over time" a spec's report entry only
// totals.

// probeStream is one stream as the capture saw it.
type probeStream struct {
	ID       uint32
	Src, Dst netip.Addr
	// In is the link where the stream enters the capture (its earliest
	// sighting), Out the one where it leaves it (the link whose sightings
	// come latest after In's); Out is "" when the stream was seen on one
	// link only.
	In, Out string
	Sent    int         // distinct probes seen on In
	Lost    int         // of those, never seen on Out
	sent    []time.Time // when each probe was seen on In
	lost    []time.Time // when each lost probe was seen on In
	Links   []string    // every link it was seen on
}

type probeTracker struct {
	streams map[uint32]*trackedStream
	order   []uint32
}

type trackedStream struct {
	src, dst netip.Addr
	links    []string
	seen     map[string]map[uint64]time.Time // link → seq → first sighting
}

func newProbeTracker() *probeTracker { return &probeTracker{streams: map[uint32]*trackedStream{}} }

func (pt *probeTracker) add(p *pcap.Packet) {
	id, seq, ok := probeHeader(p)
	if !ok {
		return
	}
	s := pt.streams[id]
	if s == nil {
		s = &trackedStream{seen: map[string]map[uint64]time.Time{}}
		if p.ESP != nil {
			s.src, s.dst = p.ESP.InnerSrc, p.ESP.InnerDst
		} else {
			s.src, s.dst = p.Src, p.Dst
		}
		pt.streams[id] = s
		pt.order = append(pt.order, id)
	}
	m := s.seen[p.Link]
	if m == nil {
		m = map[uint64]time.Time{}
		s.seen[p.Link] = m
		s.links = append(s.links, p.Link)
	}
	if _, dup := m[seq]; !dup {
		m[seq] = p.Time
	}
}

// result works out each stream's way through the capture and its losses.
func (pt *probeTracker) result() []*probeStream {
	var out []*probeStream
	for _, id := range pt.order {
		s := pt.streams[id]
		ps := &probeStream{ID: id, Src: s.src, Dst: s.dst, Links: s.links, In: s.links[0]}
		in := s.seen[ps.In]
		// Out: the link whose sightings of the probes In saw come latest
		// on average.
		var best time.Duration
		for _, l := range s.links[1:] {
			var sum time.Duration
			n := 0
			for seq, t := range s.seen[l] {
				if t0, ok := in[seq]; ok {
					sum += t.Sub(t0)
					n++
				}
			}
			if n > 0 && (ps.Out == "" || sum/time.Duration(n) > best) {
				ps.Out, best = l, sum/time.Duration(n)
			}
		}
		seqs := make([]uint64, 0, len(in))
		for seq := range in {
			seqs = append(seqs, seq)
		}
		sort.Slice(seqs, func(i, j int) bool { return in[seqs[i]].Before(in[seqs[j]]) })
		outSeen := s.seen[ps.Out]
		for _, seq := range seqs {
			ps.sent = append(ps.sent, in[seq])
			if ps.Out != "" {
				if _, ok := outSeen[seq]; !ok {
					ps.lost = append(ps.lost, in[seq])
				}
			}
		}
		ps.Sent, ps.Lost = len(ps.sent), len(ps.lost)
		out = append(out, ps)
	}
	return out
}

// probeHeader reads the probe header of a clear UDP datagram or of a
// decrypted ESP packet's inner one.
func probeHeader(p *pcap.Packet) (id uint32, seq uint64, ok bool) {
	var ip []byte
	switch {
	case p.ESP != nil && p.ESP.Decrypted && p.ESP.InnerProto == 17:
		ip = p.ESP.Payload
	case p.Proto == "UDP":
		ip = p.IPPacket()
	default:
		return 0, 0, false
	}
	udp := udpPayload(ip)
	if len(udp) < traffic.HeaderLen || binary.BigEndian.Uint32(udp) != traffic.Magic {
		return 0, 0, false
	}
	h, _, err := traffic.ParseHeader(udp)
	if err != nil {
		return 0, 0, false
	}
	return h.StreamID, h.Seq, true
}

// udpPayload is the payload of the UDP datagram in IP packet b (IPv4 with
// options, IPv6 without extension headers), nil for anything else.
func udpPayload(b []byte) []byte {
	if len(b) < 1 {
		return nil
	}
	var off int
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 || b[9] != 17 {
			return nil
		}
		off = int(b[0]&0x0f) * 4
	case 6:
		if len(b) < 40 || b[6] != 17 {
			return nil
		}
		off = 40
	default:
		return nil
	}
	if len(b) < off+8 {
		return nil
	}
	return b[off+8:]
}
