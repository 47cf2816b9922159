package isakmp

import (
	"net/netip"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
)

// Every payload of this package: a hand-written body, the value it decodes
// to, both directions exact, then the generic round trip.
func TestPayloadVectors(t *testing.T) {
	for _, c := range []struct {
		name  string
		parse bodyParser
		body  string
		want  Payload
	}{
		{"KE", adapt(parseData[KE]), "0102030405060708", &KE{Data: hx("0102030405060708")}},
		{"ID IPv4", adapt(parseID), "01 00 0000 c0000201", &ID{IDType: IDIPv4Addr, Data: hx("c0000201")}},
		{"ID subnet", adapt(parseID), "04 11 0350 0a000000 ffffff00",
			&ID{IDType: IDIPv4AddrSubnet, Protocol: 17, Port: 848, Data: hx("0a000000ffffff00")}},
		{"ID FQDN", adapt(parseID), "02 00 0000 6b73312e6578616d706c65", &ID{IDType: IDFQDN, Data: []byte("ks1.example")}},
		{"ID KEY_ID group 1234", adapt(parseID), "0b 00 0000 000004d2", &ID{IDType: IDKeyID, Data: hx("000004d2")}},
		{"ID empty data", adapt(parseID), "0b 00 0000", &ID{IDType: IDKeyID}},
		{"CERT", adapt(parseCert), "04 3082", &Cert{Encoding: CertX509Signature, Data: hx("3082")}},
		{"CR", adapt(parseCertRequest), "04", &CertRequest{Encoding: CertX509Signature}},
		{"CR authority", adapt(parseCertRequest), "04 3000", &CertRequest{Encoding: CertX509Signature, Authority: hx("3000")}},
		{"HASH", adapt(parseData[Hash]), "aabbccdd", &Hash{Data: hx("aabbccdd")}},
		{"SIG", adapt(parseData[Signature]), "0102", &Signature{Data: hx("0102")}},
		{"NONCE", adapt(parseData[Nonce]), "000102030405060708090a0b0c0d0e0f", &Nonce{Data: hx("000102030405060708090a0b0c0d0e0f")}},
		{"NONCE empty", adapt(parseData[Nonce]), "", &Nonce{}},
		{"VID", adapt(parseData[VendorID]), "4048b7d56ebce885", &VendorID{Data: hx("4048b7d56ebce885")}},
		// INVALID-ID-INFORMATION (18) in the GDOI DOI, ISAKMP protocol,
		// 16-octet SPI (the cookies).
		{"N with SPI", adapt(parseNotification), "00000002 01 10 0012 00112233445566778899aabbccddeeff",
			&Notification{DOI: DOIGDOI, ProtocolID: ProtoISAKMP, MessageType: NotifyInvalidIDInformation,
				SPI: hx("00112233445566778899aabbccddeeff")}},
		// AUTHENTICATION-FAILED (24), no SPI, 2 octets of data.
		{"N with data", adapt(parseNotification), "00000001 01 00 0018 beef",
			&Notification{DOI: DOIIPsec, ProtocolID: ProtoISAKMP, MessageType: NotifyAuthenticationFailed, Data: hx("beef")}},
		// Delete of two TEKs (ESP, 4-octet SPIs) in the GDOI DOI.
		{"D TEKs", adapt(parseDelete), "00000002 03 04 0002 0000a5f8 0000a5f9",
			&Delete{DOI: DOIGDOI, ProtocolID: ProtoIPsecESP, SPISize: 4, SPIs: [][]byte{hx("0000a5f8"), hx("0000a5f9")}}},
		{"D KEK", adapt(parseDelete), "00000002 01 10 0001 0102030405060708 1112131415161718",
			&Delete{DOI: DOIGDOI, ProtocolID: ProtoISAKMP, SPISize: 16, SPIs: [][]byte{hx("01020304050607081112131415161718")}}},
		{"D none", adapt(parseDelete), "00000002 03 04 0000", &Delete{DOI: DOIGDOI, ProtocolID: ProtoIPsecESP, SPISize: 4}},
		{"D zero-size, none", adapt(parseDelete), "00000002 03 00 0000", &Delete{DOI: DOIGDOI, ProtocolID: ProtoIPsecESP}},
		{"NAT-D raw", func(b []byte) (Payload, int, error) { return parseRaw(PayloadNATD, b) },
			"0102030405060708090a0b0c0d0e0f1011121314", &Raw{Kind: PayloadNATD, Body: hx("0102030405060708090a0b0c0d0e0f1011121314")}},
		{"SA", adapt(parseSA), "00000001 00000001", &SA{DOI: DOIIPsec, Situation: SitIdentityOnly}},
	} {
		t.Run(c.name, func(t *testing.T) {
			exact(t, c.parse, hx(c.body), c.want)
			// The default decoder gives the same value.
			p, err := DefaultDecoder.DecodePayload(DecodeContext{}, c.want.Type(), hx(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if p.Type() != c.want.Type() {
				t.Fatalf("DefaultDecoder gave %s", p.Type())
			}
		})
	}
}

func TestPayloadErrors(t *testing.T) {
	wiretest.Errors(t, parseID, []wiretest.ErrCase{
		{Name: "ID short", Body: "010000", Kind: ErrShort, Msg: "ID type, protocol and port needs 4 octets, 3 remaining"},
	})
	wiretest.Errors(t, parseCert, []wiretest.ErrCase{
		{Name: "CERT empty", Body: "", Kind: ErrShort, Msg: "certificate encoding needs 1 octet, 0 remaining"},
	})
	wiretest.Errors(t, parseCertRequest, []wiretest.ErrCase{
		{Name: "CR empty", Body: "", Kind: ErrShort, Msg: "certificate type needs 1 octet"},
	})
	wiretest.Errors(t, parseNotification, []wiretest.ErrCase{
		{Name: "N short", Body: "00000001 01 00 00", Kind: ErrShort, Msg: "needs 8 octets, 7 remaining"},
		{Name: "N SPI", Body: "00000001 01 10 0018 0102", Kind: ErrLength, Msg: "SPI size 16 exceeds 2 remaining"},
	})
	wiretest.Errors(t, parseDelete, []wiretest.ErrCase{
		{Name: "D short", Body: "00000002 03 04", Kind: ErrShort, Msg: "needs 8 octets, 6 remaining"},
		{Name: "D count", Body: "00000002 03 04 0002 0000a5f8", Kind: ErrLength, Msg: "2 SPIs of 4 octets need 8 octets, 4 remaining"},
		{Name: "D extra", Body: "00000002 03 04 0001 0000a5f8 00", Kind: ErrLength, Msg: "1 SPIs of 4 octets need 4 octets, 5 remaining"},
		{Name: "D zero-size SPIs", Body: "00000002 03 00 0002", Kind: ErrUnsupported, Msg: "2 SPIs of 0 octets"},
	})
}

func TestChecks(t *testing.T) {
	if err := CheckPayloads(&Notification{SPI: make([]byte, 300)}); err == nil {
		t.Error("Notification SPI of 300 octets")
	}
	if err := CheckPayloads(&Delete{SPISize: 4, SPIs: [][]byte{{1, 2}}}); err == nil {
		t.Error("Delete SPI of the wrong size")
	}
	if err := CheckPayloads(&Hash{Data: make([]byte, 65532)}); err == nil {
		t.Error("payload of 65536 octets")
	}
	if err := CheckPayloads(&Hash{Data: make([]byte, 65531)}); err != nil {
		t.Errorf("payload of 65535 octets: %v", err)
	}
}

func TestIDHelpers(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	id := NewAddrID(a)
	if got, err := id.Addr(); err != nil || got != a {
		t.Fatalf("Addr %v %v", got, err)
	}
	if p, err := id.Prefix(); err != nil || p.String() != "192.0.2.1/32" {
		t.Fatalf("Prefix of an address: %v %v", p, err)
	}
	if s := id.String(); s != "ID_IPV4_ADDR 192.0.2.1" {
		t.Fatal(s)
	}
	if id6 := NewAddrID(netip.MustParseAddr("2001:db8::1")); id6.IDType != IDIPv6Addr || len(id6.Data) != 16 {
		t.Fatalf("IPv6 %v", id6)
	}
	if id4 := NewAddrID(netip.MustParseAddr("::ffff:192.0.2.1")); id4.IDType != IDIPv4Addr {
		t.Fatalf("mapped %v", id4)
	}

	for _, s := range []string{"10.0.0.0/8", "10.1.2.0/23", "0.0.0.0/0", "192.0.2.7/32", "2001:db8::/32", "2001:db8::1/128"} {
		p := netip.MustParsePrefix(s)
		id := NewPrefixID(p)
		got, err := id.Prefix()
		if err != nil || got != p {
			t.Errorf("%s: %v %v (data %x)", s, got, err, id.Data)
		}
	}
	// Host bits are kept.
	if id := NewPrefixID(netip.MustParsePrefix("10.1.2.3/24")); id.String() != "ID_IPV4_ADDR_SUBNET 10.1.2.3/24" {
		t.Error(id)
	}
	if _, err := (&ID{IDType: IDIPv4AddrSubnet, Data: hx("0a000000 ff00ff00")}).Prefix(); err == nil {
		t.Error("non-contiguous mask accepted")
	}
	if _, err := (&ID{IDType: IDIPv4AddrSubnet, Data: hx("0a000000")}).Prefix(); err == nil {
		t.Error("short subnet accepted")
	}

	lo, hi := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9")
	typ, d := RangeData(lo, hi)
	r := &ID{IDType: typ, Data: d}
	if l, h, err := r.Range(); err != nil || l != lo || h != hi || typ != IDIPv4AddrRange {
		t.Errorf("Range %v %v %v", l, h, err)
	}

	f := NewFQDNID("ks1.example")
	if s, err := f.FQDN(); err != nil || s != "ks1.example" {
		t.Error(s, err)
	}
	if _, err := f.Addr(); err == nil {
		t.Error("FQDN as address")
	}
	g := NewGroupID(1234)
	if n, err := g.Group(); err != nil || n != 1234 || g.String() != "ID_KEY_ID 000004d2" {
		t.Errorf("Group %d %v %s", n, err, g)
	}
	if k, err := NewKeyID([]byte("grp")).KeyID(); err != nil || string(k) != "grp" {
		t.Error(k, err)
	}
	if _, err := f.KeyID(); err == nil {
		t.Error("FQDN as KEY_ID")
	}
	p := &ID{IDType: IDIPv4Addr, Protocol: 17, Port: 848, Data: hx("c0000201")}
	if s := p.String(); s != "ID_IPV4_ADDR 192.0.2.1 proto 17 port 848" {
		t.Error(s)
	}
}
