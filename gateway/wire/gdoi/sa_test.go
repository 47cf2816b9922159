package gdoi

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A GDOI SA body in the RFC form (ProfileRFC), as a KS sends it in
// GROUPKEY-PULL message 2: SAK, GAP, SAT.
//
// SAK: rekeys over UDP from 192.0.2.1 to 239.192.0.1 port 848, KEK SPI
// 0102..08|1112..18, AES-128 KEK, lifetime 86400 s (4-octet TLV), RSA
// signatures with SHA-256 and a 4096-bit key. SRC/DST ID Data Len 1 octet.
//
// GAP: ATD 60 s, DTD 90 s.
//
// SAT: ESP, any protocol, 10.0.0.0/24 -> 10.0.1.0/24, transform 20
// (AES-GCM-16), SPI 0x0000a5f8, lifetime 3600 s, tunnel, 256-bit key.
// SRC/DST ID Data Len 2 octets.
var gdoiSABody = slices.Concat(hx(`
	00000002 | 00000000 | 000f 0000 |
	16 00 0045 |
		11 |
		01 0000 04 c0000201 |
		01 0350 04 efc00001 |
		0102030405060708 1112131415161718 |
		00000000 |
		8002 0003 | 8003 0080 | 0004 0004 00015180 | 8005 0003 | 8006 0001 | 8007 1000 |`),
	rfcGAPAndSAT)

// The GAP and SAT payloads of gdoiSABody. TrustCore's form differs from the
// RFC form in the SAK only, so its vector ends with the same octets.
var rfcGAPAndSAT = hx(`
	10 00 000c |
		8001 003c | 8002 005a |
	00 00 0039 |
		01 00 |
		04 0000 0008 0a000000 ffffff00 |
		04 0000 0008 0a000100 ffffff00 |
		14 | 0000a5f8 |
		8001 0001 | 0002 0004 00000e10 | 8004 0001 | 8006 0100`)

var (
	testSAK = &SAK{
		Protocol: 17,
		Src:      ID{IDType: isakmp.IDIPv4Addr, Data: hx("c0000201")},
		Dst:      ID{IDType: isakmp.IDIPv4Addr, Port: 848, Data: hx("efc00001")},
		SPI:      [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18},
		Attributes: isakmp.Attributes{
			isakmp.BasicAttr(KEKAlgorithm, uint16(KEKAlgAES)),
			isakmp.BasicAttr(KEKKeyLength, 128),
			isakmp.UintAttr(KEKKeyLifetime, 86400),
			isakmp.BasicAttr(SigHashAlgorithm, uint16(SigHashSHA256)),
			isakmp.BasicAttr(SigAlgorithm, uint16(SigAlgRSA)),
			isakmp.BasicAttr(SigKeyLength, 4096),
		},
	}
	testGAP = &GAP{Attributes: isakmp.Attributes{
		isakmp.BasicAttr(ActivationTimeDelay, 60),
		isakmp.BasicAttr(DeactivationTimeDelay, 90),
	}}
	testSAT = &SAT{
		ProtocolID:  TEKProtoESP,
		Src:         PrefixID(netip.MustParsePrefix("10.0.0.0/24"), 0),
		Dst:         PrefixID(netip.MustParsePrefix("10.0.1.0/24"), 0),
		TransformID: 20,
		SPI:         0xa5f8,
		Attributes: isakmp.Attributes{
			isakmp.BasicAttr(SALifeType, uint16(SALifeSeconds)),
			{Type: SALifeDuration, Data: hx("00000e10")},
			isakmp.BasicAttr(EncapsulationMode, uint16(EncapTunnel)),
			isakmp.BasicAttr(KeyLength, 256),
		},
	}
	testSA = NewSA(testSAK, testGAP, testSAT)
)

