package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"

	"github.com/getlab/getlab/gateway/internal/cbc"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// Cipher is the keyed transform of one ESP SA: it seals payloads into ESP
// packets and opens them. Create it with NewCipher or NewCipherESN; it is
// safe for concurrent use and must not be copied.
type Cipher struct {
	t      espwire.Transform
	esn    bool
	ivLen  int
	icvLen int
	align  int

	aead  cipher.AEAD  // AES-GCM
	salt  [4]byte      // AES-GCM nonce prefix (RFC 4106 §4)
	block cipher.Block // AES-CBC or 3DES-CBC

	hashFn  func() hash.Hash // HMAC (AES-CBC, NULL)
	authKey []byte

	pool sync.Pool // *scratch
}

// scratch is the per-call state of Seal and Open.
type scratch struct {
	mac   hash.Hash // HMAC keyed with the SA's integrity key; nil for AES-GCM
	nonce [12]byte  // AES-GCM: salt || IV
	aad   [12]byte  // ESN: SPI || Seq high || Seq low; HMAC: Seq high in aad[:4]
	sum   [64]byte  // full HMAC output
}

// NewCipher returns the Cipher for transform t with 32-bit sequence numbers.
// encKey is the encryption key material: the AES key for AES-CBC, AES key ||
// 4-octet salt for AES-GCM (RFC 4106 §8.1), the 24-octet key for 3DES-CBC
// (RFC 2451), empty for ESP_NULL. authKey is
// the HMAC key (t.AuthKeyLen octets), empty for AES-GCM. The keys are copied.
// AES-GCM-8 is refused with ErrUnsupported: Go's crypto/cipher has no 8-octet
// GCM tag.
func NewCipher(t espwire.Transform, encKey, authKey []byte) (*Cipher, error) {
	return newCipher(t, encKey, authKey, false)
}

// NewCipherESN is NewCipher for an SA with extended sequence numbers.
func NewCipherESN(t espwire.Transform, encKey, authKey []byte) (*Cipher, error) {
	return newCipher(t, encKey, authKey, true)
}

func newCipher(t espwire.Transform, encKey, authKey []byte, esn bool) (*Cipher, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if len(encKey) != t.EncKeyLen() {
		return nil, fmt.Errorf("esp: %v: encryption key material is %d octets, want %d", t, len(encKey), t.EncKeyLen())
	}
	if len(authKey) != t.AuthKeyLen() {
		return nil, fmt.Errorf("esp: %v: integrity key is %d octets, want %d", t, len(authKey), t.AuthKeyLen())
	}
	c := &Cipher{
		t:      t,
		esn:    esn,
		ivLen:  t.IVLen(),
		icvLen: t.ICVLen(),
		align:  t.PadAlign(),
	}
	switch t.ID {
	case espwire.TransformAESGCM12, espwire.TransformAESGCM16:
		keyLen := t.KeyBits / 8
		b, err := aes.NewCipher(encKey[:keyLen])
		if err != nil {
			return nil, fmt.Errorf("esp: %v: %w", t, err)
		}
		if c.aead, err = cipher.NewGCMWithTagSize(b, c.icvLen); err != nil {
			return nil, fmt.Errorf("esp: %v: %w", t, err)
		}
		copy(c.salt[:], encKey[keyLen:])
	case espwire.TransformAESCBC:
		b, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("esp: %v: %w", t, err)
		}
		c.block = b
	case espwire.Transform3DES:
		// Interop with peers that still offer it (gdoid's TEKs); the same
		// CBC code runs with DES-EDE3's 8-octet block.
		b, err := des.NewTripleDESCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("esp: %v: %w", t, err)
		}
		c.block = b
	case espwire.TransformNULL:
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, t)
	}
	if !t.Combined() {
		c.hashFn = hashFor(t.Auth)
		c.authKey = append([]byte(nil), authKey...)
	}
	c.pool.New = func() any {
		s := new(scratch)
		if c.hashFn != nil {
			s.mac = hmac.New(c.hashFn, c.authKey)
		}
		return s
	}
	return c, nil
}

