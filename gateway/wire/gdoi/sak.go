package gdoi

import (
	"encoding/binary"
	"fmt"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// SAK is the SA KEK payload (RFC 6407 §5.3): the policy of the rekey SA.
//
//	Protocol (1) | SRC ID Type (1) | SRC ID Port (2) | SRC ID Data Len (1) | SRC ID Data
//	DST ID Type (1) | DST ID Port (2) | DST ID Data Len (1) | DST ID Data
//	SPI (16) | RESERVED2 (4) | KEK attributes
type SAK struct {
	Protocol uint8 // IP protocol of the rekey datagrams: 17 (UDP)
	Src      ID    // the KS
	Dst      ID    // the rekey destination (multicast group or GM) and port
	// SPI is the KEK's cookie pair, CKY-I | CKY-R of every GROUPKEY-PUSH
	// header protected by this KEK.
	SPI [16]byte
	// Reserved2 is RESERVED2 as received (RFC 3547: POP Algorithm and POP Key
	// Length); send zero.
	Reserved2  uint32
	Attributes isakmp.Attributes // KEKAlgorithm, KEKKeyLength, KEKKeyLifetime, SigHashAlgorithm, ...

	// Wire form: the zero value is the RFC form. The decoder sets the form
	// it found; Profile.Apply sets a profile's.
	IDLen2         bool   // SRC/DST ID Data Len are 2 octets (TrustCore)
	ExtraPOPKeyLen bool   // two more octets follow RESERVED2 (gdoid)
	POPKeyLen      uint16 // the value of those two octets
}

// Type returns isakmp.PayloadSAK.
func (*SAK) Type() isakmp.PayloadType { return isakmp.PayloadSAK }

// Append appends the SAK body in the form its fields say.
func (s *SAK) Append(b []byte) []byte {
	b = append(b, s.Protocol)
	b = appendID(b, s.Src, s.IDLen2)
	b = appendID(b, s.Dst, s.IDLen2)
	b = append(b, s.SPI[:]...)
	b = binary.BigEndian.AppendUint32(b, s.Reserved2)
	if s.ExtraPOPKeyLen {
		b = binary.BigEndian.AppendUint16(b, s.POPKeyLen)
	}
	return s.Attributes.Append(b)
}

// Check reports ID data too long for its length field.
func (s *SAK) Check() error {
	if err := checkID(s.Src, s.IDLen2); err != nil {
		return fmt.Errorf("SRC ID: %w", err)
	}
	if err := checkID(s.Dst, s.IDLen2); err != nil {
		return fmt.Errorf("DST ID: %w", err)
	}
	return s.Attributes.Check()
}

// parseSAK parses a SAK body, trying the profile's form first.
func parseSAK(b []byte, p Profile) (*SAK, int, error) {
	return firstForm(b, p.sakForms(), parseSAKForm)
}

func parseSAKForm(b []byte, f sakForm) (*SAK, int, error) {
	if len(b) < 1 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "protocol needs 1 octet, 0 remaining")
	}
	s := &SAK{Protocol: b[0], IDLen2: f.idLen2, ExtraPOPKeyLen: f.extra}
	off := 1
	var err error
	var n int
	if s.Src, n, err = parseID(b[off:], f.idLen2); err != nil {
		return nil, 0, fmt.Errorf("SRC ID: %w", err)
	}
	off += n
	if s.Dst, n, err = parseID(b[off:], f.idLen2); err != nil {
		return nil, 0, fmt.Errorf("DST ID: %w", err)
	}
	off += n
	tail := 20
	if f.extra {
		tail = 22
	}
	if len(b)-off < tail {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "SPI and RESERVED2 need %d octets, %d remaining", tail, len(b)-off)
	}
	copy(s.SPI[:], b[off:off+16])
	s.Reserved2 = binary.BigEndian.Uint32(b[off+16 : off+20])
	if f.extra {
		s.POPKeyLen = binary.BigEndian.Uint16(b[off+20 : off+22])
	}
	off += tail
	if s.Attributes, err = isakmp.ParseAttributes(b[off:]); err != nil {
		return nil, 0, err
	}
	return s, len(b), nil
}
