package gdoi

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// gdoidSAT is the first SAT of a-plain-kekaes frame 8 (gdoid's PULL 2, the
// corpus in /work/shared/interop/gdoid), up to and including its SPI: ESP,
// any protocol, SRC 10.77.0.11 and DST 239.1.1.1 as host-order
// ID_IPV4_ADDRs with 1-octet lengths, transform 3 (3DES).
const gdoidSAT = "01 00 | 01 0000 04 0b004d0a | 01 0000 04 010101ef | 03 | 3940baba"

func satFor(src, dst string) *SAT {
	return &SAT{
		ProtocolID: TEKProtoESP, TransformID: 3, SPI: 0x3940baba,
		Src: PrefixID(netip.MustParsePrefix(src), 0), Dst: PrefixID(netip.MustParsePrefix(dst), 0),
	}
}

// TestProfileSATSelectors shows each selector switch on the wire.
func TestProfileSATSelectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Profile
		want string
	}{
		// RFC: /32 subnets, 2-octet lengths, network order.
		{"rfc", ProfileRFC, "01 00 | 04 0000 0008 0a4d000b ffffffff | 04 0000 0008 ef010101 ffffffff | 03 | 3940baba"},
		// SATSingleAddr + SATIDLen1, network order (gdoid "rfcwire").
		{"gdoid-rfcwire", ProfileGdoidRFCWire, "01 00 | 01 0000 04 0a4d000b | 01 0000 04 ef010101 | 03 | 3940baba"},
		// ... and host order: exactly gdoid's own octets.
		{"gdoid", ProfileGdoid, gdoidSAT},
		// Host order alone reverses address and mask of a subnet.
		{"host order, subnet", Profile{SATAddrHostOrder: true}, "01 00 | 04 0000 0008 0b004d0a ffffffff | 04 0000 0008 010101ef ffffffff | 03 | 3940baba"},
	} {
		s := satFor("10.77.0.11/32", "239.1.1.1/32")
		tc.p.Apply(s)
		if got, want := s.Append(nil), hx(tc.want); !bytes.Equal(got, want) {
			t.Errorf("%s: SAT\n got %x\nwant %x", tc.name, got, want)
		}
	}
	// A real subnet stays a subnet under SATSingleAddr.
	s := satFor("10.0.0.0/8", "239.1.1.1/32")
	ProfileGdoidRFCWire.Apply(s)
	if s.Src.IDType != isakmp.IDIPv4AddrSubnet || s.Dst.IDType != isakmp.IDIPv4Addr {
		t.Errorf("SRC %s DST %s: want a subnet and an address", s.Src, s.Dst)
	}
}

// TestProfileReadsGdoidSAT: gdoid's SAT parses under ProfileGdoid (strict)
// and its addresses mean 10.77.0.11 and 239.1.1.1 once SATAddr maps them.
func TestProfileReadsGdoidSAT(t *testing.T) {
	p := ProfileGdoid
	p.Strict = true
	body := append(hx(gdoidSAT), hx("80 01 00 01")...)
	v, _, err := parseSAT(body, p)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := v.Src.Addr()
	dst, _ := v.Dst.Addr()
	if got := p.SATAddr(src); got != netip.MustParseAddr("10.77.0.11") {
		t.Errorf("src %s", got)
	}
	if got := p.SATAddr(dst); got != netip.MustParseAddr("239.1.1.1") {
		t.Errorf("dst %s", got)
	}
	if got := ProfileGdoidRFCWire.SATAddr(dst); got != dst {
		t.Errorf("rfcwire maps %s to %s", dst, got)
	}
}

// TestProfileKeyID: group 1234 as gdoid's plain config writes it
// (d2040000, a-plain-kekaes frame 7) and as the RFC does (000004d2).
func TestProfileKeyID(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		want string
	}{{ProfileRFC, "000004d2"}, {ProfileGdoidRFCWire, "000004d2"}, {ProfileGdoid, "d2040000"}} {
		id := isakmp.NewGroupID(tc.p.KeyIDWire(1234))
		if got := id.Data; !bytes.Equal(got, hx(tc.want)) {
			t.Errorf("%s: KEY_ID %x, want %s", tc.p.Name, got, tc.want)
		}
		g, err := id.Group()
		if err != nil || tc.p.KeyIDWire(g) != 1234 {
			t.Errorf("%s: reads back %d (%v)", tc.p.Name, tc.p.KeyIDWire(g), err)
		}
	}
}
