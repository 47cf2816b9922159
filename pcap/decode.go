package pcap

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet is one captured frame as the bench reasons about it.
type Packet struct {
	Index   int        `json:"index"` // frame number in the file, from 1
	Time    time.Time  `json:"time"`
	Link    string     `json:"link"` // pcapng interface name: "node:iface"
	Src     netip.Addr `json:"src,omitzero"`
	Dst     netip.Addr `json:"dst,omitzero"`
	SrcPort uint16     `json:"sport,omitempty"`
	DstPort uint16     `json:"dport,omitempty"`
	// DSCP and TTL of the (outer) IP header.
	DSCP uint8 `json:"dscp,omitempty"`
	TTL  uint8 `json:"ttl,omitempty"`
	// Proto names the innermost protocol decoded: ISAKMP, ESP, UDP, TCP,
	// ICMP, ICMPv6, ARP, IPv4, IPv6 or the EtherType.
	Proto  string      `json:"proto"`
	ISAKMP *ISAKMPInfo `json:"isakmp,omitempty"`
	ESP    *ESPInfo    `json:"esp,omitempty"`
	// Malformed is why this frame could not be decoded as what it claims
	// to be ("" if it was fine).
	Malformed string `json:"malformed,omitempty"`
	// Reassembled: this frame is the IPv4 fragment that completed a
	// datagram, and what is decoded here is the whole datagram (the
	// earlier fragments' frames have Proto "IPv4 fragment").
	Reassembled bool `json:"reassembled,omitempty"`

	data []byte
	ip   []byte // data from the (outer) IP header on
}

// Size is the frame's length in octets as captured (link header included).
func (p Packet) Size() int { return len(p.data) }

// ESPInfo is an ESP packet, decrypted when the key log has its SA.
type ESPInfo struct {
	SPI       uint32 `json:"spi"`
	Seq       uint32 `json:"seq"`
	Decrypted bool   `json:"decrypted"`
	// Of the decrypted packet: next header and, for tunnel mode, the inner
	// IP header's addresses, protocol and DSCP.
	NextHeader uint8      `json:"next_header,omitempty"`
	InnerSrc   netip.Addr `json:"inner_src,omitzero"`
	InnerDst   netip.Addr `json:"inner_dst,omitzero"`
	InnerProto uint8      `json:"inner_proto,omitempty"`
	InnerDSCP  uint8      `json:"inner_dscp,omitempty"`
	// Payload is the decrypted payload (the inner packet in tunnel mode).
	Payload []byte `json:"-"`
	// DecryptError says why an SA known to the key log did not open it.
	DecryptError string `json:"decrypt_error,omitempty"`
}

// ReadFile decodes every frame of a capture file, pcapng or classic pcap
// (see Read). keys may be nil.
func ReadFile(path string, keys *KeyLog) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	defer f.Close()
	return Read(f, keys)
}

// ReadFilePrefix decodes the frames in the first size octets of a capture
// file: one still being written, up to where Capture.Sync said its blocks
// are whole.
func ReadFilePrefix(path string, size int64, keys *KeyLog) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	defer f.Close()
	return Read(io.LimitReader(f, size), keys)
}

// Read decodes every frame of a capture stream: pcapng, or classic libpcap
// in either byte order with microsecond or nanosecond timestamps. The magic
// number says which, not the file name. Frames may be Ethernet, Linux cooked
// (SLL, SLL2) or raw IP; in pcapng each interface has its own link type.
func Read(r io.Reader, keys *KeyLog) ([]Packet, error) {
	src, err := openCapture(r)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	if keys == nil {
		keys = &KeyLog{}
	}
	d := newDecoder(keys)
	var pkts []Packet
	for i := 1; ; i++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pkts, fmt.Errorf("pcap: frame %d: %w", i, err)
		}
		lt, link := src.link(ci.InterfaceIndex)
		p := Packet{Index: i, Time: ci.Timestamp, Link: link, data: data}
		d.decode(&p, lt)
		pkts = append(pkts, p)
	}
	return pkts, nil
}

// Stream decodes frames one at a time as they are seen live (a wire
// node's matcher), keeping between frames what a file read keeps: each
// exchange's message positions and retransmissions, the SAs keyed from the
// key log, the fragments waiting for their datagram.
type Stream struct {
	d *decoder
	n int
}

