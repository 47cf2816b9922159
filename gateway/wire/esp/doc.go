// Package esp is the wire format of the IP Encapsulating Security Payload
// (RFC 4303) as getvpnd's data plane and the bench's decoders see it: the
// header (SPI, 32-bit sequence number), the per-transform framing (IV, ICV,
// padding alignment) that splits a packet into
//
//	SPI | Seq | IV | ciphertext | ICV
//
// without keys, the trailer (padding, pad length, next header) of a decrypted
// payload, and the numbers and names by which a transform is known: IPsec DOI
// ESP transform IDs and Authentication Algorithm attribute values (RFC 2407,
// as carried in GDOI SA TEK payloads, RFC 6407) and the labels of
// Wireshark's ESP SA table.
//
// It is a codec only: no keys, no cryptography, no I/O. Parsing never panics;
// errors for short or malformed input are *ParseError values naming the field
// and its offset, and match ErrShort, ErrLength or ErrPadding with errors.Is.
package esp
