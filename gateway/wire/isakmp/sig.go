package isakmp

// Signature is the Signature payload (RFC 2408 §3.12): SIG_I/SIG_R in phase
// 1, the KS signature of a GROUPKEY-PUSH.
type Signature struct {
	Data []byte
}

// Type returns PayloadSig.
func (*Signature) Type() PayloadType { return PayloadSig }

// Append appends the signature data.
func (p *Signature) Append(b []byte) []byte { return append(b, p.Data...) }
