package isakmp

// KE is the Key Exchange payload (RFC 2408 §3.7): the Diffie-Hellman public
// value, big-endian, padded to the group's size.
type KE struct {
	Data []byte
}

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

// Append appends the key exchange data.
func (p *KE) Append(b []byte) []byte { return append(b, p.Data...) }
