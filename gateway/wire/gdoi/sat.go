package gdoi

import (
	"encoding/binary"
	"fmt"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TEKProtocol is the Protocol-ID of a SAT (RFC 6407 §5.4).
type TEKProtocol uint8

// TEK protocol IDs.
const (
	TEKProtoESP TEKProtocol = 1 // GDOI_PROTO_IPSEC_ESP
	TEKProtoAH  TEKProtocol = 2 // GDOI_PROTO_IPSEC_AH
	// TEKProtoBypass is getvpnd's carrier for a key server's deny entries,
	// from the private-use range (RFC 6407 §5.4: 128-255). GETVPN key
	// servers download their deny entries with the permits, and the RFCs
	// define no payload for them. The body has the ESP layout with
	// Transform ID 0, SPI 0 and no attributes: selectors only, no SA.
	TEKProtoBypass TEKProtocol = 0xf0
)

// String returns "ESP", "AH", or "TEK-PROTO-<n>".
func (p TEKProtocol) String() string {
	switch p {
	case TEKProtoESP:
		return "ESP"
	case TEKProtoAH:
		return "AH"
	case TEKProtoBypass:
		return "BYPASS"
	}
	return fmt.Sprintf("TEK-PROTO-%d", uint8(p))
}

// SAT is the SA TEK payload (RFC 6407 §5.4): the policy of one data-security
// SA. For ESP and AH the protocol-specific part is decoded (§5.4.1):
//
//	Protocol (1) | SRC ID Type (1) | SRC ID Port (2) | SRC ID Data Len (2) | SRC ID Data
//	DST ID Type (1) | DST ID Port (2) | DST ID Data Len (2) | DST ID Data
//	Transform ID (1) | SPI (4) | RFC 2407 SA attributes
//
// For other protocol IDs it is kept in Body, exactly.
type SAT struct {
	ProtocolID  TEKProtocol
	Protocol    uint8 // IP protocol of the selectors, 0 for any
	Src, Dst    ID    // traffic selectors
	TransformID uint8 // IPsec DOI ESP or AH transform ID (ESP_AES-GCM_16 is 20)
	SPI         uint32
	Attributes  isakmp.Attributes // SALifeType, SALifeDuration, EncapsulationMode, ...

	// IDLen1 is the wire form: SRC/DST ID Data Len are 1 octet (gdoid)
	// rather than 2. The decoder sets the form it found; Profile.Apply sets
	// a profile's.
	IDLen1 bool

	// Body is the protocol-specific payload for a ProtocolID other than ESP
	// and AH (nil otherwise).
	Body []byte
}

// Type returns isakmp.PayloadSAT.
func (*SAT) Type() isakmp.PayloadType { return isakmp.PayloadSAT }

func (s *SAT) structured() bool { return s.ProtocolID.structured() }

// structured reports whether the protocol-specific part has the ESP layout
// the codec decodes.
func (p TEKProtocol) structured() bool {
	return p == TEKProtoESP || p == TEKProtoAH || p == TEKProtoBypass
}

// Append appends the SAT body.
func (s *SAT) Append(b []byte) []byte {
	b = append(b, uint8(s.ProtocolID))
	if !s.structured() {
		return append(b, s.Body...)
	}
	b = append(b, s.Protocol)
	b = appendID(b, s.Src, !s.IDLen1)
	b = appendID(b, s.Dst, !s.IDLen1)
	b = append(b, s.TransformID)
	b = binary.BigEndian.AppendUint32(b, s.SPI)
	return s.Attributes.Append(b)
}

// Check reports ID data too long for its length field.
func (s *SAT) Check() error {
	if !s.structured() {
		return nil
	}
	if err := checkID(s.Src, !s.IDLen1); err != nil {
		return fmt.Errorf("SRC ID: %w", err)
	}
	if err := checkID(s.Dst, !s.IDLen1); err != nil {
		return fmt.Errorf("DST ID: %w", err)
	}
	return s.Attributes.Check()
}

// AddressPreservation returns the ADDRESS_PRESERVATION value, the default
// (source and destination) when the attribute is absent.
func (s *SAT) AddressPreservation() AddrPreserve {
	if v, ok := s.Attributes.Uint(AddressPreservation); ok {
		return AddrPreserve(v)
	}
	return DefaultAddrPreserve
}

// Direction returns the SA_DIRECTION value, the default (symmetric) when the
// attribute is absent.
func (s *SAT) Direction() SADir {
	if v, ok := s.Attributes.Uint(SADirection); ok {
		return SADir(v)
	}
	return DefaultSADirection
}

// parseSAT parses a SAT body, trying the profile's ID-length form first.
func parseSAT(b []byte, p Profile) (*SAT, int, error) {
	if len(b) < 1 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "protocol-ID needs 1 octet, 0 remaining")
	}
	proto := TEKProtocol(b[0])
	if !proto.structured() {
		return &SAT{ProtocolID: proto, Body: cloneBytes(b[1:])}, len(b), nil
	}
	return firstForm(b, p.satForms(), parseSATForm)
}

func parseSATForm(b []byte, len1 bool) (*SAT, int, error) {
	if len(b) < 2 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "protocol-ID and protocol need 2 octets, %d remaining", len(b))
	}
	s := &SAT{ProtocolID: TEKProtocol(b[0]), Protocol: b[1], IDLen1: len1}
	off := 2
	var err error
	var n int
	if s.Src, n, err = parseID(b[off:], !len1); err != nil {
		return nil, 0, fmt.Errorf("SRC ID: %w", err)
	}
	off += n
	if s.Dst, n, err = parseID(b[off:], !len1); err != nil {
		return nil, 0, fmt.Errorf("DST ID: %w", err)
	}
	off += n
	if len(b)-off < 5 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "transform ID and SPI need 5 octets, %d remaining", len(b)-off)
	}
	s.TransformID = b[off]
	s.SPI = binary.BigEndian.Uint32(b[off+1 : off+5])
	off += 5
	if s.Attributes, err = isakmp.ParseAttributes(b[off:]); err != nil {
		return nil, 0, err
	}
	return s, len(b), nil
}
