package isakmp

// Raw is a payload this codec does not decode (NAT-D, NAT-OA, a private
// type, or a GDOI payload outside exchanges 32/33): its type and body,
// exactly, so that re-encoding it is byte-identical.
type Raw struct {
	Kind PayloadType
	Body []byte
}

// Type returns r.Kind.
func (r *Raw) Type() PayloadType { return r.Kind }

// Append appends the body.
func (r *Raw) Append(b []byte) []byte { return append(b, r.Body...) }

func parseRaw(t PayloadType, b []byte) (*Raw, int, error) {
	return &Raw{Kind: t, Body: cloneBytes(b)}, len(b), nil
}
