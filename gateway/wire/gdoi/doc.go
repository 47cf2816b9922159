// Package gdoi is the wire format of the GDOI payloads (RFC 6407, which
// obsoletes RFC 3547) carried in ISAKMP messages of exchanges 32
// (GROUPKEY-PULL) and 33 (GROUPKEY-PUSH): the GDOI SA payload with its
// nested SA KEK (SAK), Group Associated Policy (GAP) and SA TEK (SAT)
// payloads, the Key Download payload (KD) with its TEK, KEK, LKH and SID key
// packets, and the Sequence Number payload (SEQ).
//
// It is a codec only, built on package isakmp: no cryptography, no I/O, no
// panics on any input. Decoder plugs it into isakmp.ParseMessage; errors are
// *isakmp.Error values naming the payload (nested ones too) and its absolute
// offset:
//
//	isakmp: SA payload at offset 60: SAT payload at offset 112: DST ID: ID data length 300 exceeds 12 remaining
//
// # Implementation differences
//
// Implementations disagree on a few field widths. The decoder accepts every
// known variant; the encoder writes the RFC form unless told otherwise. A
// Profile names the variants of one implementation (ProfileRFC, ProfileGdoid,
// ProfileTrustCore):
//
//   - SAK SRC/DST ID Data Len: 1 octet in the RFC 3547 figure, in Wireshark
//     4.0 (dissect_sa_kek) and in gdoid; 2 octets in TrustCore
//     (Profile.SAKIDLen2).
//   - SAK tail: SPI (16) and RESERVED2 (4) before the KEK attributes in
//     RFC 6407, Wireshark 4.0 and TrustCore; gdoid writes and expects two
//     more octets (its GDOI_SA_KEK_END is SPI, RESERVED2 (4), POP_KEYLEN (2))
//     (Profile.SAKExtraPOPKeyLen).
//   - SAT SRC/DST ID Data Len: 2 octets in Wireshark 4.0 (dissect_sa_tek,
//     which flags 1 octet as malformed) and TrustCore; 1 octet in gdoid
//     (Profile.SATIDLen1). The RFC 6407 §5.4.1 text could not be read when
//     this was written; the default follows Wireshark and TrustCore.
//
// Three more switches are not widths but encodings, and the byte orders are
// not visible on the wire, so they apply to reading too:
//
//   - TEK selectors for one address: a /32 ID_IPV4_ADDR_SUBNET (RFC form)
//     or ID_IPV4_ADDR (gdoid, Profile.SATSingleAddr); both always decode.
//   - SAT addresses in host byte order (gdoid's "plain" configuration on a
//     little-endian host; Profile.SATAddrHostOrder, mapped by
//     Profile.SATAddr).
//   - The KEY_ID group number in host byte order (the same gdoid
//     configuration; Profile.KeyIDHostOrder, mapped by Profile.KeyIDWire).
//
// Decoding tries the profile's form first and, unless Profile.Strict is set,
// the other forms after it; the decoded SAK and SAT record the form that
// parsed (SAK.IDLen2, SAK.ExtraPOPKeyLen, SAT.IDLen1), and Append writes that
// form again, so a decoded payload re-encodes byte for byte. A form "parses"
// when every length fits and the attributes fill the rest of the payload
// exactly; when two forms both parse, the profile's (then the RFC's) wins.
// Profile.Apply switches payloads built in code to a profile's forms.
package gdoi