// NewStream returns a decoder of Ethernet frames. keys may be nil; records
// read into it later (KeyLog.Read) are used from then on, as long as the
// caller does not read into it while a frame is being decoded.
func NewStream(keys *KeyLog) *Stream {
	if keys == nil {
		keys = &KeyLog{}
	}
	return &Stream{d: newDecoder(keys)}
}

// Decode decodes the next frame, seen on link at t. The Packet refers to
// frame, which the caller must not change afterwards.
func (s *Stream) Decode(link string, t time.Time, frame []byte) Packet {
	s.n++
	p := Packet{Index: s.n, Time: t, Link: link, data: frame}
	s.d.decode(&p, layers.LinkTypeEthernet)
	return p
}

// Magic numbers of the first four octets of a capture file, as bytes.
var (
	magicPcapng = [4]byte{0x0a, 0x0d, 0x0d, 0x0a} // section header block type, a palindrome
	magicPcap   = map[[4]byte]bool{
		{0xd4, 0xc3, 0xb2, 0xa1}: true, // microseconds, little-endian
		{0xa1, 0xb2, 0xc3, 0xd4}: true, // microseconds, big-endian
		{0x4d, 0x3c, 0xb2, 0xa1}: true, // nanoseconds, little-endian
		{0xa1, 0xb2, 0x3c, 0x4d}: true, // nanoseconds, big-endian
	}
)

// captureSource is a pcap or pcapng reader and what a frame's interface
// index says about it: link type and interface name.
type captureSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	link(ifIndex int) (layers.LinkType, string)
}

func openCapture(r io.Reader) (captureSource, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("reading the file magic: %w", err)
	}
	magic := [4]byte(head)
	switch {
	case magic == magicPcapng:
		// Mixed link types: each interface is read with its own.
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		return ngSource{ng}, nil
	case magicPcap[magic]:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, err
		}
		return pcapSource{pr}, nil
	}
	return nil, fmt.Errorf("not a pcap or pcapng file (magic %x)", head)
}

type ngSource struct{ *pcapgo.NgReader }

func (s ngSource) link(i int) (layers.LinkType, string) {
	intf, err := s.Interface(i)
	if err != nil {
		return s.LinkType(), fmt.Sprint(i)
	}
	if intf.Name == "" {
		return intf.LinkType, fmt.Sprint(i)
	}
	return intf.LinkType, intf.Name
}

// pcapSource is a classic pcap file: one unnamed interface, named "0" like
// an unnamed pcapng interface, so both forms of a capture decode alike.
type pcapSource struct{ *pcapgo.Reader }

func (s pcapSource) link(int) (layers.LinkType, string) { return s.LinkType(), "0" }

// firstLayer is the gopacket decoder of a frame of link type lt.
func firstLayer(lt layers.LinkType) gopacket.Decoder {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2
	case layers.LinkTypeRaw, 12, 14:
		// LINKTYPE_RAW (101), and the DLT_RAW values 12 (most systems) and
		// 14 (OpenBSD) that old files carry; gopacket knows 12 or 14 only
		// for its own OS. IPv4 or IPv6 by the version nibble.
		return layers.LinkTypeRaw
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	}
	return lt
}

// decoder carries what decoding one frame learns for the next: ISAKMP
// exchange state (message positions, IV chains).
type decoder struct {
	keys *KeyLog
	ike  *ikeState
	esp  map[uint32]*espSA // TEKs keyed so far, by SPI
	// frags reassembles IPv4 fragments, one reassembler per link: the
	// same datagram captured on two links must not mix.
	frags map[string]*ip4defrag.IPv4Defragmenter
}

func newDecoder(keys *KeyLog) *decoder {
	return &decoder{keys: keys, ike: newIKEState(keys), esp: map[uint32]*espSA{}, frags: map[string]*ip4defrag.IPv4Defragmenter{}}
}

// fragmentTimeout is how long fragments wait for the rest of their
// datagram, capture time (Linux's ipfrag_time).
const fragmentTimeout = 30 * time.Second

