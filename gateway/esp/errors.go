package esp

import "errors"

// The errors of Seal and Open, besides the *espwire.ParseError of a short
// or malformed packet, and of SealTunnel and OpenTunnel.
var (
	// ErrAuth reports a packet whose ICV does not verify: tampered, wrong
	// key, wrong SA, or (ESN) wrong high-order sequence bits.
	ErrAuth = errors.New("esp: integrity check failed")
	// ErrOverlap reports an Open whose dst overlaps the packet other than
	// exactly at the start of the ciphertext.
	ErrOverlap = errors.New("esp: output overlaps the packet")
	// ErrIVLen reports a Seal IV of the wrong length for the transform.
	ErrIVLen = errors.New("esp: wrong IV length")
	// ErrSeqOverflow reports a sequence number above 2^32-1 on an SA
	// without extended sequence numbers.
	ErrSeqOverflow = errors.New("esp: sequence number does not fit 32 bits (SA without ESN)")
	// ErrESN reports Open on an ESN SA (use OpenESN) or OpenESN on an SA
	// without ESN.
	ErrESN = errors.New("esp: extended sequence number mode mismatch")
	// ErrUnsupported reports a valid transform this package cannot run.
	ErrUnsupported = errors.New("esp: transform not supported")

	// Tunnel mode.
	// ErrInner reports an inner packet that is not one whole IPv4 packet.
	ErrInner = errors.New("esp: inner packet is not a well-formed IPv4 packet")
	// ErrOuter reports an outer packet that is not an unfragmented IPv4
	// ESP packet.
	ErrOuter = errors.New("esp: not an unfragmented IPv4 ESP packet")
	// ErrFragment reports an outer ESP packet that is an IP fragment.
	ErrFragment = errors.New("esp: ESP packet is an IP fragment")
	// ErrTooBig reports a tunnel packet above 65535 octets.
	ErrTooBig = errors.New("esp: tunnel packet above 65535 octets")
	// ErrDummy reports a dummy packet (next header 59), to be discarded.
	ErrDummy = errors.New("esp: dummy packet (next header 59)")
	// ErrNextHeader reports a decrypted payload that is not IPv4.
	ErrNextHeader = errors.New("esp: next header is not IPv4 (4)")
	// ErrShort reports an ESP packet too short to hold the header, IV,
	// smallest ciphertext and ICV of its SA's transform (a truncated or
	// forged packet). The error also wraps an *espwire.ParseError.
	ErrShort = errors.New("esp: ESP packet too short for its transform")
)
