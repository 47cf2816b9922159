package isakmp

import (
	"encoding/binary"
	"fmt"
)

// Attribute is a data attribute (RFC 2408 §3.3) in either of its two forms,
// kept exactly as it was on the wire:
//
//   - basic (TV, AF=1): a 2-octet Value in place of the length;
//   - variable (TLV, AF=0): a 2-octet length and Data.
//
// RFC 2409 Appendix A lets an attribute of class "V" (a lifetime, for
// example) be sent in basic form when its value fits in two octets, and many
// implementations send lifetimes as 4-octet TLVs: read integers with Uint,
// which accepts both.
type Attribute struct {
	Type  uint16 // attribute type, AF bit excluded (0..0x7fff)
	Basic bool   // AF=1: TV form, the value is Value
	Value uint16 // value of a basic attribute
	Data  []byte // value of a variable attribute (nil when empty)
}

// BasicAttr returns a basic (TV) attribute.
func BasicAttr(t, v uint16) Attribute { return Attribute{Type: t, Basic: true, Value: v} }

// VarAttr returns a variable (TLV) attribute holding a copy of data.
func VarAttr(t uint16, data []byte) Attribute {
	return Attribute{Type: t, Data: cloneBytes(data)}
}

// UintAttr returns an attribute holding v: basic if v fits in two octets,
// else variable with a 4-octet (or, above 2^32-1, 8-octet) big-endian value.
// Use it for attributes of class "V" such as lifetimes.
func UintAttr(t uint16, v uint64) Attribute {
	switch {
	case v <= 0xffff:
		return BasicAttr(t, uint16(v))
	case v <= 0xffffffff:
		return Attribute{Type: t, Data: binary.BigEndian.AppendUint32(nil, uint32(v))}
	default:
		return Attribute{Type: t, Data: binary.BigEndian.AppendUint64(nil, v)}
	}
}