// reassemble takes an IPv4 fragment of p's link: the whole datagram,
// decoded, once this fragment completes it, else nil.
func (d *decoder) reassemble(p *Packet, ip *layers.IPv4) (gopacket.Packet, error) {
	df := d.frags[p.Link]
	if df == nil {
		df = ip4defrag.NewIPv4Defragmenter()
		d.frags[p.Link] = df
	}
	df.DiscardOlderThan(p.Time.Add(-fragmentTimeout))
	whole, err := df.DefragIPv4WithTimestamp(ip, p.Time)
	if err != nil || whole == nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, whole, gopacket.Payload(whole.Payload)); err != nil {
		return nil, err
	}
	return gopacket.NewPacket(buf.Bytes(), layers.LayerTypeIPv4, gopacket.DecodeOptions{Lazy: true, NoCopy: true}), nil
}

func (d *decoder) decode(p *Packet, lt layers.LinkType) {
	pkt := gopacket.NewPacket(p.data, firstLayer(lt), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	switch l := pkt.LinkLayer().(type) {
	case *layers.Ethernet:
		p.Proto = l.EthernetType.String()
	case *layers.LinuxSLL:
		p.Proto = l.EthernetType.String()
	case *layers.LinuxSLL2:
		p.Proto = l.ProtocolType.String()
	}
	var ipPayload []byte
	var ipProto layers.IPProtocol
	switch {
	case pkt.Layer(layers.LayerTypeIPv4) != nil:
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		p.DSCP, p.TTL, p.Proto = ip.TOS>>2, ip.TTL, "IPv4"
		p.ip = tailFrom(p.data, ip.Contents)
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			// A GROUPKEY-PUSH or an announcement larger than the MTU
			// crosses as fragments: decode the datagram they make, on
			// the frame of the fragment that completes it.
			whole, err := d.reassemble(p, ip)
			switch {
			case err != nil:
				p.Malformed = "IPv4 fragment: " + err.Error()
				return
			case whole == nil:
				p.Proto = "IPv4 fragment"
				return
			}
			pkt, ip = whole, whole.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			p.ip, p.Reassembled = whole.Data(), true
		}
		ipPayload, ipProto = ip.Payload, ip.Protocol
	case pkt.Layer(layers.LayerTypeIPv6) != nil:
		ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		p.DSCP, p.TTL, p.Proto = ip.TrafficClass>>2, ip.HopLimit, "IPv6"
		p.ip = tailFrom(p.data, ip.Contents)
		ipPayload, ipProto = ip.Payload, ip.NextHeader
	default:
		if pkt.Layer(layers.LayerTypeARP) != nil {
			p.Proto = "ARP"
		}
		return
	}
	switch ipProto {
	case layers.IPProtocolESP:
		p.Proto = "ESP"
		d.decodeESP(p, ipPayload)
	case layers.IPProtocolUDP:
		p.Proto = "UDP"
		udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			p.Malformed = "UDP: truncated header"
			return
		}
		p.SrcPort, p.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
		if isISAKMPPort(p.SrcPort) || isISAKMPPort(p.DstPort) {
			p.Proto = "ISAKMP"
			var msg *isakmp.Message
			var err error
			if l, ok := pkt.Layer(LayerTypeISAKMP).(*ISAKMP); ok {
				msg = l.Message
			} else if el := pkt.ErrorLayer(); el != nil {
				err = el.Error()
			} else {
				// Only one port of the pair is ISAKMP's: gopacket chose
				// the layer by the other.
				msg, err = isakmp.ParseMessage(udp.Payload, gdoi.Decoder{Profile: gdoi.ProfileRFC, Next: coopwire.Decoder})
			}
			d.ike.decode(p, udp.Payload, msg, err)
		}
	case layers.IPProtocolTCP:
		p.Proto = "TCP"
	case layers.IPProtocolICMPv4:
		p.Proto = "ICMP"
	case layers.IPProtocolICMPv6:
		p.Proto = "ICMPv6"
	default:
		p.Proto = ipProto.String()
	}
}

// isISAKMPPort: GDOI runs on UDP 848 (RFC 6407), IKE on 500.
func isISAKMPPort(port uint16) bool { return port == 848 || port == 500 }

