package isakmp

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
)

// Each fuzz target asserts that its decoder never panics and that whatever
// parses re-encodes to octets that parse to the same value (and re-encode
// identically).

func FuzzParseHeader(f *testing.F) {
	f.Add(headerVector)
	f.Add(mainModeMsg1)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		if n != HeaderLen {
			t.Fatal(n)
		}
		enc := h.Append(nil)
		if !bytes.Equal(enc, b[:HeaderLen]) {
			t.Fatalf("%x != %x", enc, b[:HeaderLen])
		}
	})
}

func FuzzParseAttributes(f *testing.F) {
	f.Add(attrVector)
	f.Add(hx("000c 0009 00015180"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseAttributes(b)
		if err != nil {
			return
		}
		enc := l.Append(nil)
		if !bytes.Equal(enc, b) {
			t.Fatalf("attributes re-encode differently:\n%x\n%x", enc, b)
		}
		l2, err := ParseAttributes(enc)
		if err != nil || !reflect.DeepEqual(l, l2) {
			t.Fatalf("%v\n%v\n%v", err, l, l2)
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
		for _, a := range l {
			a.Uint()
			_ = a.String()
		}
	})
}

func FuzzParseSA(f *testing.F) {
	f.Add(mainModeSABody)
	f.Add((&SA{Proposals: []Proposal{{SPI: []byte{1}, Transforms: []Transform{{}, {}}}, {}}}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p := roundTrip(t, adapt(parseSA), b); p != nil {
			_ = Layout([]Payload{p})
		}
	})
}

func FuzzParseID(f *testing.F) {
	f.Add(hx("04 11 0350 0a000000 ffffff00"))
	f.Add(hx("0b 00 0000 000004d2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p := roundTrip(t, adapt(parseID), b); p != nil {
			id := p.(*ID)
			// The helpers never panic either.
			id.Addr()
			id.Prefix()
			id.Range()
			id.Group()
			_ = id.String()
		}
	})
}

func FuzzParseNotification(f *testing.F) {
	f.Add(hx("00000002 01 10 0012 00112233445566778899aabbccddeeff"))
	f.Add(hx("00000001 01 00 0018 beef"))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, adapt(parseNotification), b) })
}

func FuzzParseDelete(f *testing.F) {
	f.Add(hx("00000002 03 04 0002 0000a5f8 0000a5f9"))
	f.Add(hx("00000002 03 00 0000"))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, adapt(parseDelete), b) })
}

// FuzzDecodePayload covers the remaining payload decoders (KE, CERT, CR,
// HASH, SIG, NONCE, VID, Raw) through DefaultDecoder: the first octet is the
// payload type.
func FuzzDecodePayload(f *testing.F) {
	f.Add(append([]byte{byte(PayloadCert)}, hx("04 3082")...))
	f.Add(append([]byte{byte(PayloadCR)}, hx("04")...))
	f.Add(append([]byte{byte(PayloadKE)}, hx("0102")...))
	f.Add(append([]byte{byte(PayloadNATD)}, hx("0102")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		typ := PayloadType(b[0])
		parse := func(body []byte) (Payload, int, error) {
			p, err := DefaultDecoder.DecodePayload(DecodeContext{}, typ, body)
			if err != nil {
				return nil, 0, err
			}
			if p.Type() != typ {
				t.Fatalf("type %s for %s", p.Type(), typ)
			}
			return p, len(body), nil
		}
		roundTrip(t, parse, b[1:])
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add(mainModeMsg1)
	f.Add(hx(`0011223344556677 8899aabbccddeeff 08 10 20 01 12345678 0000002c 00112233445566778899aabbccddeeff`))
	pull := &Message{Header: Header{Exchange: ExchangeInformational}, Payloads: []Payload{
		&Hash{Data: make([]byte, 20)},
		&Notification{DOI: DOIGDOI, ProtocolID: ProtoISAKMP, MessageType: NotifyInvalidIDInformation, SPI: make([]byte, 16)},
		&Delete{DOI: DOIGDOI, ProtocolID: ProtoIPsecESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}}},
		NewAddrID(netipAddr("192.0.2.1")), &Cert{Encoding: CertX509Signature, Data: []byte{0x30}},
	}, Padding: []byte{0, 0}}
	f.Add(pull.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) { messageRoundTrip(t, b, nil) })
}

// messageRoundTrip is the message invariant (wiretest.MessageRoundTrip)
// for messages decoded with dec.
func messageRoundTrip(t *testing.T, b []byte, dec Decoder) {
	t.Helper()
	parse := func(b []byte) (*Message, error) { return ParseMessage(b, dec) }
	header := func(m *Message) Header { return m.Header }
	wiretest.MessageRoundTrip(t, parse, header, b)
}
