package isakmp

import (
	"bytes"
	"testing"
)

// A main mode message 1 header: CKY-I, zero CKY-R, next SA, version 1.0,
// exchange 2, no flags, message ID 0, length 88.
var headerVector = hx(`
	0011223344556677 | 0000000000000000 |
	01 10 02 00 | 00000000 | 00000058`)

func TestHeaderVector(t *testing.T) {
	h, n, err := ParseHeader(headerVector)
	if err != nil || n != HeaderLen {
		t.Fatalf("ParseHeader: %v, %d", err, n)
	}
	want := Header{
		ICookie:     [8]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77},
		NextPayload: PayloadSA,
		Version:     Version1,
		Exchange:    ExchangeMainMode,
		Length:      88,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if enc := want.Append(nil); !bytes.Equal(enc, headerVector) {
		t.Fatalf("Append: %x", enc)
	}
	// A zero version is sent as 1.0.
	want.Version = 0
	if enc := want.Append(nil); !bytes.Equal(enc, headerVector) {
		t.Fatalf("Append with zero version: %x", enc)
	}
}

func TestHeaderPush(t *testing.T) {
	b := hx(`0102030405060708 1112131415161718 12 10 21 01 00000000 000000a0`)
	h, _, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Exchange != ExchangeGroupkeyPush || h.NextPayload != PayloadSEQ || h.Flags != FlagEncryption {
		t.Fatalf("%+v", h)
	}
	if c := h.Cookies(); !bytes.Equal(c[:], b[:16]) {
		t.Fatalf("Cookies %x", c)
	}
	if s := h.Exchange.String(); s != "GROUPKEY-PUSH" {
		t.Fatal(s)
	}
}

func TestHeaderErrors(t *testing.T) {
	_, _, err := ParseHeader(headerVector[:27])
	wantErr(t, err, ErrShort, "isakmp: header at offset 0: header needs 28 octets, 27 remaining")
	_, _, err = ParseHeader(nil)
	wantErr(t, err, ErrShort, "0 remaining")

	v2 := append([]byte(nil), headerVector...)
	v2[17] = 0x20
	_, _, err = ParseHeader(v2)
	wantErr(t, err, ErrVersion, "major version 2")
	// A minor version is accepted and kept.
	v2[17] = 0x11
	h, _, err := ParseHeader(v2)
	if err != nil || h.Version != 0x11 {
		t.Fatalf("minor version: %v %x", err, h.Version)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ExchangeGroupkeyPull.String(), "GROUPKEY-PULL"},
		{ExchangeGroupkeyPush.String(), "GROUPKEY-PUSH"},
		{ExchangeMainMode.String(), "MAIN-MODE"},
		{ExchangeAggressive.String(), "AGGRESSIVE"},
		{ExchangeInformational.String(), "INFORMATIONAL"},
		{ExchangeType(99).String(), "EXCHANGE-99"},
		{PayloadHash.String(), "HASH"},
		{PayloadSAK.String(), "SAK"},
		{PayloadSAT.String(), "SAT"},
		{PayloadKD.String(), "KD"},
		{PayloadSEQ.String(), "SEQ"},
		{PayloadGAP.String(), "GAP"},
		{PayloadNATD.String(), "NAT-D"},
		{PayloadNATOA.String(), "NAT-OA"},
		{PayloadType(200).String(), "PAYLOAD-200"},
		{(FlagEncryption | FlagCommit).String(), "E|C"},
		{Flags(0x81).String(), "E|0x80"},
		{Flags(0).String(), "0"},
		{NotifyInvalidIDInformation.String(), "INVALID-ID-INFORMATION"},
		{NotifyAuthenticationFailed.String(), "AUTHENTICATION-FAILED"},
		{NotifyNoProposalChosen.String(), "NO-PROPOSAL-CHOSEN"},
		{NotifyInvalidHashInformation.String(), "INVALID-HASH-INFORMATION"},
		{NotifyType(8000).String(), "NOTIFY-8000"},
		{CertX509Signature.String(), "X509-SIG"},
		{IDKeyID.String(), "ID_KEY_ID"},
		{IKEAttrName(AttrLifeDuration), "Life-Duration"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// The RFC 2408 §3.14.1 numbers the brief names.
	for n, want := range map[NotifyType]uint16{
		NotifyNoProposalChosen: 14, NotifyInvalidIDInformation: 18,
		NotifyInvalidHashInformation: 23, NotifyAuthenticationFailed: 24,
	} {
		if uint16(n) != want {
			t.Errorf("%s = %d, want %d", n, n, want)
		}
	}
	if !NotifyInvalidSignature.IsError() || NotifyInitialContact.IsError() {
		t.Error("IsError")
	}
}
