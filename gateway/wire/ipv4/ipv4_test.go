package ipv4

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The header of Wikipedia's "IPv4 header checksum" example: checksum 0xb861.
const knownHeader = "450000730000400040110000c0a80001c0a800c7"

func TestChecksumKnownAnswer(t *testing.T) {
	b, _ := hex.DecodeString(knownHeader)
	if got := Checksum(b); got != 0xb861 {
		t.Fatalf("checksum %#04x, want 0xb861", got)
	}
	b[10], b[11] = 0xb8, 0x61
	if Checksum(b) != 0 {
		t.Fatal("checksum over an intact header is not 0")
	}
}

func TestWriteHeaderAgreesWithGopacket(t *testing.T) {
	h := Header{TOS: 0xb9, TotalLen: 20 + 8, ID: 0x1234, DF: true, TTL: 63, Protocol: ProtoUDP,
		Src: netip.MustParseAddr("198.51.100.10"), Dst: netip.MustParseAddr("203.0.113.10")}
	b := make([]byte, 28)
	WriteHeader(b, &h)
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	ip, ok := p.NetworkLayer().(*layers.IPv4)
	if !ok {
		t.Fatalf("gopacket does not see IPv4: %v", p)
	}
	if ip.TOS != 0xb9 || ip.Length != 28 || ip.Id != 0x1234 || ip.Flags != layers.IPv4DontFragment ||
		ip.TTL != 63 || ip.Protocol != layers.IPProtocolUDP || ip.SrcIP.String() != "198.51.100.10" || ip.DstIP.String() != "203.0.113.10" {
		t.Fatalf("gopacket reads %+v", ip)
	}
	// gopacket recomputes the checksum when serializing: it must equal ours.
	sb := gopacket.NewSerializeBuffer()
	ip.Checksum = 0
	if err := ip.SerializeTo(sb, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := sb.Bytes()[10:12], b[10:12]; string(got) != string(want) {
		t.Fatalf("checksum %x, gopacket %x", want, got)
	}
	if !HeaderOK(b) || !DF(b) || DSCP(b) != 0xb9>>2 || ECN(b) != 1 || TTL(b) != 63 {
		t.Fatal("accessors disagree with the header written")
	}
}

func TestParseFlow(t *testing.T) {
	b := make([]byte, 28)
	WriteHeader(b, &Header{TotalLen: 28, TTL: 64, Protocol: ProtoUDP,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")})
	b[20], b[21], b[22], b[23] = 0x03, 0x50, 0x01, 0xf4 // 848 > 500
	f, err := ParseFlow(b)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasPorts || f.SrcPort != 848 || f.DstPort != 500 || f.Protocol != ProtoUDP || f.Src.String() != "10.0.0.1" {
		t.Fatalf("flow %v", f)
	}
	// A non-first fragment has no ports.
	b[6], b[7] = 0x00, 0x10
	if f, _ := ParseFlow(b); f.HasPorts {
		t.Fatalf("non-first fragment has ports: %v", f)
	}
	if !IsFragment(b) || FragmentOffset(b) != 128 {
		t.Fatal("fragment offset")
	}
}

func TestCheckRejects(t *testing.T) {
	good := make([]byte, 24)
	WriteHeader(good, &Header{TotalLen: 24, Protocol: 1, Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified()})
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", good[:10], ErrShort},
		{"IPv6", append([]byte{0x60}, good[1:]...), ErrVersion},
		{"IHL beyond packet", append([]byte{0x4f}, good[1:]...), ErrShort},
		{"IHL below 5", append([]byte{0x44}, good[1:]...), ErrShort},
		{"total length", good[:22], ErrLength},
	} {
		if _, err := Check(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Check(good); err != nil {
		t.Fatal(err)
	}
}

func TestSetECN(t *testing.T) {
	b := make([]byte, 20)
	WriteHeader(b, &Header{TOS: 0xb8 | 2, TotalLen: 20, Protocol: 1, Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified()})
	SetECN(b, CE)
	if ECN(b) != CE || DSCP(b) != 0xb8>>2 || !HeaderOK(b) {
		t.Fatalf("tos %#x ok %v", TOS(b), HeaderOK(b))
	}
}

func FuzzParseFlow(f *testing.F) {
	b, _ := hex.DecodeString(knownHeader)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if fl, err := ParseFlow(b); err == nil && !fl.Src.Is4() {
			t.Fatal("flow without IPv4 source")
		}
	})
}
