package esp

import (
	"crypto/aes"
	"crypto/cipher"
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

// CBCIV makes AES-CBC IVs: a counter encrypted with AES under a random key of
// its own. The result is unpredictable to anyone without that key, as
// RFC 3602 §3 requires, without a random-number call per packet.
type CBCIV struct {
	block  cipher.Block
	prefix uint64
	ctr    atomic.Uint64
}

// NewCBCIV returns a CBC IV source keyed from crypto/rand.
func NewCBCIV() (*CBCIV, error) {
	var k [16 + 8]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k[:16])
	if err != nil {
		return nil, err
	}
	return &CBCIV{block: b, prefix: binary.BigEndian.Uint64(k[16:])}, nil
}

// Next writes AES-K(prefix || counter) into iv (16 octets).
func (g *CBCIV) Next(iv []byte) error {
	// In place: an input array of its own would escape through the
	// cipher.Block interface and cost an allocation per packet.
	binary.BigEndian.PutUint64(iv[:8], g.prefix)
	binary.BigEndian.PutUint64(iv[8:16], g.ctr.Add(1))
	g.block.Encrypt(iv[:16], iv[:16])
	return nil
}

// NoIV is the IV source of a transform without IV (ESP_NULL).
type NoIV struct{}

// Next writes nothing.
func (NoIV) Next([]byte) error { return nil }