func (d *decoder) decodeESP(p *Packet, b []byte) {
	if len(b) < 8 {
		p.Malformed = fmt.Sprintf("ESP: %d octets, shorter than SPI and sequence number", len(b))
		return
	}
	e := &ESPInfo{
		SPI: uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]),
		Seq: uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]),
	}
	p.ESP = e
	k, ok := d.keys.ESPBySPI(e.SPI)
	if !ok {
		return
	}
	payload, next, err := d.openESP(k, b)
	if err != nil {
		e.DecryptError = err.Error()
		return
	}
	e.Decrypted, e.NextHeader, e.Payload = true, next, payload
	switch next {
	case 4: // IPv4 in tunnel mode
		inner := gopacket.NewPacket(payload, layers.LayerTypeIPv4, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		if ip, ok := inner.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			e.InnerSrc, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			e.InnerDst, _ = netip.AddrFromSlice(ip.DstIP.To4())
			e.InnerProto, e.InnerDSCP = uint8(ip.Protocol), ip.TOS>>2
		}
	case 41: // IPv6 in tunnel mode
		inner := gopacket.NewPacket(payload, layers.LayerTypeIPv6, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		if ip, ok := inner.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			e.InnerSrc, _ = netip.AddrFromSlice(ip.SrcIP)
			e.InnerDst, _ = netip.AddrFromSlice(ip.DstIP)
			e.InnerProto, e.InnerDSCP = uint8(ip.NextHeader), ip.TrafficClass>>2
		}
	}
}

// IPPacket returns the frame's (outer) IP packet, whatever the link layer
// in front of it, or nil for a frame that carries none. The slice aliases the
// capture's data and runs to the end of the frame (link-layer padding
// included); on a frame that completed a fragmented datagram
// (Reassembled) it is the whole datagram, rebuilt.
func (p *Packet) IPPacket() []byte {
	return p.ip
}

// tailFrom returns data from where sub, a slice of it, starts. NoCopy
// decoding makes every layer's Contents alias the frame: both share data's
// backing array, so the difference of their capacities is the offset.
func tailFrom(data, sub []byte) []byte {
	off := cap(data) - cap(sub)
	if off < 0 || off > len(data) {
		return nil
	}
	return data[off:]
}

// String is the packet's one-line summary, as `getlab pcap` prints it.
func (p *Packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5d %s %-10s ", p.Index, p.Time.Format("15:04:05.000000"), p.Link)
	if p.Src.IsValid() {
		src, dst := p.Src.String(), p.Dst.String()
		if p.SrcPort != 0 {
			src += fmt.Sprintf(":%d", p.SrcPort)
			dst += fmt.Sprintf(":%d", p.DstPort)
		}
		fmt.Fprintf(&b, "%s -> %s ", src, dst)
	}
	b.WriteString(p.Proto)
	switch {
	case p.ISAKMP != nil:
		b.WriteString(" " + p.ISAKMP.String())
	case p.ESP != nil:
		e := p.ESP
		fmt.Fprintf(&b, " spi=0x%08x seq=%d", e.SPI, e.Seq)
		if e.Decrypted {
			fmt.Fprintf(&b, " decrypted next=%d", e.NextHeader)
			if e.InnerSrc.IsValid() {
				fmt.Fprintf(&b, " inner %s -> %s proto %d dscp %d", e.InnerSrc, e.InnerDst, e.InnerProto, e.InnerDSCP)
			}
		} else if e.DecryptError != "" {
			b.WriteString(" NOT DECRYPTED: " + e.DecryptError)
		}
	}
	if p.Malformed != "" {
		b.WriteString(" MALFORMED: " + p.Malformed)
	}
	return b.String()
}

func hexString(b []byte) string { return hex.EncodeToString(b) }

// openESP decrypts an ESP packet with a TEK from the key log, with the
// bench's own ESP code (esp.go); the SA is keyed once per SPI.
func (d *decoder) openESP(k ESPKeys, packet []byte) ([]byte, uint8, error) {
	sa, ok := d.esp[k.SPI]
	if !ok {
		var err error
		if sa, err = newESPSA(k); err != nil {
			return nil, 0, err
		}
		d.esp[k.SPI] = sa
	}
	return sa.open(packet)
}
