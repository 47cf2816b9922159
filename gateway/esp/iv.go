package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrIVExhausted reports that a sender has used up its IV space under one
// key: for a counter-mode group SA the counter behind its Sender-ID has
// wrapped (RFC 6054 §3: the GM must get a new SID, i.e. re-register, or wait
// for the next TEK).
var ErrIVExhausted = errors.New("esp: IV counter space exhausted for this Sender-ID")

// IVSource gives each outbound packet of one SA its IV. Implementations are
// safe for concurrent use.
type IVSource interface {
	// Next writes the next IV into iv (the transform's IV length).
	Next(iv []byte) error
}

// SenderIV makes the 8-octet IVs of a counter-mode transform (AES-GCM) on a
// group SA shared by many senders: the Sender-ID the KS gave this GM in the
// leftmost SIDBits bits, then a counter that never repeats (RFC 6054 §3,
// RFC 4106 §3.1). Two GMs with different SIDs can never produce the same
// nonce under the shared key.
type SenderIV struct {
	sid   uint64 // already shifted into place
	limit uint64 // counter values available: 2^(64-bits)
	ctr   atomic.Uint64
}

// NewSenderIV returns the IV source for Sender-ID sid of sidBits bits
// (1..32); sid must fit those bits.
func NewSenderIV(sid uint32, sidBits int) (*SenderIV, error) {
	if sidBits < 1 || sidBits > 32 {
		return nil, fmt.Errorf("esp: Sender-ID size %d bits, want 1-32", sidBits)
	}
	if uint64(sid) >= 1<<sidBits {
		return nil, fmt.Errorf("esp: Sender-ID %d does not fit %d bits", sid, sidBits)
	}
	ctrBits := 64 - sidBits
	return &SenderIV{sid: uint64(sid) << ctrBits, limit: 1 << ctrBits}, nil
}

// Next writes SID || counter; the first counter value is 1.
func (g *SenderIV) Next(iv []byte) error {
	n := g.ctr.Add(1)
	if n >= g.limit {
		g.ctr.Store(g.limit) // stay exhausted, never wrap
		return ErrIVExhausted
	}
	binary.BigEndian.PutUint64(iv, g.sid|n)
	return nil
}

// CBCIV makes CBC IVs: a counter encrypted under a random key of its own,
// with AES for 16-octet IVs (AES-CBC) and with 3DES for 8-octet ones
// (3DES-CBC). The result is unpredictable to anyone without that key, as
// RFC 3602 §3 and RFC 2451 §3 require, and never repeats under one SA (a
// block cipher is a permutation), without a random-number call per packet.
type CBCIV struct {
	block  cipher.Block
	prefix uint64
	ctr    atomic.Uint64
}

// NewCBCIV returns a CBC IV source for IVs of ivLen octets (16 or 8),
// keyed from crypto/rand.
func NewCBCIV(ivLen int) (*CBCIV, error) {
	var k [24 + 8]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	var (
		b   cipher.Block
		err error
	)
	switch ivLen {
	case aes.BlockSize:
		b, err = aes.NewCipher(k[:16])
	case des.BlockSize:
		b, err = des.NewTripleDESCipher(k[:24])
	default:
		return nil, fmt.Errorf("esp: no CBC IV source for %d-octet IVs", ivLen)
	}
	if err != nil {
		return nil, err
	}
	return &CBCIV{block: b, prefix: binary.BigEndian.Uint64(k[24:])}, nil
}

// Next writes E-K(prefix || counter) into iv (16 octets), or E-K(counter)
// (8 octets).
func (g *CBCIV) Next(iv []byte) error {
	// In place: an input array of its own would escape through the
	// cipher.Block interface and cost an allocation per packet.
	n := g.block.BlockSize()
	if n == des.BlockSize {
		binary.BigEndian.PutUint64(iv[:8], g.ctr.Add(1))
	} else {
		binary.BigEndian.PutUint64(iv[:8], g.prefix)
		binary.BigEndian.PutUint64(iv[8:16], g.ctr.Add(1))
	}
	g.block.Encrypt(iv[:n], iv[:n])
	return nil
}

// NoIV is the IV source of a transform without IV (ESP_NULL).
type NoIV struct{}

// Next writes nothing.
func (NoIV) Next([]byte) error { return nil }
