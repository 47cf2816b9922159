package isakmp

// Nonce is the Nonce payload (RFC 2408 §3.13). Its body is what the IKEv1
// and GDOI hashes call Ni_b / Nr_b.
type Nonce struct {
	Data []byte
}

// Type returns PayloadNonce.
func (*Nonce) Type() PayloadType { return PayloadNonce }

// Append appends the nonce data.
func (p *Nonce) Append(b []byte) []byte { return append(b, p.Data...) }
