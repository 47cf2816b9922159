package ikev1

import (
	"crypto/hmac"
	"hash"
	"reflect"
	"sync"
)

// PRF computes prf(key, data...) with the suite's hash: HMAC, as every
// IKEv1 implementation uses when no PRF attribute is negotiated (RFC 2409 §4).
//
// A registration computes some twenty of them on each side, and
// crypto/hmac allocates two hash states and its pads for each (a sixth of
// a registration's allocations, measured). For the phase-1 hashes PRF
// therefore computes HMAC (RFC 2104) itself with hash states taken from a
// pool: the result is its only allocation.
func PRF(h func() hash.Hash, key []byte, data ...[]byte) []byte {
	p := hmacPools[reflect.ValueOf(h).Pointer()]
	if p == nil {
		m := hmac.New(h, key)
		for _, d := range data {
			m.Write(d)
		}
		return m.Sum(nil)
	}
	s := p.Get().(*hmacState)
	defer p.Put(s)
	return s.sum(key, data)
}

// hmacPools hold the reusable HMAC states of the phase-1 hashes, by their
// constructor (its code pointer: the constructors are package functions,
// so each has one).
var hmacPools = func() map[uintptr]*sync.Pool {
	ps := map[uintptr]*sync.Pool{}
	for _, alg := range hashes {
		ps[reflect.ValueOf(alg.new).Pointer()] = &sync.Pool{New: func() any { return newHMACState(alg.new) }}
	}
	return ps
}()

// hmacState is one HMAC computation's working room.
type hmacState struct {
	inner, outer hash.Hash
	pad          []byte // a block: the key XOR ipad, then XOR opad
	key          []byte // the key hashed, when longer than a block
	mid          []byte // the inner hash
}

func newHMACState(h func() hash.Hash) *hmacState {
	s := &hmacState{inner: h(), outer: h()}
	s.pad = make([]byte, s.inner.BlockSize())
	s.key = make([]byte, 0, s.inner.Size())
	s.mid = make([]byte, 0, s.inner.Size())
	return s
}

// sum is HMAC(key, data...) = H(K ^ opad | H(K ^ ipad | data...)), K the
// key (hashed if longer than a block) padded with zeros to a block.
func (s *hmacState) sum(key []byte, data [][]byte) []byte {
	if len(key) > len(s.pad) {
		s.outer.Reset()
		s.outer.Write(key)
		key = s.outer.Sum(s.key[:0])
	}
	s.xorPad(key, 0x36)
	s.inner.Reset()
	s.inner.Write(s.pad)
	for _, d := range data {
		s.inner.Write(d)
	}
	mid := s.inner.Sum(s.mid[:0])
	s.xorPad(key, 0x5c)
	s.outer.Reset()
	s.outer.Write(s.pad)
	s.outer.Write(mid)
	return s.outer.Sum(make([]byte, 0, s.outer.Size()))
}

func (s *hmacState) xorPad(key []byte, pad byte) {
	n := copy(s.pad, key)
	clear(s.pad[n:])
	for i := range s.pad {
		s.pad[i] ^= pad
	}
}
