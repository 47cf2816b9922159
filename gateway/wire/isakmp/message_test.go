package isakmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// mainModeMsg1 is a main mode message 1: header, the SA of mainModeSABody,
// and a Vendor ID.
var mainModeMsg1 = append(append(hx(`
	0011223344556677 0000000000000000 01 10 02 00 00000000 00000062 |
	0d 00 003c`), mainModeSABody...), hx(`
	00 00 000a 676574 6c6162`)...)

func TestMainModeMessage(t *testing.T) {
	m, err := ParseMessage(mainModeMsg1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Layout(); got != "SA(P(T)),VID" {
		t.Fatalf("Layout %q", got)
	}
	if !reflect.DeepEqual(m.Payloads[0], mainModeSA) {
		t.Fatalf("SA %#v", m.Payloads[0])
	}
	if v := m.Payloads[1].(*VendorID); string(v.Data) != "getlab" {
		t.Fatalf("VID %q", v.Data)
	}
	if enc := m.Append(nil); !bytes.Equal(enc, mainModeMsg1) {
		t.Fatalf("Append\n got %x\nwant %x", enc, mainModeMsg1)
	}
	if s := m.String(); s != "MAIN-MODE id=0x00000000 flags=0 SA(P(T)),VID" {
		t.Fatal(s)
	}
	if offs, end := m.Offsets(); len(offs) != 2 || offs[0] != 28 || offs[1] != 88 || end != 98 {
		t.Fatalf("Offsets %v %d", offs, end)
	}
	if p, ok := m.Get(PayloadVendorID); !ok || p != m.Payloads[1] {
		t.Fatal("Get")
	}
	if _, ok := m.Get(PayloadHash); ok {
		t.Fatal("Get HASH")
	}

	// Built from values: Append fills in NextPayload and Length.
	m2 := &Message{
		Header:   Header{ICookie: m.Header.ICookie, Exchange: ExchangeMainMode},
		Payloads: []Payload{mainModeSA, &VendorID{Data: []byte("getlab")}},
	}
	if enc := m2.Append(nil); !bytes.Equal(enc, mainModeMsg1) {
		t.Fatalf("Append from values\n got %x\nwant %x", enc, mainModeMsg1)
	}
	if m2.Header.Length != uint32(len(mainModeMsg1)) || m2.Header.NextPayload != PayloadSA {
		t.Fatalf("header not updated: %+v", m2.Header)
	}
	// Appending to a non-empty buffer.
	if enc := m2.Append([]byte{0xff}); !bytes.Equal(enc[1:], mainModeMsg1) {
		t.Fatal("Append after a prefix")
	}
}

func TestEncryptedMessage(t *testing.T) {
	b := hx(`0011223344556677 8899aabbccddeeff 08 10 20 01 12345678 0000002c
		00112233445566778899aabbccddeeff`)
	m, err := ParseMessage(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Payloads != nil || !bytes.Equal(m.Encrypted, b[28:]) || m.Header.NextPayload != PayloadHash {
		t.Fatalf("%+v", m)
	}
	if s := m.String(); s != "GROUPKEY-PULL id=0x12345678 flags=E <16 octets encrypted>" {
		t.Fatal(s)
	}
	if enc := m.Append(nil); !bytes.Equal(enc, b) {
		t.Fatalf("Append %x", enc)
	}
	// An encrypted message with an empty body keeps Encrypted non-nil.
	e := hx(`0011223344556677 8899aabbccddeeff 08 10 20 01 12345678 0000001c`)
	m, err = ParseMessage(e, nil)
	if err != nil || m.Encrypted == nil {
		t.Fatalf("%v %+v", err, m)
	}
	if enc := m.Append(nil); !bytes.Equal(enc, e) {
		t.Fatalf("Append %x", enc)
	}

	// The decrypted body, with its padding, goes through ParseBody.
	plain := AppendPayloads(nil, &Hash{Data: hx("0102030405060708090a0b0c0d0e0f1011121314")}, &Nonce{Data: hx("aabb")})
	plain = append(plain, 0, 0, 0, 0)
	dm, err := ParseBody(m.Header, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dm.Layout() != "HASH,NONCE" || !bytes.Equal(dm.Padding, []byte{0, 0, 0, 0}) {
		t.Fatalf("%s %x", dm.Layout(), dm.Padding)
	}
	// A plaintext twin (same header, E flag cleared) re-encodes with its padding.
	dm.Header.Flags = 0
	twin := dm.Append(nil)
	back, err := ParseMessage(twin, nil)
	if err != nil || !reflect.DeepEqual(back, dm) {
		t.Fatalf("twin: %v\n%#v\n%#v", err, back, dm)
	}
}

func TestMessageErrors(t *testing.T) {
	hdr := func(next PayloadType, length int) []byte {
		h := Header{NextPayload: next, Exchange: ExchangeMainMode, Length: uint32(length)}
		return h.Append(nil)
	}
	with := func(b []byte, tail string) []byte { return append(append([]byte(nil), b...), hx(tail)...) }
	for _, c := range []struct {
		name    string
		msg     []byte
		kind    error
		text    string
		payload string
		offset  int
	}{
		{"truncated header", mainModeMsg1[:20], ErrShort,
			"isakmp: header at offset 0: header needs 28 octets, 20 remaining", "header", 0},
		{"length beyond buffer", mainModeMsg1[:60], ErrLength,
			"isakmp: header at offset 0: length 98 exceeds the 60 octets present", "header", 0},
		{"length smaller than header", hdr(0, 20), ErrLength,
			"isakmp: header at offset 0: length 20 smaller than the 28-octet header", "header", 0},
		{"octets after length", with(hdr(0, 28), "00"), ErrLength,
			"isakmp: header at offset 0: length 28 leaves 1 octets after the message", "header", 0},
		{"payload announced, none present", hdr(PayloadHash, 28), ErrChain,
			"isakmp: HASH payload at offset 28: payload announced, but no octets remain", "HASH", 28},
		{"generic header cut", with(hdr(PayloadHash, 30), "0000"), ErrShort,
			"isakmp: HASH payload at offset 28: generic payload header needs 4 octets, 2 remaining", "HASH", 28},
		{"payload length smaller than 4", with(hdr(PayloadHash, 32), "00000003"), ErrLength,
			"isakmp: HASH payload at offset 28: payload length 3 smaller than the 4-octet generic header", "HASH", 28},
		{"payload length beyond message", with(hdr(PayloadHash, 36), "00000010 01020304"), ErrLength,
			"isakmp: HASH payload at offset 28: payload length 16 exceeds 8 remaining", "HASH", 28},
		{"second payload beyond message", with(hdr(PayloadHash, 40), "0a000008 01020304 00000009"), ErrLength,
			"isakmp: NONCE payload at offset 36: payload length 9 exceeds 4 remaining", "NONCE", 36},
		{"chain announces a payload past the end", with(hdr(PayloadHash, 36), "0a000008 01020304"), ErrChain,
			"isakmp: NONCE payload at offset 36: payload announced, but no octets remain", "NONCE", 36},
		{"bad body", with(hdr(PayloadNotification, 36), "00000008 00000001"), ErrShort,
			"isakmp: N payload at offset 28: DOI, protocol, SPI size and message type needs 8 octets, 4 remaining", "N", 28},
		{"version", with(hdr(0, 28)[:17], "20 02 00 00000000 0000001c"), ErrVersion,
			"isakmp: header at offset 0: version 0x20: major version 2, want 1", "header", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMessage(c.msg, nil)
			wantErr(t, err, c.kind)
			if err.Error() != c.text {
				t.Errorf("got  %q\nwant %q", err, c.text)
			}
			var e *Error
			if !errors.As(err, &e) || e.Payload != c.payload || e.Offset != c.offset {
				t.Errorf("Error %+v", e)
			}
		})
	}

	// A message whose last payload is followed by octets keeps them as padding.
	b := with(hdr(PayloadHash, 40), "00000008 01020304 00000000")
	m, err := ParseMessage(b, nil)
	if err != nil || !bytes.Equal(m.Padding, make([]byte, 4)) {
		t.Fatalf("padding: %v %+v", err, m)
	}
	if enc := m.Append(nil); !bytes.Equal(enc, b) {
		t.Fatalf("Append with padding %x", enc)
	}
}

func TestParsePayloads(t *testing.T) {
	b := AppendPayloads(nil, &Hash{Data: []byte{1}}, &Nonce{Data: []byte{2}}, &Raw{Kind: 200, Body: []byte{3}})
	ps, err := ParsePayloads(PayloadHash, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if Layout(ps) != "HASH,NONCE,PAYLOAD-200" {
		t.Fatal(Layout(ps))
	}
	// Octets after the end of the chain.
	_, err = ParsePayloads(PayloadHash, append(b, 0), nil)
	wantErr(t, err, ErrChain, "isakmp: PAYLOAD-200 payload at offset 10: next payload NONE but 1 octets follow the payload")
	_, err = ParsePayloads(PayloadNone, []byte{0}, nil)
	wantErr(t, err, ErrChain, "isakmp: payload chain at offset 0: first payload NONE but 1 octets follow")
	// Offsets are absolute with a context.
	_, err = ParsePayloadsContext(DecodeContext{Offset: 100}, PayloadHash, b[:3], nil)
	wantErr(t, err, ErrShort, "isakmp: HASH payload at offset 100:")
	if ps, err := ParsePayloads(PayloadNone, nil, nil); err != nil || ps != nil {
		t.Fatal(ps, err)
	}
	// A decoder that returns the wrong type is caught.
	bad := DecoderFunc(func(DecodeContext, PayloadType, []byte) (Payload, error) { return &Nonce{}, nil })
	if _, err := ParsePayloads(PayloadHash, b[:5], bad); err == nil {
		t.Fatal("wrong type accepted")
	}
	// The chain's generic header: Next Payload and length.
	if b[0] != byte(PayloadNonce) || binary.BigEndian.Uint16(b[2:]) != 5 || b[5] != byte(PayloadType(200)) || b[10] != 0 {
		t.Fatalf("%x", b)
	}
}

func TestInnermost(t *testing.T) {
	inner := &Error{Payload: "SAT", Offset: 60, Err: Errorf(ErrLength, "x")}
	outer := &Error{Payload: "SA", Offset: 28, Err: inner}
	if got := Innermost(outer); got != inner {
		t.Fatal(got)
	}
	if outer.Error() != "isakmp: SA payload at offset 28: SAT payload at offset 60: x" {
		t.Fatal(outer)
	}
	if !errors.Is(outer, ErrLength) {
		t.Fatal("Is")
	}
	if Innermost(errors.New("x")) != nil {
		t.Fatal("plain error")
	}
}

func TestMessageCheck(t *testing.T) {
	m := &Message{Payloads: []Payload{&Delete{SPISize: 4, SPIs: [][]byte{{1}}}}}
	if err := m.Check(); err == nil {
		t.Fatal("Check")
	}
	m = &Message{Encrypted: []byte{1}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}
