package isakmp

import (
	"errors"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
)

// A main mode SA body as GDOI's phase 1 sends it (RFC 6407 §2.1: DOI 2,
// situation 0): one proposal (PROTO_ISAKMP, no SPI) with one KEY_IKE
// transform: AES-CBC-128, SHA2-256, pre-shared key, group 14, lifetime
// 86400 seconds (the duration as a 4-octet TLV). Attribute numbers from
// RFC 2409 Appendix A.
var mainModeSABody = hx(`
	00000002 | 00000000 |
	00 00 0030 | 01 01 00 01 |
		00 00 0028 | 01 01 0000 |
			8001 0007 | 800e 0080 | 8002 0004 | 8003 0001 |
			8004 000e | 800b 0001 | 000c 0004 00015180`)

var mainModeSA = &SA{
	DOI: DOIGDOI,
	Proposals: []Proposal{{
		Number:     1,
		ProtocolID: ProtoISAKMP,
		Transforms: []Transform{{
			Number: 1,
			ID:     TransformKeyIKE,
			Attributes: Attributes{
				BasicAttr(AttrEncryptionAlgorithm, EncAESCBC),
				BasicAttr(AttrKeyLength, 128),
				BasicAttr(AttrHashAlgorithm, HashSHA256),
				BasicAttr(AttrAuthMethod, AuthPreSharedKey),
				BasicAttr(AttrGroupDescription, GroupMODP2048),
				BasicAttr(AttrLifeType, LifeSeconds),
				{Type: AttrLifeDuration, Data: []byte{0, 1, 0x51, 0x80}},
			},
		}},
	}},
}

func TestMainModeSAVector(t *testing.T) {
	exact(t, adapt(parseSA), mainModeSABody, mainModeSA)
	if got := Layout([]Payload{mainModeSA}); got != "SA(P(T))" {
		t.Fatalf("Layout %q", got)
	}
	tr := mainModeSA.Proposals[0].Transforms[0]
	if v, ok := tr.Attributes.Uint(AttrLifeDuration); !ok || v != 86400 {
		t.Fatalf("lifetime %d", v)
	}
}

func TestSATwoProposals(t *testing.T) {
	sa := &SA{
		DOI:       DOIIPsec,
		Situation: SitIdentityOnly,
		Proposals: []Proposal{
			{Number: 1, ProtocolID: ProtoISAKMP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{
				{Number: 1, ID: TransformKeyIKE, Attributes: Attributes{BasicAttr(AttrEncryptionAlgorithm, EncAESCBC)}},
				{Number: 2, ID: TransformKeyIKE, Attributes: Attributes{BasicAttr(AttrEncryptionAlgorithm, Enc3DESCBC)}},
			}},
			{Number: 2, ProtocolID: ProtoISAKMP, Transforms: []Transform{{Number: 1, ID: TransformKeyIKE}}},
		},
	}
	body := sa.Append(nil)
	got := roundTrip(t, adapt(parseSA), body)
	if got == nil {
		t.Fatal("does not parse")
	}
	if l := Layout([]Payload{got}); l != "SA(P(T,T),P(T))" {
		t.Fatalf("Layout %q", l)
	}
	if ts := Types([]Payload{got}); len(ts) != 6 || ts[5] != PayloadTransform {
		t.Fatalf("Types %v", ts)
	}
	// Proposals: next 2 then 0; transforms: next 3 then 0.
	if body[8] != 2 || body[8+8+4] != 3 {
		t.Fatalf("nested next payloads %x", body)
	}
}

// saMessage wraps an SA body in a main mode message.
func saMessage(body []byte) []byte {
	m := &Message{Header: Header{Exchange: ExchangeMainMode}, Payloads: []Payload{&Raw{Kind: PayloadSA, Body: body}}}
	return m.Append(nil)
}

func TestSAErrors(t *testing.T) {
	// The second transform's attribute claims 9 octets, 4 remain.
	bad := hx(`
		00000001 00000001 |
		00 00 0024 | 01 01 00 02 |
			03 00 000c 01 01 0000 8001 0007 |
			00 00 0010 02 01 0000 000c 0009 00015180`)
	_, err := ParseMessage(saMessage(bad), nil)
	wantErr(t, err, ErrLength)
	if want := "isakmp: SA payload at offset 28: proposal 1: transform 2: attribute length 9 exceeds 4 remaining"; err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Payload != "SA" || e.Offset != 28 {
		t.Fatalf("%#v", e)
	}

	wiretest.Errors(t, parseSA, []wiretest.ErrCase{
		{Name: "short", Body: "000000010000", Kind: ErrShort, Msg: "DOI and situation needs 8 octets, 6 remaining"},
		{Name: "labelled situation", Body: "00000001 00000003", Kind: ErrUnsupported, Msg: "labelled domains"},
		{Name: "proposal header", Body: "00000002 00000000 0000", Kind: ErrShort, Msg: "proposal 1: generic payload header needs 4 octets, 2 remaining"},
		{Name: "proposal too short", Body: "00000002 00000000 00000007 01010000", Kind: ErrLength, Msg: "proposal 1: payload length 7 smaller than 8"},
		{Name: "proposal beyond SA", Body: "00000002 00000000 00000010 01010000", Kind: ErrLength, Msg: "proposal 1: payload length 16 exceeds 8 remaining"},
		{Name: "SPI beyond proposal", Body: "00000002 00000000 00000008 01010400", Kind: ErrLength, Msg: "proposal 1: SPI size 4 exceeds 0 remaining"},
		{Name: "count", Body: "00000002 00000000 00000008 01010001", Kind: ErrLength, Msg: "proposal 1: 1 transforms announced, 0 present"},
		{Name: "proposal next", Body: "00000002 00000000 05000008 01010000", Kind: ErrChain, Msg: "proposal 1: next payload ID, want P or NONE"},
		{Name: "proposal announced", Body: "00000002 00000000 02000008 01010000", Kind: ErrChain, Msg: "proposal 1: next payload P but no octets follow"},
		{Name: "transform next", Body: "00000002 00000000 00000010 01010001 05000008 01010000", Kind: ErrChain, Msg: "transform 1: next payload ID, want T or NONE"},
		{Name: "transform announced", Body: "00000002 00000000 00000010 01010001 03000008 01010000", Kind: ErrChain, Msg: "transform 1: next payload T but no octets follow"},
		{Name: "after last transform", Body: "00000002 00000000 00000014 01010001 00000008 01010000 80010007", Kind: ErrChain, Msg: "transform 1: next payload NONE but 4 octets follow"},
		{Name: "transform too short", Body: "00000002 00000000 0000000c 01010001 00000004", Kind: ErrLength, Msg: "transform 1: payload length 4 smaller than 8"},
	})

	// Octets after the last proposal.
	_, _, err = parseSA(append(append([]byte(nil), mainModeSABody...), 0, 0, 0, 0))
	wantErr(t, err, ErrChain, "proposal 1: next payload NONE but 4 octets follow")
}

func TestProposalCheck(t *testing.T) {
	sa := &SA{Proposals: []Proposal{{SPI: make([]byte, 256)}}}
	if err := CheckPayloads(sa); err == nil {
		t.Fatal("Check accepted a 256-octet SPI")
	}
	sa = &SA{Proposals: []Proposal{{Transforms: make([]Transform, 256)}}}
	if err := sa.Check(); err == nil {
		t.Fatal("Check accepted 256 transforms")
	}
}