// Transform returns the transform c was created for.
func (c *Cipher) Transform() espwire.Transform { return c.t }

// MinLen is the length of the shortest ESP packet (SPI to end of ICV) the
// transform can produce: header, IV, one block (at least the trailer) of
// ciphertext and ICV.
func (c *Cipher) MinLen() int {
	return espwire.HeaderLen + c.ivLen + max(c.t.BlockSize(), espwire.TrailerLen) + c.icvLen
}

// ESN reports whether c uses extended sequence numbers.
func (c *Cipher) ESN() bool { return c.esn }

// Seal appends to dst the ESP packet SPI | Seq | IV | ciphertext | ICV that
// carries payload with the given next header (4 for an inner IPv4 packet in
// tunnel mode, 41 for IPv6), padded to the transform's alignment with the
// RFC 4303 pattern 1, 2, 3, .... On an SA without ESN, seq must fit 32 bits;
// with ESN its low 32 bits are sent and the high 32 bits enter the ICV.
//
// iv must be IVLen octets: for AES-GCM unique per packet under the key (never
// repeat an IV: RFC 4106 §3.1, RFC 6054 sender IDs on group SAs), for
// AES-CBC unpredictable (random, RFC 3602 §3), empty for ESP_NULL.
//
// payload may lie in dst's spare capacity (it is moved before anything else
// is written; exactly at dst[len(dst)+HeaderLen+IVLen:] it is sealed in
// place); iv must not. On error Seal returns dst unchanged.
func (c *Cipher) Seal(dst []byte, spi uint32, seq uint64, iv []byte, nextHeader byte, payload []byte) ([]byte, error) {
	if len(iv) != c.ivLen {
		return dst, fmt.Errorf("%w: %d octets, %v needs %d", ErrIVLen, len(iv), c.t, c.ivLen)
	}
	if !c.esn && seq > math.MaxUint32 {
		return dst, ErrSeqOverflow
	}
	padLen := espwire.PadLen(len(payload), c.align)
	hdrLen := espwire.HeaderLen + c.ivLen
	ptLen := len(payload) + padLen + espwire.TrailerLen
	ret, out := sliceForAppend(dst, hdrLen+ptLen+c.icvLen)

	// The payload first: it may sit where it goes (in place), or anywhere in
	// out; copy is a memmove.
	copy(out[hdrLen:], payload)
	binary.BigEndian.PutUint32(out[0:4], spi)
	binary.BigEndian.PutUint32(out[4:8], uint32(seq))
	ivp := out[espwire.HeaderLen:hdrLen]
	copy(ivp, iv)
	tr := out[hdrLen+len(payload) : hdrLen+ptLen]
	for i := range padLen {
		tr[i] = byte(i + 1)
	}
	tr[padLen], tr[padLen+1] = byte(padLen), nextHeader
	pt := out[hdrLen : hdrLen+ptLen]

	s := c.pool.Get().(*scratch)
	if c.aead != nil {
		aad := out[:espwire.HeaderLen]
		if c.esn {
			aad = s.esnAAD(spi, uint32(seq>>32), uint32(seq))
		}
		c.aead.Seal(pt[:0], s.gcmNonce(c.salt, ivp), pt, aad)
	} else {
		if c.block != nil {
			cbc.Encrypt(c.block, ivp, pt)
		}
		icv := s.hmac(out[:hdrLen+ptLen], c.esn, uint32(seq>>32))
		copy(out[hdrLen+ptLen:], icv[:c.icvLen])
	}
	c.pool.Put(s)
	return ret, nil
}

