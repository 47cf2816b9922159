// Package isakmp is the ISAKMP wire format (RFC 2408) as IKEv1 (RFC 2409)
// and GDOI (RFC 6407) use it: the 28-octet header, the generic payload
// header and the chaining of Next Payload fields, data attributes, and the
// payloads of RFC 2408/2409 (SA with proposals and transforms in its phase-1
// form, KE, ID, CERT, CR, HASH, SIG, NONCE, Notification, Delete, Vendor ID).
// Any payload type without a codec here is kept as a Raw payload, type and
// body exactly, so that re-encoding it is byte-identical.
//
// It is a codec only: no cryptography and no I/O. A payload's Append appends
// its body (everything after the 4-octet generic payload header); the
// generic header and the Next Payload chain are written by AppendPayloads and
// Message.Append, and read by ParsePayloads and ParseMessage.
//
// What a payload's body means can depend on the exchange: in GROUPKEY-PULL
// and GROUPKEY-PUSH (exchanges 32 and 33) the SA payload is a GDOI SA with
// nested SAK/GAP/SAT payloads (package gdoi). A Decoder makes that choice;
// DefaultDecoder decodes the payloads of this package and returns Raw for the
// others.
//
// Decoding never panics. Malformed input gives an *Error naming the payload
// and its absolute offset in the message, wrapping a cause that matches
// ErrShort, ErrLength, ErrChain, ErrVersion or ErrUnsupported with errors.Is:
//
//	isakmp: SA payload at offset 28: proposal 1: transform 2: attribute length 9 exceeds 4 remaining
//
// Decoded values hold copies of the input octets, never slices of it; octet
// fields of length zero decode as nil. Reserved fields are ignored on receipt
// and written as zero (package gdoi keeps the SAK's RESERVED2, see there).
package isakmp
