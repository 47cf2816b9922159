package esp

// Packet is an ESP packet split into its fields. The slices alias the input
// given to Split.
type Packet struct {
	Header
	IV []byte
	// Ciphertext is the encrypted payload, padding, pad length and next
	// header (for ESP_NULL the same fields in clear).
	Ciphertext []byte
	ICV        []byte
}

// Split parses the header of the ESP packet b (SPI to end of ICV, no outer IP
// header) and splits the rest by t's IV and ICV lengths, without keys. It
// checks that the packet is long enough for header, IV, a minimal trailer and
// ICV, and that an AES-CBC ciphertext is a whole number of blocks. It does not
// require the 4-octet alignment a sender must keep (RFC 4303 §2.4). t must be
// valid (Transform.Validate).
func (t Transform) Split(b []byte) (Packet, error) {
	h, n, err := ParseHeader(b)
	if err != nil {
		return Packet{}, err
	}
	ivLen, icvLen, bs := t.IVLen(), t.ICVLen(), t.BlockSize()
	if len(b)-n < ivLen {
		return Packet{}, short("IV", n, ivLen, len(b)-n)
	}
	off := n + ivLen
	minCT := max(bs, TrailerLen)
	if rest := len(b) - off; rest < minCT+icvLen {
		return Packet{}, short("ciphertext and ICV", off, minCT+icvLen, rest)
	}
	ctLen := len(b) - off - icvLen
	if ctLen%bs != 0 {
		return Packet{}, &ParseError{Field: "ciphertext", Offset: off, Err: ErrLength, Want: bs, Have: ctLen}
	}
	return Packet{
		Header:     h,
		IV:         b[n:off:off],
		Ciphertext: b[off : off+ctLen : off+ctLen],
		ICV:        b[off+ctLen:],
	}, nil
}