// Open verifies and decrypts the ESP packet (SPI to end of ICV) and appends
// its payload, without padding and trailer, to dst; it returns the next
// header. For AES-CBC and NULL the ICV is checked (in constant time) before
// anything is decrypted; the padding is checked after decryption. A packet
// that does not verify gives ErrAuth; a short or malformed one an
// *espwire.ParseError (errors.Is ErrShort, ErrLength, ErrPadding) whose
// Offset is an offset in packet, also for padding errors found after
// decryption.
//
// The payload is a plain copy of what the sender sealed: a dummy packet
// (next header 59) is returned like any other. dst may be nil, disjoint from
// packet, or packet[HeaderLen+IVLen:][:0] to decrypt in place. On error Open
// returns dst unchanged (in place, the ciphertext may have been overwritten).
func (c *Cipher) Open(dst, packet []byte) (payload []byte, nextHeader byte, err error) {
	if c.esn {
		return dst, 0, ErrESN
	}
	return c.open(dst, packet, 0)
}

// OpenESN is Open for an SA with extended sequence numbers; seqHi is the
// high-order half of the sequence number that the receiver's replay window
// infers for this packet (RFC 4303 Appendix A).
func (c *Cipher) OpenESN(dst, packet []byte, seqHi uint32) (payload []byte, nextHeader byte, err error) {
	if !c.esn {
		return dst, 0, ErrESN
	}
	return c.open(dst, packet, seqHi)
}

func (c *Cipher) open(dst, packet []byte, seqHi uint32) ([]byte, byte, error) {
	p, err := c.t.Split(packet)
	if err != nil {
		return dst, 0, err
	}
	hdrLen := espwire.HeaderLen + c.ivLen
	ret, out := sliceForAppend(dst, len(p.Ciphertext))
	if anyOverlap(out, packet) && &out[0] != &packet[hdrLen] {
		return dst, 0, ErrOverlap
	}

	s := c.pool.Get().(*scratch)
	defer c.pool.Put(s)
	if c.aead != nil {
		aad := packet[:espwire.HeaderLen]
		if c.esn {
			aad = s.esnAAD(p.SPI, seqHi, p.Seq)
		}
		if _, err := c.aead.Open(out[:0], s.gcmNonce(c.salt, p.IV), packet[hdrLen:], aad); err != nil {
			return dst, 0, ErrAuth
		}
	} else {
		icv := s.hmac(packet[:len(packet)-c.icvLen], c.esn, seqHi)
		if !hmac.Equal(icv[:c.icvLen], p.ICV) {
			return dst, 0, ErrAuth
		}
		if c.block != nil {
			cbc.Decrypt(c.block, p.IV, out, p.Ciphertext)
		} else {
			copy(out, p.Ciphertext)
		}
	}
	tr, n, err := espwire.ParseTrailer(out)
	if err != nil {
		var pe *espwire.ParseError
		if errors.As(err, &pe) {
			pe.Offset += hdrLen // plaintext and ciphertext line up: report the packet offset
		}
		return dst, 0, err
	}
	return ret[:len(dst)+n], tr.NextHeader, nil
}

func (s *scratch) gcmNonce(salt [4]byte, iv []byte) []byte {
	copy(s.nonce[:4], salt[:])
	copy(s.nonce[4:], iv)
	return s.nonce[:]
}

// esnAAD is the AES-GCM AAD of an ESN SA: SPI || Seq high || Seq low
// (RFC 4106 §5).
func (s *scratch) esnAAD(spi, hi, lo uint32) []byte {
	binary.BigEndian.PutUint32(s.aad[0:4], spi)
	binary.BigEndian.PutUint32(s.aad[4:8], hi)
	binary.BigEndian.PutUint32(s.aad[8:12], lo)
	return s.aad[:]
}

// hmac returns the full HMAC of covered (SPI through Next Header) and, with
// ESN, the high-order sequence bits appended (RFC 4303 §2.2.1, §3.3.4). The
// result aliases s.sum.
func (s *scratch) hmac(covered []byte, esn bool, seqHi uint32) []byte {
	s.mac.Reset()
	s.mac.Write(covered)
	if esn {
		binary.BigEndian.PutUint32(s.aad[:4], seqHi)
		s.mac.Write(s.aad[:4])
	}
	return s.mac.Sum(s.sum[:0])
}

// sliceForAppend extends in by n octets, reallocating only if its capacity
// is too small, and returns the whole slice and the new part.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}
