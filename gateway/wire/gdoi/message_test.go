package gdoi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

var (
	ckyI = [8]byte{0xc0, 0xff, 0xee, 0, 0, 0, 0, 1}
	ckyR = [8]byte{0xbe, 0xef, 0, 0, 0, 0, 0, 2}
)

// pull2 is GROUPKEY-PULL message 2 in plaintext: HDR, HASH(2), Nr, SA.
func pull2() []byte {
	m := &isakmp.Message{
		Header: isakmp.Header{ICookie: ckyI, RCookie: ckyR, Exchange: isakmp.ExchangeGroupkeyPull, MessageID: 0x11223344},
		Payloads: []isakmp.Payload{
			&isakmp.Raw{Kind: isakmp.PayloadHash, Body: make([]byte, 32)},
			&isakmp.Raw{Kind: isakmp.PayloadNonce, Body: make([]byte, 16)},
			&isakmp.Raw{Kind: isakmp.PayloadSA, Body: gdoiSABody},
		},
	}
	return m.Append(nil)
}

// push is a GROUPKEY-PUSH in plaintext (its twin): HDR, SEQ, SA, KD, SIG.
func push() []byte {
	m := &isakmp.Message{
		Header: isakmp.Header{ICookie: [8]byte(testSAK.SPI[0:8]), RCookie: [8]byte(testSAK.SPI[8:]), Exchange: isakmp.ExchangeGroupkeyPush},
		Payloads: []isakmp.Payload{
			&SEQ{Seq: 7},
			NewSA(testSAT),
			testKD,
			&isakmp.Signature{Data: make([]byte, 256)},
		},
	}
	return m.Append(nil)
}

