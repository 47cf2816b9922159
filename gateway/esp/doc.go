// Package esp is getvpnd's ESP data-plane crypto (RFC 4303): keyed
// transforms that seal a payload into an ESP packet and open one back, for
// AES-GCM (RFC 4106), AES-CBC (RFC 3602) with HMAC-SHA-1-96 (RFC 2404) or
// HMAC-SHA-256/384/512 (RFC 4868), and ESP_NULL with an HMAC. The packet
// framing, transform numbers and names live in gateway/wire/esp; security
// associations, anti-replay and tunnel processing build on the Cipher here.
//
// # Buffers and allocations
//
// Seal and Open are append-style: the result is appended to dst, which is
// grown only when its capacity is too small. With a dst of enough capacity
// (wire/esp Transform.SealedLen for Seal, the packet length for Open) neither
// allocates in steady state: AES and GCM state and the HMAC key schedule are
// set up once per Cipher, and the few per-call words (GCM nonce, ESN AAD,
// HMAC state and sum) come from a per-Cipher sync.Pool.
//
// Both work in place. For Seal, the payload may already sit where it goes in
// the packet, at dst[len(dst)+HeaderLen+IVLen:] (a TUN read with headroom);
// for Open, dst may be
// packet[HeaderLen+IVLen:][:0], so the plaintext overwrites the ciphertext.
// Any other overlap of dst's spare capacity with the packet is refused by
// Open with ErrOverlap.
//
// # Concurrency
//
// A *Cipher is safe for concurrent use: any number of goroutines may call
// Seal and Open on one Cipher at the same time. The AES block and GCM AEAD
// are read-only after NewCipher, and every call takes its own scratch from
// the pool. Uniqueness of GCM IVs and sequence numbers across those callers
// is the caller's business (RFC 6054 sender-ID IVs on group SAs).
//
// # Sequence numbers
//
// NewCipher gives a 32-bit sequence number SA. NewCipherESN gives one with
// extended (64-bit) sequence numbers (RFC 4303 §2.2.1): Seal takes the full
// 64-bit number, and OpenESN the high-order 32 bits the receiver inferred
// (RFC 4303 Appendix A), which enter the ICV (appended after the payload for
// HMAC) or the GCM AAD (SPI || Seq high || Seq low, RFC 4106 §5) but are
// never sent.
package esp
