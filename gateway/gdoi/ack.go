package gdoi

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/netip"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// GROUPKEY-PUSH acknowledgement (RFC 8263), as getlab pins it (the RFC
// text could not be re-read here; README.md "Rekeys" lists the pinned
// values to re-check before interop):
//
//	GM -> KS, UDP 848:  HDR, HASH, SEQ, ID
//
// HDR carries the cookies of the KEK that protected the PUSH, exchange
// GROUPKEY-PUSH-ACK (35), no flags (the acknowledgement is in clear, as
// S0 §3.5.11.4 says of the interoperable ACK) and message ID 0. SEQ is the
// sequence number of the PUSH being acknowledged and ID the GM's address
// (ID_IPV4_ADDR). HASH protects them with a key only group members hold:
//
//	K_ack = prf(KEK_ALGORITHM_KEY, "GROUPKEY-PUSH ACK" | KEK SPI)
//	HASH  = prf(K_ack, SEQ | ID)
//
// prf is HMAC with the KEK's SIG_HASH_ALGORITHM, and SEQ and ID are the
// payloads as sent, generic headers included. Any member could forge
// another's acknowledgement (they share the KEK); RFC 8263 accepts that
// for a message that only stops retransmissions.

// Ack is a verified GROUPKEY-PUSH acknowledgement.
type Ack struct {
	KEKSPI [16]byte
	Seq    uint32
	GM     netip.Addr
}

// ErrAckHash is an acknowledgement whose HASH does not verify.
var ErrAckHash = errors.New("GROUPKEY-PUSH acknowledgement HASH does not verify")

var ackLabel = []byte("GROUPKEY-PUSH ACK")

// SealAck builds the acknowledgement of the PUSH with sequence number seq,
// received under kek, from the GM at gm.
func SealAck(kek *KEK, seq uint32, gm netip.Addr) ([]byte, error) {
	after := appendChain(nil, []isakmp.Payload{&gdoiwire.SEQ{Seq: seq}, isakmp.NewAddrID(gm)}, isakmp.PayloadNone)
	sum, err := ackHash(kek, after)
	if err != nil {
		return nil, err
	}
	body := isakmp.AppendPayload(nil, isakmp.PayloadSEQ, &isakmp.Hash{Data: sum})
	body = append(body, after...)
	hdr := isakmp.Header{
		NextPayload: isakmp.PayloadHash, Exchange: isakmp.ExchangeGroupkeyPushAck,
		Length: uint32(isakmp.HeaderLen + len(body)),
	}
	hdr.SetCookies(kek.SPI)
	return append(hdr.Append(nil), body...), nil
}

// OpenAck parses an acknowledgement and verifies its HASH with kek, whose
// SPI must be the header's cookie pair.
func OpenAck(pkt []byte, kek *KEK) (*Ack, error) {
	m, err := isakmp.ParseMessage(pkt, gdoiwire.Decoder{})
	if err != nil {
		return nil, err
	}
	if m.Header.Exchange != isakmp.ExchangeGroupkeyPushAck {
		return nil, fmt.Errorf("exchange %v is not GROUPKEY-PUSH-ACK", m.Header.Exchange)
	}
	if m.Header.Cookies() != kek.SPI {
		return nil, ErrPushKEK
	}
	if m.Layout() != "HASH,SEQ,ID" {
		return nil, fmt.Errorf("GROUPKEY-PUSH-ACK layout %s, want HASH,SEQ,ID", m.Layout())
	}
	offs, end := m.Offsets()
	want, err := ackHash(kek, pkt[offs[1]:end])
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(want, m.Payloads[0].(*isakmp.Hash).Data) {
		return nil, ErrAckHash
	}
	id := m.Payloads[2].(*isakmp.ID)
	gm, err := isakmp.DataAddr(id.IDType, id.Data)
	if err != nil {
		return nil, fmt.Errorf("GROUPKEY-PUSH-ACK identity: %w", err)
	}
	return &Ack{KEKSPI: kek.SPI, Seq: m.Payloads[1].(*gdoiwire.SEQ).Seq, GM: gm}, nil
}

// ackHash is HASH = prf(K_ack, SEQ | ID) over the payloads b.
func ackHash(kek *KEK, b []byte) ([]byte, error) {
	h, err := sigHash(kek.SigHash)
	if err != nil {
		return nil, err
	}
	kd := hmac.New(h.New, kek.Key)
	kd.Write(ackLabel)
	kd.Write(kek.SPI[:])
	mac := hmac.New(h.New, kd.Sum(nil))
	mac.Write(b)
	return mac.Sum(nil), nil
}
