package isakmp

// Delete is the Delete payload (RFC 2408 §3.15). In a GROUPKEY-PUSH it
// removes TEKs (ProtoIPsecESP, 4-octet SPIs) or the KEK (16-octet SPI) with
// DOI 2.
type Delete struct {
	DOI        uint32
	ProtocolID uint8
	SPISize    uint8
	SPIs       [][]byte // each SPISize octets
}

// Type returns PayloadDelete.
func (*Delete) Type() PayloadType { return PayloadDelete }

// Append appends DOI, protocol, SPI size, number of SPIs and the SPIs.
func (p *Delete) Append(b []byte) []byte {
	b = spiHeader{p.DOI, p.ProtocolID, p.SPISize, uint16(len(p.SPIs))}.append(b)
	for _, spi := range p.SPIs {
		b = append(b, spi...)
	}
	return b
}

// Check reports an SPI whose length is not SPISize, or more SPIs than the
// 2-octet count allows.
func (p *Delete) Check() error {
	if len(p.SPIs) > 0xffff {
		return Errorf(ErrLength, "%d SPIs do not fit the 2-octet count", len(p.SPIs))
	}
	for i, spi := range p.SPIs {
		if len(spi) != int(p.SPISize) {
			return Errorf(ErrLength, "SPI %d has %d octets, SPI size is %d", i+1, len(spi), p.SPISize)
		}
	}
	return nil
}

func parseDelete(b []byte) (*Delete, int, error) {
	h, err := parseSPIHeader(b, "number of SPIs")
	if err != nil {
		return nil, 0, err
	}
	p := &Delete{DOI: h.doi, ProtocolID: h.protocolID, SPISize: h.spiSize}
	count := int(h.field)
	if want := count * int(p.SPISize); want != len(b)-8 {
		return nil, 0, Errorf(ErrLength, "%d SPIs of %d octets need %d octets, %d remaining", count, p.SPISize, want, len(b)-8)
	}
	if p.SPISize == 0 && count > 0 {
		// Zero-octet SPIs identify nothing; refusing them also keeps an
		// 8-octet payload from asking for 65535 slice headers.
		return nil, 0, Errorf(ErrUnsupported, "%d SPIs of 0 octets", count)
	}
	for off := 8; off+int(p.SPISize) <= len(b) && p.SPISize > 0; off += int(p.SPISize) {
		p.SPIs = append(p.SPIs, cloneBytes(b[off:off+int(p.SPISize)]))
	}
	return p, len(b), nil
}
