package isakmp

// Cert is the Certificate payload (RFC 2408 §3.9).
type Cert struct {
	Encoding CertEncoding // CertX509Signature for an X.509 certificate
	Data     []byte
}

// Type returns PayloadCert.
func (*Cert) Type() PayloadType { return PayloadCert }

// Append appends the certificate encoding and data.
func (p *Cert) Append(b []byte) []byte {
	b = append(b, uint8(p.Encoding))
	return append(b, p.Data...)
}

func parseCert(b []byte) (*Cert, int, error) {
	if len(b) < 1 {
		return nil, 0, needShort("certificate encoding", 1, len(b))
	}
	return &Cert{Encoding: CertEncoding(b[0]), Data: cloneBytes(b[1:])}, len(b), nil
}
