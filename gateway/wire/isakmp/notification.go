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
	b = binary.BigEndian.AppendUint32(b, p.DOI)
	b = append(b, p.ProtocolID, uint8(len(p.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(p.MessageType))
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
	if len(b) < 8 {
		return nil, 0, needShort("DOI, protocol, SPI size and message type", 8, len(b))
	}
	p := &Notification{
		DOI:         binary.BigEndian.Uint32(b[0:4]),
		ProtocolID:  b[4],
		MessageType: NotifyType(binary.BigEndian.Uint16(b[6:8])),
	}
	spiSize := int(b[5])
	if spiSize > len(b)-8 {
		return nil, 0, Errorf(ErrLength, "SPI size %d exceeds %d remaining", spiSize, len(b)-8)
	}
	p.SPI = cloneBytes(b[8 : 8+spiSize])
	p.Data = cloneBytes(b[8+spiSize:])
	return p, len(b), nil
}
