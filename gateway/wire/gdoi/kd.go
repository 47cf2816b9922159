package gdoi

import (
	"encoding/binary"
	"fmt"

	"github.com/getlab/getlab/gateway/wire/internal/enum"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// KDType is the type of a key packet in a KD payload (RFC 6407 §5.6).
type KDType uint8

// Key packet types.
const (
	KDTEK KDType = 1 // SPI: the 4-octet TEK SPI
	KDKEK KDType = 2 // SPI: the 16-octet KEK cookie pair
	KDLKH KDType = 3
	KDSID KDType = 4 // SPI size 0; GROUPKEY-PULL only
)

// String returns "TEK", "KEK", "LKH", "SID", or "KD-<n>".
func (t KDType) String() string { return enum.Name(kdNames, t, "KD-%d") }

var kdNames = map[KDType]string{KDTEK: "TEK", KDKEK: "KEK", KDLKH: "LKH", KDSID: "SID"}

func (t KDType) known() bool { return t >= KDTEK && t <= KDSID }

// KD is the Key Download payload (RFC 6407 §5.6): Number of Key Packets (2),
// RESERVED2 (2), then the key packets.
type KD struct {
	Packets []KeyPacket
}

// KeyPacket is one key packet of a KD:
//
//	KD Type (1) | RESERVED (1) | KD Length (2, whole key packet) | SPI Size (1) | SPI | attributes
//
// For a KD type other than TEK, KEK, LKH and SID everything after the
// 4-octet key packet header is kept in Body, exactly.
type KeyPacket struct {
	Type       KDType
	SPI        []byte
	Attributes isakmp.Attributes // by type: TEKAlgorithmKey..., KEKAlgorithmKey..., SIDNumberOfBits...
	Body       []byte            // unknown KD types only
}

// Type returns isakmp.PayloadKD.
func (*KD) Type() isakmp.PayloadType { return isakmp.PayloadKD }

// Append appends the KD body.
func (kd *KD) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(kd.Packets)))
	b = append(b, 0, 0)
	for i := range kd.Packets {
		b = kd.Packets[i].Append(b)
	}
	return b
}

// Append appends the key packet, header included.
func (kp *KeyPacket) Append(b []byte) []byte {
	start := len(b)
	b = append(b, uint8(kp.Type), 0, 0, 0)
	if kp.Type.known() {
		b = append(b, uint8(len(kp.SPI)))
		b = append(b, kp.SPI...)
		b = kp.Attributes.Append(b)
	} else {
		b = append(b, kp.Body...)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// Get returns the first key packet of type t with the given SPI (any SPI if
// spi is nil).
func (kd *KD) Get(t KDType, spi []byte) (*KeyPacket, bool) {
	for i := range kd.Packets {
		kp := &kd.Packets[i]
		if kp.Type == t && (spi == nil || string(kp.SPI) == string(spi)) {
			return kp, true
		}
	}
	return nil, false
}

// Check reports a KD that cannot be encoded: too many key packets, an SPI
// longer than its size octet, a key packet longer than its length field.
func (kd *KD) Check() error {
	if len(kd.Packets) > 0xffff {
		return isakmp.Errorf(isakmp.ErrLength, "%d key packets do not fit the 2-octet count", len(kd.Packets))
	}
	for i := range kd.Packets {
		kp := &kd.Packets[i]
		if len(kp.SPI) > 0xff {
			return isakmp.Errorf(isakmp.ErrLength, "key packet %d (%s): SPI of %d octets does not fit the 1-octet SPI size", i+1, kp.Type, len(kp.SPI))
		}
		if n := len(kp.Append(nil)); n > 0xffff {
			return isakmp.Errorf(isakmp.ErrLength, "key packet %d (%s): length %d does not fit in 2 octets", i+1, kp.Type, n)
		}
		if err := kp.Attributes.Check(); err != nil {
			return fmt.Errorf("key packet %d (%s): %w", i+1, kp.Type, err)
		}
	}
	return nil
}

func parseKD(b []byte) (*KD, int, error) {
	if len(b) < 4 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "number of key packets and RESERVED2 need 4 octets, %d remaining", len(b))
	}
	count := int(binary.BigEndian.Uint16(b[0:2]))
	kd := &KD{}
	for off, i := 4, 1; off < len(b); i++ {
		kp, n, err := parseKeyPacket(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("key packet %d%s: %w", i, kpType(b[off:]), err)
		}
		kd.Packets = append(kd.Packets, kp)
		off += n
	}
	if count != len(kd.Packets) {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "%d key packets announced, %d present", count, len(kd.Packets))
	}
	return kd, len(b), nil
}

// kpType returns " (TEK)" for a key packet whose type octet is present.
func kpType(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return " (" + KDType(b[0]).String() + ")"
}

func parseKeyPacket(b []byte) (KeyPacket, int, error) {
	if len(b) < 4 {
		return KeyPacket{}, 0, isakmp.Errorf(isakmp.ErrShort, "key packet header needs 4 octets, %d remaining", len(b))
	}
	kp := KeyPacket{Type: KDType(b[0])}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 4 {
		return KeyPacket{}, 0, isakmp.Errorf(isakmp.ErrLength, "KD length %d smaller than the 4-octet key packet header", n)
	}
	if n > len(b) {
		return KeyPacket{}, 0, isakmp.Errorf(isakmp.ErrLength, "KD length %d exceeds %d remaining", n, len(b))
	}
	body := b[4:n]
	if !kp.Type.known() {
		kp.Body = cloneBytes(body)
		return kp, n, nil
	}
	if len(body) < 1 {
		return KeyPacket{}, 0, isakmp.Errorf(isakmp.ErrLength, "KD length %d leaves no room for the SPI size", n)
	}
	spiSize := int(body[0])
	if spiSize > len(body)-1 {
		return KeyPacket{}, 0, isakmp.Errorf(isakmp.ErrLength, "SPI size %d exceeds %d remaining", spiSize, len(body)-1)
	}
	kp.SPI = cloneBytes(body[1 : 1+spiSize])
	attrs, err := isakmp.ParseAttributes(body[1+spiSize:])
	if err != nil {
		return KeyPacket{}, 0, err
	}
	kp.Attributes = attrs
	return kp, n, nil
}
