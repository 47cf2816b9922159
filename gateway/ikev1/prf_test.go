package ikev1

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// PRF's own HMAC agrees with crypto/hmac for every phase-1 hash, keys
// shorter than, as long as and longer than a block, and data in pieces.
func TestPRFIsHMAC(t *testing.T) {
	for id, alg := range hashes {
		for _, keyLen := range []int{0, 1, 20, 63, 64, 65, 127, 128, 129, 300} {
			key := bytes.Repeat([]byte{byte(keyLen)}, keyLen)
			data := [][]byte{[]byte("main mode"), nil, bytes.Repeat([]byte{7}, 200)}
			m := hmac.New(alg.new, key)
			for _, d := range data {
				m.Write(d)
			}
			want := m.Sum(nil)
			for range 2 { // the second from a state used before
				if got := PRF(alg.new, key, data...); !bytes.Equal(got, want) {
					t.Fatalf("%s (%d), key of %d: %x, want %x", alg.name, id, keyLen, got, want)
				}
			}
		}
	}
	// A hash the pools do not know goes through crypto/hmac.
	m := hmac.New(md5.New, []byte("k"))
	m.Write([]byte("d"))
	if got := PRF(md5.New, []byte("k"), []byte("d")); !bytes.Equal(got, m.Sum(nil)) {
		t.Fatal("md5 PRF differs")
	}
	// RFC 4231 test case 2.
	got := PRF(sha256.New, []byte("Jefe"), []byte("what do ya want "), []byte("for nothing?"))
	if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; hex.EncodeToString(got) != want {
		t.Fatalf("RFC 4231 case 2: %x", got)
	}
}

// The result is PRF's only allocation.
func TestPRFAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations cannot be counted")
	}
	key, data := make([]byte, 32), make([]byte, 100)
	PRF(sha256.New, key, data)
	if n := testing.AllocsPerRun(100, func() { PRF(sha256.New, key, data) }); n > 1 {
		t.Fatalf("%v allocations per PRF, want 1", n)
	}
}
