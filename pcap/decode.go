package pcap

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/gopacket/gopacket"
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

	data []byte
}

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

// ReadFile decodes every frame of a pcapng (or pcap) file. keys may be nil.
func ReadFile(path string, keys *KeyLog) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	defer f.Close()
	return Read(f, keys)
}

// Read decodes every frame of a pcapng stream.
func Read(r io.Reader, keys *KeyLog) ([]Packet, error) {
	ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	if keys == nil {
		keys = &KeyLog{}
	}
	d := newDecoder(keys)
	var pkts []Packet
	for i := 1; ; i++ {
		data, ci, err := ng.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pkts, fmt.Errorf("pcap: frame %d: %w", i, err)
		}
		link := fmt.Sprint(ci.InterfaceIndex)
		if intf, err := ng.Interface(ci.InterfaceIndex); err == nil && intf.Name != "" {
			link = intf.Name
		}
		p := Packet{Index: i, Time: ci.Timestamp, Link: link, data: data}
		d.decode(&p)
		pkts = append(pkts, p)
	}
	return pkts, nil
}

// decoder carries what decoding one frame learns for the next: ISAKMP
// exchange state (message positions, IV chains).
type decoder struct {
	keys *KeyLog
	ike  *ikeState
	esp  map[uint32]*esp.Cipher // TEK ciphers built so far, by SPI
}

func newDecoder(keys *KeyLog) *decoder {
	return &decoder{keys: keys, ike: newIKEState(keys), esp: map[uint32]*esp.Cipher{}}
}

func (d *decoder) decode(p *Packet) {
	pkt := gopacket.NewPacket(p.data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	if eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
		p.Proto = eth.EthernetType.String()
	}
	var ipPayload []byte
	var ipProto layers.IPProtocol
	switch {
	case pkt.Layer(layers.LayerTypeIPv4) != nil:
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		p.DSCP, p.TTL, p.Proto = ip.TOS>>2, ip.TTL, "IPv4"
		ipPayload, ipProto = ip.Payload, ip.Protocol
	case pkt.Layer(layers.LayerTypeIPv6) != nil:
		ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		p.DSCP, p.TTL, p.Proto = ip.TrafficClass>>2, ip.HopLimit, "IPv6"
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
				msg, err = isakmp.ParseMessage(udp.Payload, gdoi.Decoder{Profile: gdoi.ProfileRFC})
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

// IPPacket returns the frame's IP packet (the Ethernet payload), or nil for
// a frame that carries none. The slice aliases the capture's data.
func (p *Packet) IPPacket() []byte {
	if len(p.data) < 14 {
		return nil
	}
	switch uint16(p.data[12])<<8 | uint16(p.data[13]) {
	case 0x0800, 0x86dd:
		return p.data[14:]
	}
	return nil
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

// openESP decrypts an ESP packet with a TEK from the key log; the cipher
// is built once per SPI.
func (d *decoder) openESP(k ESPKeys, packet []byte) ([]byte, uint8, error) {
	c, ok := d.esp[k.SPI]
	if !ok {
		var err error
		if c, err = esp.NewCipher(k.Transform, k.Key, k.AuthKey); err != nil {
			return nil, 0, err
		}
		d.esp[k.SPI] = c
	}
	return c.Open(nil, packet)
}
