package isakmp

import "encoding/binary"

// Notification is the Notification payload (RFC 2408 §3.14).
type Notification struct {
	DOI         uint32
	ProtocolID  uint8
	MessageType NotifyType
	SPI         []byte
	Data        []byte
}

// Type returns PayloadNotification.
func (*Notification) Type() PayloadType { return PayloadNotification }

// Append appends DOI, protocol, SPI size, notify message type, SPI and data.
func (p *Notification) Append(b []byte) []byte {
	b = spiHeader{p.DOI, p.ProtocolID, uint8(len(p.SPI)), uint16(p.MessageType)}.append(b)
	b = append(b, p.SPI...)
	return append(b, p.Data...)
}

// Check reports an SPI longer than the 1-octet SPI size allows.
func (p *Notification) Check() error {
	if len(p.SPI) > 0xff {
		return Errorf(ErrLength, "SPI of %d octets does not fit the 1-octet SPI size", len(p.SPI))
	}
	return nil
}

func parseNotification(b []byte) (*Notification, int, error) {
	h, err := parseSPIHeader(b, "message type")
	if err != nil {
		return nil, 0, err
	}
	p := &Notification{DOI: h.doi, ProtocolID: h.protocolID, MessageType: NotifyType(h.field)}
	spiSize := int(h.spiSize)
	if spiSize > len(b)-8 {
		return nil, 0, Errorf(ErrLength, "SPI size %d exceeds %d remaining", spiSize, len(b)-8)
	}
	p.SPI = cloneBytes(b[8 : 8+spiSize])
	p.Data = cloneBytes(b[8+spiSize:])
	return p, len(b), nil
}

// spiHeader is the start that the Notification and Delete payloads share
// (RFC 2408 §3.14, §3.15): DOI, Protocol-ID, SPI Size, then a 2-octet field,
// the Notify Message Type or the number of SPIs.
type spiHeader struct {
	doi        uint32
	protocolID uint8
	spiSize    uint8
	field      uint16
}

// append appends the header's 8 octets.
func (h spiHeader) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.doi)
	b = append(b, h.protocolID, h.spiSize)
	return binary.BigEndian.AppendUint16(b, h.field)
}

// parseSPIHeader reads the header at the start of b; field names the 2-octet
// field in the error for a body too short to hold it.
func parseSPIHeader(b []byte, field string) (spiHeader, error) {
	if len(b) < 8 {
		return spiHeader{}, needShort("DOI, protocol, SPI size and "+field, 8, len(b))
	}
	return spiHeader{
		doi:        binary.BigEndian.Uint32(b[0:4]),
		protocolID: b[4],
		spiSize:    b[5],
		field:      binary.BigEndian.Uint16(b[6:8]),
	}, nil
}