func TestGDOISAVector(t *testing.T) {
	exact(t, saParser(ProfileRFC), gdoiSABody, testSA)
	if got := isakmp.Layout([]isakmp.Payload{testSA}); got != "SA(SAK,GAP,SAT)" {
		t.Fatalf("Layout %q", got)
	}
	if testSA.SAK() != testSAK || testSA.GAP() != testGAP || len(testSA.SATs()) != 1 {
		t.Fatal("accessors")
	}
	if atd, _ := testGAP.ATD(); atd != 60 {
		t.Fatal(atd)
	}
	if dtd, _ := testGAP.DTD(); dtd != 90 {
		t.Fatal(dtd)
	}
	if _, ok := testGAP.SenderIDs(); ok {
		t.Fatal("SenderIDs")
	}
	if lt, _ := testSAK.Attributes.Uint(KEKKeyLifetime); lt != 86400 {
		t.Fatal(lt)
	}
	if p, err := testSAT.Src.Prefix(); err != nil || p.String() != "10.0.0.0/24" {
		t.Fatal(p, err)
	}
	if testSAT.AddressPreservation() != AddrPreserveSrcDst || testSAT.Direction() != SADirSymmetric {
		t.Fatal("defaults")
	}
	// Every profile decodes the RFC form (the fallback), except a strict
	// gdoid one.
	for _, p := range Profiles {
		got, _, err := saParser(p)(gdoiSABody)
		if err != nil || !reflect.DeepEqual(got, testSA) {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	strict := ProfileGdoid
	strict.Strict = true
	_, _, err := saParser(strict)(gdoiSABody)
	wantErr(t, err, nil, "SAK payload at offset 12")
}

// The same SA as gdoid writes it: 1-octet ID lengths in the SAT too, and two
// octets after the SAK's RESERVED2.
var gdoidSABody = hx(`
	00000002 | 00000000 | 000f 0000 |
	16 00 0047 |
		11 |
		01 0000 04 c0000201 |
		01 0350 04 efc00001 |
		0102030405060708 1112131415161718 |
		00000000 | 0000 |
		8002 0003 | 8003 0080 | 0004 0004 00015180 | 8005 0003 | 8006 0001 | 8007 1000 |
	10 00 000c |
		8001 003c | 8002 005a |
	00 00 0037 |
		01 00 |
		04 0000 08 0a000000 ffffff00 |
		04 0000 08 0a000100 ffffff00 |
		14 | 0000a5f8 |
		8001 0001 | 0002 0004 00000e10 | 8004 0001 | 8006 0100`)

// TrustCore's: 2-octet ID lengths in the SAK as in the SAT.
var trustCoreSABody = slices.Concat(hx(`
	00000002 | 00000000 | 000f 0000 |
	16 00 0047 |
		11 |
		01 0000 0004 c0000201 |
		01 0350 0004 efc00001 |
		0102030405060708 1112131415161718 |
		00000000 |
		8002 0003 | 8003 0080 | 0004 0004 00015180 | 8005 0003 | 8006 0001 | 8007 1000 |`),
	rfcGAPAndSAT)

func TestProfiles(t *testing.T) {
	for _, c := range []struct {
		profile Profile
		body    []byte
	}{
		// The byte-order switches of ProfileGdoid are not forms (see
		// TestProfileSATSelectors); its rfcwire variant has gdoid's forms.
		{ProfileGdoidRFCWire, gdoidSABody},
		{ProfileTrustCore, trustCoreSABody},
	} {
		t.Run(c.profile.Name, func(t *testing.T) {
			// The value: the RFC one with the profile's forms.
			want := &SA{DOI: 2, Payloads: []isakmp.Payload{cloneSAK(testSAK), testGAP, cloneSAT(testSAT)}}
			c.profile.Apply(want)
			// Encoding with the profile gives the implementation's octets.
			if enc := want.Append(nil); !bytes.Equal(enc, c.body) {
				t.Fatalf("encode:\n got %x\nwant %x", enc, c.body)
			}
			// Its own profile decodes it directly, strictly too.
			strict := c.profile
			strict.Strict = true
			exact(t, saParser(strict), c.body, want)
			// Any other profile finds the form and records it.
			for _, p := range Profiles {
				got, _, err := saParser(p)(c.body)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("decoded with %s: %v\n%#v", p.Name, err, got)
				}
			}
			// The RFC profile, strict, rejects it.
			rfc := ProfileRFC
			rfc.Strict = true
			if _, _, err := saParser(rfc)(c.body); err == nil {
				t.Error("strict RFC profile accepted it")
			}
			// Applying the RFC profile gives the RFC octets back.
			ProfileRFC.Apply(want)
			if enc := want.Append(nil); !bytes.Equal(enc, gdoiSABody) {
				t.Errorf("RFC form:\n got %x\nwant %x", enc, gdoiSABody)
			}
		})
	}
	if p, ok := ProfileByName("gdoid"); !ok || p != ProfileGdoid {
		t.Fatal("ProfileByName")
	}
	if _, ok := ProfileByName("cisco"); ok {
		t.Fatal("unknown profile")
	}
}

func cloneSAK(s *SAK) *SAK { c := *s; return &c }
func cloneSAT(s *SAT) *SAT { c := *s; return &c }

func TestSAKForms(t *testing.T) {
	// A decoded gdoid SAK keeps the two extra octets' value.
	body := hx(`11 01 0000 00 01 0350 00 ` + "0102030405060708 1112131415161718" + ` 00000000 0007 8002 0003`)
	s, _, err := parseSAK(body, ProfileGdoid)
	if err != nil {
		t.Fatal(err)
	}
	if !s.ExtraPOPKeyLen || s.POPKeyLen != 7 || s.IDLen2 || len(s.Attributes) != 1 {
		t.Fatalf("%+v", s)
	}
	roundTrip(t, withProfile(parseSAK, ProfileRFC), body)
	// Reserved2 is kept as received.
	body = hx(`11 01 0000 00 01 0350 00 ` + "0102030405060708 1112131415161718" + ` 00010002 8002 0003`)
	s, _, err = parseSAK(body, ProfileRFC)
	if err != nil || s.Reserved2 != 0x00010002 {
		t.Fatalf("%v %+v", err, s)
	}
	roundTrip(t, withProfile(parseSAK, ProfileRFC), body)
}

func TestSATOtherProtocol(t *testing.T) {
	// Protocol-ID 161 (IEC 61850-90-5 in gdoid) is kept raw.
	exact(t, withProfile(parseSAT, ProfileRFC), hx("a1 00010203"), &SAT{ProtocolID: 161, Body: hx("00010203")})
	exact(t, withProfile(parseSAT, ProfileRFC), hx("80"), &SAT{ProtocolID: 128})
	if s := TEKProtocol(161).String(); s != "TEK-PROTO-161" {
		t.Fatal(s)
	}
	// AH is decoded like ESP.
	ah := &SAT{ProtocolID: TEKProtoAH, Protocol: 6, Src: AddrID(netip.MustParseAddr("10.0.0.1"), 80),
		Dst: AddrID(netip.MustParseAddr("10.0.0.2"), 0), TransformID: 5, SPI: 7,
		Attributes: isakmp.Attributes{isakmp.BasicAttr(AddressPreservation, uint16(AddrPreserveNone)), isakmp.BasicAttr(SADirection, uint16(SADirSenderOnly))}}
	got := roundTrip(t, withProfile(parseSAT, ProfileRFC), ah.Append(nil))
	if !reflect.DeepEqual(got, ah) {
		t.Fatalf("%#v", got)
	}
	if ah.AddressPreservation() != AddrPreserveNone || ah.Direction() != SADirSenderOnly {
		t.Fatal("attributes")
	}
	if s := ah.Src.String(); s != "ID_IPV4_ADDR 10.0.0.1 port 80" {
		t.Fatal(s)
	}
}

func TestNestedRaw(t *testing.T) {
	// A nested payload other than SAK/GAP/SAT is kept raw.
	sa := NewSA(&isakmp.Raw{Kind: isakmp.PayloadPOP, Body: hx("0102")}, testSAT)
	got := roundTrip(t, saParser(ProfileRFC), sa.Append(nil))
	if !reflect.DeepEqual(got, sa) {
		t.Fatalf("%#v", got)
	}
	if l := isakmp.Layout([]isakmp.Payload{got}); l != "SA(POP,SAT)" {
		t.Fatal(l)
	}
	// An SA with no nested payload.
	exact(t, saParser(ProfileRFC), hx("00000002 00000000 0000 0000"), NewSA())
}

func TestSAErrors(t *testing.T) {
	wiretest.Errors(t, saParser(ProfileRFC), []wiretest.ErrCase{
		{Name: "short", Body: "00000002 00000000 000f", Kind: isakmp.ErrShort, Msg: "need 12 octets, 10 remaining"},
		{Name: "next attribute payload", Body: "00000002 00000000 0f00 0000", Kind: isakmp.ErrChain, Msg: "SA attribute next payload 3840 is not a payload type"},
		{Name: "announced, none present", Body: "00000002 00000000 0010 0000", Kind: isakmp.ErrChain,
			Msg: "SAT payload at offset 12: payload announced, but no octets remain"},
		{Name: "nested length beyond SA", Body: "00000002 00000000 0010 0000 00 00 0040 01 00", Kind: isakmp.ErrLength,
			Msg: "SAT payload at offset 12: payload length 64 exceeds 6 remaining"},
		{Name: "nested length below 4", Body: "00000002 00000000 0016 0000 00 00 0002 01 00", Kind: isakmp.ErrLength,
			Msg: "GAP payload at offset 12: payload length 2 smaller than the 4-octet generic header"},
		{Name: "chain ends early", Body: "00000002 00000000 0016 0000 00 00 0008 8001 003c 00000000", Kind: isakmp.ErrChain,
			Msg: "GAP payload at offset 12: next payload NONE but 4 octets follow the payload"},
		{Name: "chain continues past the SA", Body: "00000002 00000000 0016 0000 10 00 0008 8001 003c", Kind: isakmp.ErrChain,
			Msg: "SAT payload at offset 20: payload announced, but no octets remain"},
		{Name: "nothing announced", Body: "00000002 00000000 0000 0000 00000004", Kind: isakmp.ErrChain,
			Msg: "payload chain at offset 12: first payload NONE but 4 octets follow"},
		{Name: "GAP attribute overflow", Body: "00000002 00000000 0016 0000 00 00 000c 8001 003c 0002 0009", Kind: isakmp.ErrLength,
			Msg: "GAP payload at offset 12: attribute length 9 exceeds 0 remaining"},
		{Name: "SAT SRC ID overflow", Body: "00000002 00000000 0010 0000 00 00 000b 01 00 04 0000 0100", Kind: isakmp.ErrLength,
			Msg: "SAT payload at offset 12: SRC ID: ID data length 256 exceeds 0 remaining"},
		{Name: "SAT short", Body: "00000002 00000000 0010 0000 00 00 0004", Kind: isakmp.ErrShort,
			Msg: "SAT payload at offset 12: protocol-ID needs 1 octet, 0 remaining"},
		{Name: "SAT SPI cut", Body: "00000002 00000000 0010 0000 00 00 001b 01 00 01 0000 0004 c0000201 01 0000 0004 c0000202 14 0000", Kind: isakmp.ErrShort,
			Msg: "SAT payload at offset 12: transform ID and SPI need 5 octets, 3 remaining"},
		{Name: "SAK short", Body: "00000002 00000000 000f 0000 00 00 0004", Kind: isakmp.ErrShort,
			Msg: "SAK payload at offset 12: protocol needs 1 octet, 0 remaining"},
		{Name: "SAK SPI cut", Body: "00000002 00000000 000f 0000 00 00 000f 11 01 0000 00 01 0350 00 0102", Kind: isakmp.ErrShort,
			Msg: "SAK payload at offset 12: SPI and RESERVED2 need 20 octets, 2 remaining"},
		{Name: "SAK DST ID cut", Body: "00000002 00000000 000f 0000 00 00 000c 11 01 0000 00 01 0350", Kind: isakmp.ErrShort,
			Msg: "SAK payload at offset 12: DST ID: ID type, port and data length need 4 octets, 3 remaining"},
	})
}

func TestChecks(t *testing.T) {
	long := ID{IDType: isakmp.IDFQDN, Data: make([]byte, 300)}
	if err := isakmp.CheckPayloads(NewSA(&SAK{Src: long})); err == nil {
		t.Error("SAK with 300 octets of 1-octet-length ID data")
	}
	if err := isakmp.CheckPayloads(NewSA(&SAK{Src: long, IDLen2: true})); err != nil {
		t.Error(err)
	}
	if err := isakmp.CheckPayloads(&SAT{ProtocolID: TEKProtoESP, Dst: long, IDLen1: true}); err == nil {
		t.Error("SAT with 300 octets of 1-octet-length ID data")
	}
	if err := isakmp.CheckPayloads(&SAT{ProtocolID: TEKProtoESP, Dst: long}); err != nil {
		t.Error(err)
	}
	if err := isakmp.CheckPayloads(&GAP{Attributes: isakmp.Attributes{isakmp.BasicAttr(0x8000, 0)}}); err == nil {
		t.Error("GAP attribute type")
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{KEKAttrName(KEKAlgorithm), "KEK_ALGORITHM"},
		{KEKAttrName(99), "ATTR-99"},
		{SAAttrName(AddressPreservation), "ADDRESS_PRESERVATION"},
		{SAAttrName(SADirection), "SA_DIRECTION"},
		{SAAttrName(SALifeDuration), "SA_LIFE_DURATION"},
		{GAPAttrName(SenderIDRequest), "SENDER_ID_REQUEST"},
		{KeyPacketAttrName(KDTEK, TEKAlgorithmKey), "TEK_ALGORITHM_KEY"},
		{KeyPacketAttrName(KDKEK, SigAlgorithmKey), "SIG_ALGORITHM_KEY"},
		{KeyPacketAttrName(KDSID, SIDValue), "SID_VALUE"},
		{KeyPacketAttrName(KDType(9), 1), "ATTR-1"},
		{KDSID.String(), "SID"},
		{KDType(9).String(), "KD-9"},
		{TEKProtoESP.String(), "ESP"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
