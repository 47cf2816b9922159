package isakmp

// Hash is the Hash payload (RFC 2408 §3.11): HASH_I/HASH_R in phase 1,
// HASH(1)..HASH(4) in GROUPKEY-PULL.
type Hash struct {
	Data []byte
}

// Type returns PayloadHash.
func (*Hash) Type() PayloadType { return PayloadHash }

// Append appends the hash data.
func (p *Hash) Append(b []byte) []byte { return append(b, p.Data...) }
