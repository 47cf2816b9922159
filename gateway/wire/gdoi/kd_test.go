package gdoi

import (
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A KD body with a TEK and a KEK key packet, as in GROUPKEY-PULL message 4:
//
// TEK: SPI 0x0000a5f8, TEK_ALGORITHM_KEY of 20 octets (AES-128-GCM key and
// 4-octet salt).
//
// KEK: SPI = the 16-octet cookie pair, KEK_ALGORITHM_KEY of 32 octets
// (16-octet IV || AES-128 key), SIG_ALGORITHM_KEY (a stand-in for the DER
// public key).
var kdBody = hx(`
	0002 0000 |
	01 00 0021 | 04 0000a5f8 |
		0001 0014 000102030405060708090a0b0c0d0e0f10111213 |
	02 00 0043 | 10 0102030405060708 1112131415161718 |
		0001 0020 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f |
		0002 0006 300d06092a86`)

var testKD = &KD{Packets: []KeyPacket{
	{Type: KDTEK, SPI: hx("0000a5f8"), Attributes: isakmp.Attributes{
		isakmp.VarAttr(TEKAlgorithmKey, hx("000102030405060708090a0b0c0d0e0f10111213")),
	}},
	{Type: KDKEK, SPI: hx("01020304050607081112131415161718"), Attributes: isakmp.Attributes{
		isakmp.VarAttr(KEKAlgorithmKey, hx("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")),
		isakmp.VarAttr(SigAlgorithmKey, hx("300d06092a86")),
	}},
}}

func TestKDVector(t *testing.T) {
	exact(t, adapt(parseKD), kdBody, testKD)
	kp, ok := testKD.Get(KDKEK, nil)
	if !ok || len(kp.SPI) != 16 {
		t.Fatal("Get KEK")
	}
	if _, ok := testKD.Get(KDTEK, hx("0000a5f9")); ok {
		t.Fatal("Get with another SPI")
	}
	if kp, ok := testKD.Get(KDTEK, hx("0000a5f8")); !ok || kp.Type != KDTEK {
		t.Fatal("Get TEK")
	}
}

func TestKDSIDAndUnknown(t *testing.T) {
	// A SID key packet (SPI size 0, 16-bit SIDs, two SID values) and a key
	// packet of an unknown type, kept raw.
	body := hx(`
		0002 0000 |
		04 00 0015 | 00 | 8001 0010 | 0002 0002 0001 | 0002 0002 0002 |
		09 00 0007 | 010203`)
	want := &KD{Packets: []KeyPacket{
		{Type: KDSID, Attributes: isakmp.Attributes{
			isakmp.BasicAttr(SIDNumberOfBits, 16),
			isakmp.VarAttr(SIDValue, hx("0001")),
			isakmp.VarAttr(SIDValue, hx("0002")),
		}},
		{Type: 9, Body: hx("010203")},
	}}
	exact(t, adapt(parseKD), body, want)
	if sids := want.Packets[0].Attributes.All(SIDValue); len(sids) != 2 {
		t.Fatal(sids)
	}
	exact(t, adapt(parseKD), hx("0000 0000"), &KD{})
	exact(t, adapt(parseKD), hx("0001 0000 03 00 0005 00"), &KD{Packets: []KeyPacket{{Type: KDLKH}}})
	exact(t, adapt(parseKD), hx("0001 0000 07 00 0004"), &KD{Packets: []KeyPacket{{Type: 7}}})
}

func TestKDErrors(t *testing.T) {
	wiretest.Errors(t, parseKD, []wiretest.ErrCase{
		{Name: "short", Body: "0001 00", Kind: isakmp.ErrShort, Msg: "number of key packets and RESERVED2 need 4 octets, 3 remaining"},
		{Name: "count high", Body: "0002 0000 01 00 0009 04 0000a5f8", Kind: isakmp.ErrLength, Msg: "2 key packets announced, 1 present"},
		{Name: "count low", Body: "0000 0000 01 00 0009 04 0000a5f8", Kind: isakmp.ErrLength, Msg: "0 key packets announced, 1 present"},
		{Name: "header cut", Body: "0001 0000 01 00 00", Kind: isakmp.ErrShort, Msg: "key packet 1 (TEK): key packet header needs 4 octets, 3 remaining"},
		{Name: "length below 4", Body: "0001 0000 01 00 0003", Kind: isakmp.ErrLength, Msg: "key packet 1 (TEK): KD length 3 smaller than the 4-octet key packet header"},
		{Name: "length beyond KD", Body: "0001 0000 02 00 0010 10", Kind: isakmp.ErrLength, Msg: "key packet 1 (KEK): KD length 16 exceeds 5 remaining"},
		{Name: "no SPI size", Body: "0001 0000 01 00 0004", Kind: isakmp.ErrLength, Msg: "key packet 1 (TEK): KD length 4 leaves no room for the SPI size"},
		{Name: "SPI beyond packet", Body: "0001 0000 01 00 0007 04 0000", Kind: isakmp.ErrLength, Msg: "key packet 1 (TEK): SPI size 4 exceeds 2 remaining"},
		{Name: "attribute overflow", Body: "0002 0000 01 00 0009 04 0000a5f8 01 00 000d 04 0000a5f9 0001 0014",
			Kind: isakmp.ErrLength, Msg: "key packet 2 (TEK): attribute length 20 exceeds 0 remaining"},
		{Name: "second packet cut", Body: "0002 0000 01 00 0009 04 0000a5f8 02", Kind: isakmp.ErrShort, Msg: "key packet 2 (KEK): key packet header needs 4 octets, 1 remaining"},
	})
}

func TestKDCheck(t *testing.T) {
	if err := isakmp.CheckPayloads(&KD{Packets: []KeyPacket{{Type: KDTEK, SPI: make([]byte, 256)}}}); err == nil {
		t.Error("SPI of 256 octets")
	}
	big := isakmp.VarAttr(TEKAlgorithmKey, make([]byte, 65530))
	if err := (&KD{Packets: []KeyPacket{{Type: KDTEK, Attributes: isakmp.Attributes{big}}}}).Check(); err == nil {
		t.Error("key packet of 65539 octets")
	}
}

func TestSEQ(t *testing.T) {
	exact(t, adapt(parseSEQ), hx("0000002a"), &SEQ{Seq: 42})
	_, _, err := parseSEQ(hx("000000"))
	wantErr(t, err, isakmp.ErrLength, "body is 3 octets, want 4")
	_, _, err = parseSEQ(hx("0000000000"))
	wantErr(t, err, isakmp.ErrLength, "body is 5 octets, want 4")
}

func TestGAP(t *testing.T) {
	exact(t, adapt(parseGAP), hx("8003 0004"), &GAP{Attributes: isakmp.Attributes{isakmp.BasicAttr(SenderIDRequest, 4)}})
	exact(t, adapt(parseGAP), nil, &GAP{})
	_, _, err := parseGAP(hx("8003"))
	wantErr(t, err, isakmp.ErrShort, "attribute header needs 4 octets, 2 remaining")
}
