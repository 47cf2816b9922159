package isakmp

// CertRequest is the Certificate Request payload (RFC 2408 §3.10).
type CertRequest struct {
	Encoding  CertEncoding // certificate type requested
	Authority []byte       // acceptable certificate authority (a DER DN for X.509), may be empty
}

// Type returns PayloadCR.
func (*CertRequest) Type() PayloadType { return PayloadCR }

// Append appends the certificate type and authority.
func (p *CertRequest) Append(b []byte) []byte {
	b = append(b, uint8(p.Encoding))
	return append(b, p.Authority...)
}

func parseCertRequest(b []byte) (*CertRequest, int, error) {
	if len(b) < 1 {
		return nil, 0, needShort("certificate type", 1, len(b))
	}
	return &CertRequest{Encoding: CertEncoding(b[0]), Authority: cloneBytes(b[1:])}, len(b), nil
}
