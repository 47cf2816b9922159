package isakmp

// VendorID is the Vendor ID payload (RFC 2408 §3.16).
type VendorID struct {
	Data []byte
}

// Type returns PayloadVendorID.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

// Append appends the vendor ID.
func (p *VendorID) Append(b []byte) []byte { return append(b, p.Data...) }