// Uint returns the attribute's value as an integer: the Value of a basic
// attribute, or the big-endian Data of a variable one of 1 to 8 octets. ok is
// false for a variable attribute of another length.
func (a Attribute) Uint() (v uint64, ok bool) {
	if a.Basic {
		return uint64(a.Value), true
	}
	if len(a.Data) == 0 || len(a.Data) > 8 {
		return 0, false
	}
	for _, c := range a.Data {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// Len returns the attribute's length on the wire.
func (a Attribute) Len() int {
	if a.Basic {
		return 4
	}
	return 4 + len(a.Data)
}

// Append appends the attribute in its wire form to b.
func (a Attribute) Append(b []byte) []byte {
	t := a.Type & 0x7fff
	if a.Basic {
		b = binary.BigEndian.AppendUint16(b, t|0x8000)
		return binary.BigEndian.AppendUint16(b, a.Value)
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
	return append(b, a.Data...)
}

// String formats the attribute as "t=14 v=128" (basic) or "t=12 l=4 00015180"
// (variable, value in hex).
func (a Attribute) String() string {
	if a.Basic {
		return fmt.Sprintf("t=%d v=%d", a.Type, a.Value)
	}
	return fmt.Sprintf("t=%d l=%d %x", a.Type, len(a.Data), a.Data)
}

// Check reports an attribute that cannot be encoded: a type above 0x7fff or
// a variable value longer than 65535 octets.
func (a Attribute) Check() error {
	if a.Type > 0x7fff {
		return Errorf(ErrLength, "attribute type %d does not fit in 15 bits", a.Type)
	}
	if !a.Basic && len(a.Data) > 0xffff {
		return Errorf(ErrLength, "attribute type %d: %d octets do not fit a 2-octet length", a.Type, len(a.Data))
	}
	return nil
}

// ParseAttribute parses one attribute at the start of b and returns it with
// the number of octets consumed.
func ParseAttribute(b []byte) (Attribute, int, error) {
	a, n, err := peekAttribute(b)
	a.Data = cloneBytes(a.Data)
	return a, n, err
}

// peekAttribute is ParseAttribute without the copy: a variable-length
// attribute's value is b's own octets.
func peekAttribute(b []byte) (Attribute, int, error) {
	if len(b) < 4 {
		return Attribute{}, 0, needShort("attribute header", 4, len(b))
	}
	t := binary.BigEndian.Uint16(b[0:2])
	v := binary.BigEndian.Uint16(b[2:4])
	if t&0x8000 != 0 {
		return Attribute{Type: t & 0x7fff, Basic: true, Value: v}, 4, nil
	}
	n := int(v)
	if n > len(b)-4 {
		return Attribute{}, 0, Errorf(ErrLength, "attribute length %d exceeds %d remaining", n, len(b)-4)
	}
	return Attribute{Type: t, Data: b[4 : 4+n]}, 4 + n, nil
}

// Attributes is a list of data attributes in wire order.
type Attributes []Attribute

// ParseAttributes parses b as a sequence of attributes that fills it exactly.
// An empty b gives a nil list. It allocates twice at most, whatever the
// number of attributes: the list, and one buffer that the values of the
// variable-length attributes share (each capped at its own length).
func ParseAttributes(b []byte) (Attributes, error) {
	count, data := 0, 0
	for off := 0; off < len(b); count++ {
		a, n, err := peekAttribute(b[off:])
		if err != nil {
			return nil, err
		}
		data += len(a.Data)
		off += n
	}
	if count == 0 {
		return nil, nil
	}
	l := make(Attributes, 0, count)
	buf := make([]byte, 0, data)
	for off := 0; off < len(b); {
		a, n, _ := peekAttribute(b[off:])
		if len(a.Data) > 0 {
			start := len(buf)
			buf = append(buf, a.Data...)
			a.Data = buf[start:len(buf):len(buf)]
		} else {
			a.Data = nil // as ParseAttribute gives it
		}
		l = append(l, a)
		off += n
	}
	return l, nil
}

// Append appends the attributes in order to b.
func (l Attributes) Append(b []byte) []byte {
	for _, a := range l {
		b = a.Append(b)
	}
	return b
}

// Len returns the attributes' length on the wire.
func (l Attributes) Len() int {
	n := 0
	for _, a := range l {
		n += a.Len()
	}
	return n
}

// Get returns the first attribute of type t.
func (l Attributes) Get(t uint16) (Attribute, bool) {
	for _, a := range l {
		if a.Type == t {
			return a, true
		}
	}
	return Attribute{}, false
}

// All returns every attribute of type t, in order.
func (l Attributes) All(t uint16) []Attribute {
	var out []Attribute
	for _, a := range l {
		if a.Type == t {
			out = append(out, a)
		}
	}
	return out
}

// Uint returns the value of the first attribute of type t as an integer (see
// Attribute.Uint). ok is false if there is none or it is not an integer.
func (l Attributes) Uint(t uint16) (v uint64, ok bool) {
	a, found := l.Get(t)
	if !found {
		return 0, false
	}
	return a.Uint()
}

// Check reports the first attribute that cannot be encoded.
func (l Attributes) Check() error {
	for _, a := range l {
		if err := a.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Phase-1 (IKE) attribute classes, RFC 2409 Appendix A, as carried in the
// transforms of a phase-1 SA payload.
const (
	AttrEncryptionAlgorithm uint16 = 1  // B
	AttrHashAlgorithm       uint16 = 2  // B
	AttrAuthMethod          uint16 = 3  // B
	AttrGroupDescription    uint16 = 4  // B
	AttrGroupType           uint16 = 5  // B
	AttrGroupPrime          uint16 = 6  // V
	AttrGroupGeneratorOne   uint16 = 7  // V
	AttrGroupGeneratorTwo   uint16 = 8  // V
	AttrGroupCurveA         uint16 = 9  // V
	AttrGroupCurveB         uint16 = 10 // V
	AttrLifeType            uint16 = 11 // B
	AttrLifeDuration        uint16 = 12 // V
	AttrPRF                 uint16 = 13 // B
	AttrKeyLength           uint16 = 14 // B
	AttrFieldSize           uint16 = 15 // B
	AttrGroupOrder          uint16 = 16 // V
)

var ikeAttrNames = map[uint16]string{
	AttrEncryptionAlgorithm: "Encryption-Algorithm",
	AttrHashAlgorithm:       "Hash-Algorithm",
	AttrAuthMethod:          "Authentication-Method",
	AttrGroupDescription:    "Group-Description",
	AttrGroupType:           "Group-Type",
	AttrGroupPrime:          "Group-Prime",
	AttrGroupGeneratorOne:   "Group-Generator-One",
	AttrGroupGeneratorTwo:   "Group-Generator-Two",
	AttrGroupCurveA:         "Group-Curve-A",
	AttrGroupCurveB:         "Group-Curve-B",
	AttrLifeType:            "Life-Type",
	AttrLifeDuration:        "Life-Duration",
	AttrPRF:                 "PRF",
	AttrKeyLength:           "Key-Length",
	AttrFieldSize:           "Field-Size",
	AttrGroupOrder:          "Group-Order",
}

// IKEAttrName returns the name of a phase-1 attribute class, or "ATTR-<n>".
func IKEAttrName(t uint16) string {
	if s, ok := ikeAttrNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ATTR-%d", t)
}

// Values of the phase-1 attribute classes (RFC 2409 Appendix A and the IANA
// IPsec registry).
const (
	EncDESCBC  uint16 = 1
	Enc3DESCBC uint16 = 5
	EncAESCBC  uint16 = 7

	HashMD5    uint16 = 1
	HashSHA1   uint16 = 2
	HashTiger  uint16 = 3
	HashSHA256 uint16 = 4
	HashSHA384 uint16 = 5
	HashSHA512 uint16 = 6

	AuthPreSharedKey uint16 = 1
	AuthDSS          uint16 = 2
	AuthRSASig       uint16 = 3
	AuthRSAEnc       uint16 = 4
	AuthRevRSAEnc    uint16 = 5
	AuthECDSA256     uint16 = 9
	AuthECDSA384     uint16 = 10
	AuthECDSA521     uint16 = 11

	GroupMODP768  uint16 = 1
	GroupMODP1024 uint16 = 2
	GroupMODP1536 uint16 = 5
	GroupMODP2048 uint16 = 14
	GroupMODP3072 uint16 = 15
	GroupMODP4096 uint16 = 16
	GroupMODP6144 uint16 = 17
	GroupMODP8192 uint16 = 18
	GroupECP256   uint16 = 19
	GroupECP384   uint16 = 20
	GroupECP521   uint16 = 21

	LifeSeconds   uint16 = 1
	LifeKilobytes uint16 = 2
)

// cloneBytes returns a copy of b, or nil if b is empty.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