func TestPullMessage(t *testing.T) {
	b := pull2()
	m, err := isakmp.ParseMessage(b, Decoder{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Layout(); got != "HASH,NONCE,SA(SAK,GAP,SAT)" {
		t.Fatalf("Layout %q", got)
	}
	if got := isakmp.Types(m.Payloads); !reflect.DeepEqual(got, []isakmp.PayloadType{8, 10, 1, 15, 22, 16}) {
		t.Fatalf("Types %v", got)
	}
	if !reflect.DeepEqual(m.Payloads[2], testSA) {
		t.Fatalf("SA %#v", m.Payloads[2])
	}
	if enc := m.Append(nil); !bytes.Equal(enc, b) {
		t.Fatal("Append")
	}
	messageRoundTrip(t, b, Decoder{})

	// The SA's generic header: Next Payload NONE, length 4+150.
	sa := b[28+36+20:]
	if sa[0] != 0 || sa[2] != 0 || sa[3] != 154 {
		t.Fatalf("SA header %x", sa[:4])
	}

	// With a gdoid peer's octets, the default decoder finds its forms.
	g := &isakmp.Message{
		Header:   isakmp.Header{Exchange: isakmp.ExchangeGroupkeyPull},
		Payloads: []isakmp.Payload{&isakmp.Raw{Kind: isakmp.PayloadSA, Body: gdoidSABody}},
	}
	gm, err := ParseMessage(g.Append(nil), ProfileRFC)
	if err != nil {
		t.Fatal(err)
	}
	gsa := gm.Payloads[0].(*SA)
	if !gsa.SAK().ExtraPOPKeyLen || !gsa.SATs()[0].IDLen1 {
		t.Fatalf("forms not recorded: %+v %+v", gsa.SAK(), gsa.SATs()[0])
	}
}

func TestPushMessage(t *testing.T) {
	b := push()
	m := messageRoundTrip(t, b, Decoder{Profile: ProfileGdoid})
	if m == nil {
		t.Fatal("does not parse")
	}
	if got := m.Layout(); got != "SEQ,SA(SAT),KD,SIG" {
		t.Fatalf("Layout %q", got)
	}
	if m.Header.NextPayload != isakmp.PayloadSEQ || m.Payloads[0].(*SEQ).Seq != 7 {
		t.Fatal("SEQ")
	}
	if !reflect.DeepEqual(m.Payloads[2], testKD) {
		t.Fatalf("KD %#v", m.Payloads[2])
	}
}

func TestOtherExchanges(t *testing.T) {
	// Outside exchanges 32 and 33 the SA is a phase-1 SA and GDOI payloads
	// are raw.
	m := &isakmp.Message{
		Header: isakmp.Header{Exchange: isakmp.ExchangeMainMode},
		Payloads: []isakmp.Payload{
			&isakmp.SA{DOI: isakmp.DOIGDOI, Proposals: []isakmp.Proposal{{Number: 1, ProtocolID: isakmp.ProtoISAKMP}}},
			&isakmp.Raw{Kind: isakmp.PayloadKD, Body: kdBody},
		},
	}
	got := messageRoundTrip(t, m.Append(nil), Decoder{})
	if _, ok := got.Payloads[0].(*isakmp.SA); !ok {
		t.Fatalf("SA %T", got.Payloads[0])
	}
	if _, ok := got.Payloads[1].(*isakmp.Raw); !ok {
		t.Fatalf("KD %T", got.Payloads[1])
	}
	if got.Layout() != "SA(P),KD" {
		t.Fatal(got.Layout())
	}
	// A custom next decoder is used.
	var calls int
	next := isakmp.DecoderFunc(func(ctx isakmp.DecodeContext, t isakmp.PayloadType, b []byte) (isakmp.Payload, error) {
		calls++
		return isakmp.DefaultDecoder.DecodePayload(ctx, t, b)
	})
	if _, err := isakmp.ParseMessage(pull2(), Decoder{Next: next}); err != nil || calls != 2 {
		t.Fatalf("%v, %d calls", err, calls)
	}
}

func TestMessageErrors(t *testing.T) {
	// The SAT's length overflows the SA (its parent).
	body := append([]byte(nil), gdoiSABody...)
	body[12+69+12+3] = 0x40 // SAT payload length 64, 57 remain
	m := &isakmp.Message{
		Header:   isakmp.Header{Exchange: isakmp.ExchangeGroupkeyPull},
		Payloads: []isakmp.Payload{&isakmp.Raw{Kind: isakmp.PayloadHash, Body: make([]byte, 20)}, &isakmp.Raw{Kind: isakmp.PayloadSA, Body: body}},
	}
	_, err := ParseMessage(m.Append(nil), ProfileRFC)
	want := "isakmp: SA payload at offset 52: SAT payload at offset 149: payload length 64 exceeds 57 remaining"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if !errors.Is(err, isakmp.ErrLength) {
		t.Fatal("Is")
	}
	var outer *isakmp.Error
	if !errors.As(err, &outer) || outer.Payload != "SA" || outer.Offset != 52 {
		t.Fatalf("%+v", outer)
	}
	if in := isakmp.Innermost(err); in.Payload != "SAT" || in.Offset != 149 {
		t.Fatalf("%+v", in)
	}

	// A broken SAT ID in the SAK of a PUSH, strict gdoid profile.
	strict := ProfileGdoid
	strict.Strict = true
	_, err = ParseMessage(pull2(), strict)
	wantErr(t, err, isakmp.ErrLength, "isakmp: SA payload at offset 84: SAK payload at offset 100: attribute length")

	// KD and SEQ errors name the payload at its offset.
	bad := &isakmp.Message{
		Header:   isakmp.Header{Exchange: isakmp.ExchangeGroupkeyPush},
		Payloads: []isakmp.Payload{&isakmp.Raw{Kind: isakmp.PayloadSEQ, Body: []byte{1}}},
	}
	_, err = ParseMessage(bad.Append(nil), ProfileRFC)
	wantErr(t, err, isakmp.ErrLength, "isakmp: SEQ payload at offset 28: body is 1 octets, want 4")
	bad.Payloads = []isakmp.Payload{&SEQ{}, &isakmp.Raw{Kind: isakmp.PayloadKD, Body: hx("0002 0000 01 00 0009 04 0000a5f8")}}
	_, err = ParseMessage(bad.Append(nil), ProfileRFC)
	wantErr(t, err, isakmp.ErrLength, "isakmp: KD payload at offset 36: 2 key packets announced, 1 present")
}
