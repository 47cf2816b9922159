package gdoi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// GROUPKEY-PUSH acknowledgement, RFC 8263 as published (protocols.md §1.5
// "RFC 8263"):
//
//	GM -> the PUSH's source address and port, from the port the PUSH
//	arrived on:  HDR, HASH, SEQ, ID
//
// HDR copies the PUSH's cookies (the SPI of the KEK that protected it),
// exchange GROUPKEY-PUSH-ACK (35), flags 0 (in clear), message ID 0. SEQ
// copies the PUSH's sequence number; ID is ID_IPV4_ADDR, protocol 0, port
// 0, with the address the GM sent its latest GROUPKEY-PULL from.
//
//	ack_key = prf(base_key, "GROUPKEY-PUSH ACK\0" | SPI | L)
//	HASH    = prf(ack_key, SEQ | ID)
//
// for KEK_ACK_REQUESTED 1 (REKEY_ACK_KEK_SHA256): prf = HMAC-SHA-256 and
// L = 512; for 3 (REKEY_ACK_KEK_SHA512): HMAC-SHA-512 and L = 1024. The
// prf is the one the request names, never the KEK's SIG_HASH. ack_key is
// SP 800-108's feedback KDF with neither IV nor counter: one prf output.
// The label is 18 octets, its NUL included; SPI is the 16-octet cookie
// pair; L two octets in network order; base_key is KEK_ALGORITHM_KEY
// without its explicit IV (KEK.Key: ParsePolicy splits IV ‖ key).
//
// SEQ and ID are "the bytes of those payloads", which we read as whole
// payloads, generic headers included: that is how every other IKEv1 and
// GDOI HASH covers the payloads after it (RFC 2409 §5.5, RFC 6407's
// HASH(n), gdoid's group_fill_in_hash), i.e. the message's octets after
// the HASH payload. The RFC's text does not spell it out further.
//
// Any member could forge another's acknowledgement (they share the KEK);
// RFC 8263 accepts that for a message that only stops retransmissions.

// Ack is a parsed GROUPKEY-PUSH acknowledgement; Verify checks its HASH.
type Ack struct {
	Cookies [16]byte
	Seq     uint32
	GM      netip.Addr

	hash    []byte
	covered []byte // SEQ | ID as received
}

// Errors of acknowledgements.
var (
	// ErrAckHash is an acknowledgement whose HASH does not verify.
	ErrAckHash = errors.New("GROUPKEY-PUSH acknowledgement HASH does not verify")
	// ErrAckType is a KEK_ACK_REQUESTED value getvpnd cannot produce or
	// check: the LKH ones, private and unassigned values.
	ErrAckType = errors.New("unsupported KEK_ACK_REQUESTED type")
)

// ackLabel is the KDF label, null-terminated (18 octets).
var ackLabel = []byte("GROUPKEY-PUSH ACK\x00")

// AckSupported reports whether getvpnd acknowledges with KEK_ACK_REQUESTED
// value t.
func AckSupported(t gdoiwire.AckType) bool {
	return t == gdoiwire.AckKEKSHA256 || t == gdoiwire.AckKEKSHA512
}

// ackPRF is the prf and L (bits) of KEK_ACK_REQUESTED value t.
func ackPRF(t gdoiwire.AckType) (func() hash.Hash, uint16, error) {
	switch t {
	case gdoiwire.AckKEKSHA256:
		return sha256.New, 512, nil
	case gdoiwire.AckKEKSHA512:
		return sha512.New, 1024, nil
	}
	return nil, 0, fmt.Errorf("%w %d", ErrAckType, t)
}

// AckKey is ack_key for acknowledgements of PUSHes under kek, of the type
// kek.Ack asks for.
func AckKey(kek *KEK) ([]byte, error) {
	prf, l, err := ackPRF(kek.Ack)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(prf, kek.Key)
	mac.Write(ackLabel)
	mac.Write(kek.SPI[:])
	mac.Write(binary.BigEndian.AppendUint16(nil, l))
	return mac.Sum(nil), nil
}

// ackHash is HASH = prf(ack_key, SEQ | ID) over the payloads b.
func ackHash(kek *KEK, b []byte) ([]byte, error) {
	key, err := AckKey(kek)
	if err != nil {
		return nil, err
	}
	prf, _, _ := ackPRF(kek.Ack)
	mac := hmac.New(prf, key)
	mac.Write(b)
	return mac.Sum(nil), nil
}

// SealAck builds the acknowledgement of the PUSH with sequence number seq,
// received under kek (whose SPI is the PUSH's cookies), from the GM whose
// latest GROUPKEY-PULL came from gm.
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

// ParseAck parses an acknowledgement without any cryptography, so that a
// KS can find the KEK and drop duplicates first.
func ParseAck(pkt []byte) (*Ack, error) {
	m, err := isakmp.ParseMessage(pkt, gdoiwire.Decoder{})
	if err != nil {
		return nil, err
	}
	if m.Header.Exchange != isakmp.ExchangeGroupkeyPushAck {
		return nil, fmt.Errorf("exchange %v is not GROUPKEY-PUSH-ACK", m.Header.Exchange)
	}
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return nil, errors.New("GROUPKEY-PUSH-ACK with the encryption flag")
	}
	if m.Layout() != "HASH,SEQ,ID" {
		return nil, fmt.Errorf("GROUPKEY-PUSH-ACK layout %s, want HASH,SEQ,ID", m.Layout())
	}
	id := m.Payloads[2].(*isakmp.ID)
	gm, err := isakmp.DataAddr(id.IDType, id.Data)
	if err != nil {
		return nil, fmt.Errorf("GROUPKEY-PUSH-ACK identity: %w", err)
	}
	offs, end := m.Offsets()
	return &Ack{
		Cookies: m.Header.Cookies(), Seq: m.Payloads[1].(*gdoiwire.SEQ).Seq, GM: gm,
		hash: m.Payloads[0].(*isakmp.Hash).Data, covered: pkt[offs[1]:end],
	}, nil
}

// Verify checks the acknowledgement's HASH with kek, whose SPI must be its
// cookie pair.
func (a *Ack) Verify(kek *KEK) error {
	if a.Cookies != kek.SPI {
		return ErrPushKEK
	}
	want, err := ackHash(kek, a.covered)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, a.hash) {
		return ErrAckHash
	}
	return nil
}

// OpenAck parses an acknowledgement and verifies its HASH with kek.
func OpenAck(pkt []byte, kek *KEK) (*Ack, error) {
	a, err := ParseAck(pkt)
	if err != nil {
		return nil, err
	}
	if err := a.Verify(kek); err != nil {
		return nil, err
	}
	return a, nil
}
