package isakmp

// Transform is a Transform payload (RFC 2408 §3.6) inside a proposal. In
// phase 1 its attributes are the IKE attribute classes (AttrEncryptionAlgorithm, ...).
type Transform struct {
	Number     uint8
	ID         uint8 // Transform-ID: TransformKeyIKE in phase 1
	Attributes Attributes
}

// Type returns PayloadTransform.
func (*Transform) Type() PayloadType { return PayloadTransform }

// Append appends the transform body: number, transform ID, RESERVED2 (zero),
// attributes.
func (t *Transform) Append(b []byte) []byte {
	b = append(b, t.Number, t.ID, 0, 0)
	return t.Attributes.Append(b)
}

func parseTransform(b []byte) (Transform, PayloadType, int, error) {
	next, body, n, err := nestedPayload(b, 8)
	if err != nil {
		return Transform{}, 0, 0, err
	}
	attrs, err := ParseAttributes(body[4:])
	if err != nil {
		return Transform{}, 0, 0, err
	}
	return Transform{Number: body[0], ID: body[1], Attributes: attrs}, next, n, nil
}
