package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// supported is every transform NewCipher accepts: all but AES-GCM-8.
func supported() []espwire.Transform {
	var ts []espwire.Transform
	for _, tr := range espwire.All() {
		if tr.ID != espwire.TransformAESGCM8 {
			ts = append(ts, tr)
		}
	}
	return ts
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func newRandom(t testing.TB, tr espwire.Transform, esn bool) *Cipher {
	t.Helper()
	newC := NewCipher
	if esn {
		newC = NewCipherESN
	}
	c, err := newC(tr, randBytes(tr.EncKeyLen()), randBytes(tr.AuthKeyLen()))
	if err != nil {
		t.Fatalf("%v: %v", tr, err)
	}
	return c
}

func open(c *Cipher, dst, packet []byte, seqHi uint32) ([]byte, byte, error) {
	if c.ESN() {
		return c.OpenESN(dst, packet, seqHi)
	}
	return c.Open(dst, packet)
}

func TestNewCipherErrors(t *testing.T) {
	gcm := espwire.Transform{ID: espwire.TransformAESGCM16, KeyBits: 128}
	cbc := espwire.Transform{ID: espwire.TransformAESCBC, KeyBits: 256, Auth: espwire.AuthHMACSHA256}
	for _, tc := range []struct {
		name         string
		tr           espwire.Transform
		enc, auth    int
		unsupported  bool
		badTransform bool
	}{
		{"gcm key without salt", gcm, 16, 0, false, false},
		{"gcm with auth key", gcm, 20, 20, false, false},
		{"cbc short auth key", cbc, 32, 20, false, false},
		{"cbc key with salt", cbc, 36, 32, false, false},
		{"3des two-key", espwire.Transform{ID: espwire.Transform3DES, Auth: espwire.AuthHMACSHA1}, 16, 20, false, false},
		{"3des with key length", espwire.Transform{ID: espwire.Transform3DES, KeyBits: 192, Auth: espwire.AuthHMACSHA1}, 24, 20, false, true},
		{"gcm-8", espwire.Transform{ID: espwire.TransformAESGCM8, KeyBits: 128}, 20, 0, true, false},
		{"invalid", espwire.Transform{ID: espwire.TransformAESCBC, KeyBits: 128}, 16, 0, false, true},
		{"zero", espwire.Transform{}, 0, 0, false, true},
	} {
		c, err := NewCipher(tc.tr, make([]byte, tc.enc), make([]byte, tc.auth))
		if c != nil || err == nil ||
			errors.Is(err, ErrUnsupported) != tc.unsupported ||
			errors.Is(err, espwire.ErrTransform) != tc.badTransform {
			t.Errorf("%s: %v, %v", tc.name, c, err)
		}
	}
}

var payloadSizes = []int{0, 1, 2, 3, 13, 14, 15, 16, 17, 31, 62, 64, 100, 1400, 1500}

func TestRoundTrip(t *testing.T) {
	for _, tr := range supported() {
		for _, esn := range []bool{false, true} {
			c := newRandom(t, tr, esn)
			for _, n := range payloadSizes {
				payload := randBytes(n)
				iv := randBytes(tr.IVLen())
				seq := uint64(0x1234_5678)
				if esn {
					seq = 0x0000_0003_ffff_fff0
				}
				packet, err := c.Seal(nil, 0xa5f8, seq, iv, espwire.NextHeaderIPv4, payload)
				if err != nil {
					t.Fatalf("%v esn=%v %d: Seal: %v", tr, esn, n, err)
				}
				if len(packet) != tr.SealedLen(n) {
					t.Fatalf("%v %d: packet %d octets, want %d", tr, n, len(packet), tr.SealedLen(n))
				}
				p, err := tr.Split(packet)
				if err != nil || p.SPI != 0xa5f8 || p.Seq != uint32(seq) || !bytes.Equal(p.IV, iv) {
					t.Fatalf("%v %d: Split = %+v, %v", tr, n, p.Header, err)
				}
				if (len(p.IV)+len(p.Ciphertext))%4 != 0 || len(p.Ciphertext)%tr.BlockSize() != 0 {
					t.Fatalf("%v %d: ciphertext %d octets not aligned", tr, n, len(p.Ciphertext))
				}
				got, nh, err := open(c, []byte("prefix"), packet, uint32(seq>>32))
				if err != nil || nh != espwire.NextHeaderIPv4 || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], payload) {
					t.Fatalf("%v esn=%v %d: Open = %d octets, %d, %v", tr, esn, n, len(got), nh, err)
				}
			}
		}
	}
}

func sealOne(t testing.TB, c *Cipher, n int) []byte {
	t.Helper()
	packet, err := c.Seal(nil, 0x01020304, 7, randBytes(c.Transform().IVLen()), espwire.NextHeaderIPv6, randBytes(n))
	if err != nil {
		t.Fatal(err)
	}
	return packet
}

// Any single flipped bit anywhere in the packet, header and IV included,
// makes Open fail with ErrAuth.
func TestTamper(t *testing.T) {
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		packet := sealOne(t, c, 61)
		for i := range packet {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(packet)
				bad[i] ^= bit
				if got, _, err := c.Open(nil, bad); !errors.Is(err, ErrAuth) {
					t.Fatalf("%v: octet %d ^ %#x: Open = %x, %v", tr, i, bit, got, err)
				}
			}
		}
	}
}

func TestWrongKey(t *testing.T) {
	for _, tr := range supported() {
		enc, auth := randBytes(tr.EncKeyLen()), randBytes(tr.AuthKeyLen())
		c, err := NewCipher(tr, enc, auth)
		if err != nil {
			t.Fatal(err)
		}
		packet := sealOne(t, c, 100)
		if _, _, err := newRandom(t, tr, false).Open(nil, packet); !errors.Is(err, ErrAuth) {
			t.Errorf("%v: other keys: %v", tr, err)
		}
		// One key right, the other wrong. (A wrong AES-CBC key with the right
		// HMAC key passes the ICV and decrypts to garbage, as in any
		// encrypt-then-MAC scheme; not tested.)
		if tr.Combined() {
			enc[len(enc)-1] ^= 1 // the salt only
		} else {
			auth[0] ^= 1
		}
		half, err := NewCipher(tr, enc, auth)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := half.Open(nil, packet); !errors.Is(err, ErrAuth) {
			t.Errorf("%v: salt or integrity key wrong: %v", tr, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	for _, tr := range supported() {
		for _, esn := range []bool{false, true} {
			c := newRandom(t, tr, esn)
			packet := sealOne(t, c, 40)
			for n := range len(packet) {
				got, _, err := open(c, nil, packet[:n], 0)
				if err == nil {
					t.Fatalf("%v: %d of %d octets opened: %x", tr, n, len(packet), got)
				}
				var pe *espwire.ParseError
				if !errors.Is(err, ErrAuth) && !errors.As(err, &pe) {
					t.Fatalf("%v: %d octets: unexpected error %v", tr, n, err)
				}
			}
			// Extra octets shift the ICV.
			if _, _, err := open(c, nil, append(bytes.Clone(packet), 0, 0, 0, 0), 0); err == nil {
				t.Fatalf("%v: packet with 4 extra octets opened", tr)
			}
		}
	}
}

func TestESN(t *testing.T) {
	for _, tr := range []espwire.Transform{
		{ID: espwire.TransformAESGCM16, KeyBits: 256},
		{ID: espwire.TransformAESCBC, KeyBits: 128, Auth: espwire.AuthHMACSHA1},
		{ID: espwire.Transform3DES, Auth: espwire.AuthHMACSHA256},
		{ID: espwire.TransformNULL, Auth: espwire.AuthHMACSHA256},
	} {
		c := newRandom(t, tr, true)
		const seq = 0x0000_0002_0000_0005
		packet, err := c.Seal(nil, 9, seq, randBytes(tr.IVLen()), 4, []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint32(packet[4:8]); got != 5 {
			t.Errorf("%v: wire seq %d, want the low half 5", tr, got)
		}
		if got, _, err := c.OpenESN(nil, packet, 2); err != nil || string(got) != "hello" {
			t.Errorf("%v: OpenESN = %q, %v", tr, got, err)
		}
		for _, hi := range []uint32{0, 1, 3} {
			if _, _, err := c.OpenESN(nil, packet, hi); !errors.Is(err, ErrAuth) {
				t.Errorf("%v: OpenESN with seq high %d: %v", tr, hi, err)
			}
		}
		if _, _, err := c.Open(nil, packet); !errors.Is(err, ErrESN) {
			t.Errorf("%v: Open on an ESN SA: %v", tr, err)
		}

		plain := newRandom(t, tr, false)
		if _, _, err := plain.OpenESN(nil, packet, 0); !errors.Is(err, ErrESN) {
			t.Errorf("%v: OpenESN on a 32-bit SA: %v", tr, err)
		}
		dst := []byte("keep")
		if got, err := plain.Seal(dst, 9, 1<<32, randBytes(tr.IVLen()), 4, nil); !errors.Is(err, ErrSeqOverflow) || string(got) != "keep" {
			t.Errorf("%v: Seal seq 2^32 on a 32-bit SA: %q, %v", tr, got, err)
		}
		if _, err := plain.Seal(nil, 9, 1<<32-1, randBytes(tr.IVLen()), 4, nil); err != nil {
			t.Errorf("%v: Seal seq 2^32-1: %v", tr, err)
		}
	}
}

func TestIVLength(t *testing.T) {
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		if _, err := c.Seal(nil, 1, 1, make([]byte, tr.IVLen()+1), 4, nil); !errors.Is(err, ErrIVLen) {
			t.Errorf("%v: %v", tr, err)
		}
	}
}

// sealRaw builds an authentic packet around an arbitrary plaintext (payload,
// padding, pad length, next header), bypassing Seal's padding.
func sealRaw(t *testing.T, tr espwire.Transform, enc, auth []byte, plain []byte) []byte {
	t.Helper()
	iv := randBytes(tr.IVLen())
	packet := append(espwire.Header{SPI: 0x100, Seq: 1}.Append(nil), iv...)
	switch {
	case tr.Combined():
		b, _ := aes.NewCipher(enc[:len(enc)-4])
		g, _ := cipher.NewGCMWithTagSize(b, tr.ICVLen())
		nonce := append(bytes.Clone(enc[len(enc)-4:]), iv...)
		return g.Seal(packet, nonce, plain, packet[:8])
	case tr.ID == espwire.TransformAESCBC:
		b, _ := aes.NewCipher(enc)
		ct := make([]byte, len(plain))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, plain)
		packet = append(packet, ct...)
	case tr.ID == espwire.Transform3DES:
		b, _ := des.NewTripleDESCipher(enc)
		ct := make([]byte, len(plain))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, plain)
		packet = append(packet, ct...)
	default:
		packet = append(packet, plain...)
	}
	m := hmac.New(hashFor(tr.Auth), auth)
	m.Write(packet)
	return append(packet, m.Sum(nil)[:tr.ICVLen()]...)
}

// Authentic packets whose padding is wrong are refused with ErrPadding at
// the packet offset of the bad octet.
func TestBadPadding(t *testing.T) {
	for _, tr := range []espwire.Transform{
		{ID: espwire.TransformAESGCM16, KeyBits: 128},
		{ID: espwire.TransformAESGCM12, KeyBits: 192},
		{ID: espwire.TransformAESCBC, KeyBits: 256, Auth: espwire.AuthHMACSHA256},
		{ID: espwire.Transform3DES, Auth: espwire.AuthHMACSHA1},
		{ID: espwire.TransformNULL, Auth: espwire.AuthHMACSHA1},
	} {
		enc, auth := randBytes(tr.EncKeyLen()), randBytes(tr.AuthKeyLen())
		c, err := NewCipher(tr, enc, auth)
		if err != nil {
			t.Fatal(err)
		}
		hdr := espwire.HeaderLen + tr.IVLen()
		for _, tc := range []struct {
			name  string
			plain []byte
			field string
			off   int // in the plaintext
		}{
			{"pattern", []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 1, 9, 3, 3, 4}, "padding", 6},
			{"zeros", []byte{0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 4}, "padding", 4},
			{"pad length", []byte{0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 4}, "pad length", 14},
		} {
			plain := tc.plain
			if len(plain) < 16 { // whole AES blocks for CBC: the trailer at the end of 16 octets
				plain = append(make([]byte, 16-len(plain)), plain...)
				tc.off += 16 - len(tc.plain)
			}
			packet := sealRaw(t, tr, enc, auth, plain)
			_, _, err := c.Open(nil, packet)
			var pe *espwire.ParseError
			if !errors.Is(err, espwire.ErrPadding) || !errors.As(err, &pe) || pe.Field != tc.field || pe.Offset != hdr+tc.off {
				t.Errorf("%v %s: %v (want %s at packet offset %d)", tr, tc.name, err, tc.field, hdr+tc.off)
			}
		}
		// The same helper with good padding opens.
		packet := sealRaw(t, tr, enc, auth, []byte{0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 4})
		if got, nh, err := c.Open(nil, packet); err != nil || nh != 4 || !bytes.Equal(got, []byte{0xaa, 0xbb, 0xcc, 0xdd}) {
			t.Errorf("%v good padding: %x, %d, %v", tr, got, nh, err)
		}
	}
}

// Seal with the payload already in place and Open decrypting in place.
func TestInPlace(t *testing.T) {
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		hdr := espwire.HeaderLen + tr.IVLen()
		payload := randBytes(1000)
		buf := make([]byte, hdr+len(payload), tr.SealedLen(len(payload)))
		copy(buf[hdr:], payload)
		iv := randBytes(tr.IVLen())
		packet, err := c.Seal(buf[:0], 5, 6, iv, 4, buf[hdr:])
		if err != nil || &packet[0] != &buf[0] {
			t.Fatalf("%v: in-place Seal moved or failed: %v", tr, err)
		}
		if want, _ := c.Seal(nil, 5, 6, iv, 4, payload); !bytes.Equal(packet, want) {
			t.Fatalf("%v: in-place Seal differs", tr)
		}
		got, _, err := c.Open(packet[hdr:hdr], packet)
		if err != nil || !bytes.Equal(got, payload) || &got[0] != &packet[hdr] {
			t.Fatalf("%v: in-place Open: %v", tr, err)
		}

		// Any other overlap is refused, not a panic.
		again, _ := c.Seal(nil, 5, 6, iv, 4, payload)
		for _, dst := range [][]byte{again[:0], again[1:1], again[hdr-1 : hdr-1], again[hdr+1 : hdr+1]} {
			if _, _, err := c.Open(dst, again); !errors.Is(err, ErrOverlap) {
				t.Errorf("%v: overlapping dst: %v", tr, err)
			}
		}
		if got, _, err := c.Open(again[hdr:hdr], again); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%v: in place after refusals: %v", tr, err)
		}
	}
}

// One Cipher, many goroutines sealing and opening at once (run with -race).
func TestConcurrent(t *testing.T) {
	for _, tr := range []espwire.Transform{
		{ID: espwire.TransformAESGCM16, KeyBits: 128},
		{ID: espwire.TransformAESCBC, KeyBits: 128, Auth: espwire.AuthHMACSHA256},
	} {
		c := newRandom(t, tr, false)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				iv := make([]byte, tr.IVLen())
				var packet, plain []byte
				for i := range 200 {
					binary.BigEndian.PutUint32(iv, uint32(g<<16|i))
					payload := bytes.Repeat([]byte{byte(g)}, 10+i)
					var err error
					if packet, err = c.Seal(packet[:0], 1, uint64(i), iv, 4, payload); err != nil {
						t.Error(err)
						return
					}
					if plain, _, err = c.Open(plain[:0], packet); err != nil || !bytes.Equal(plain, payload) {
						t.Errorf("%v goroutine %d packet %d: %v", tr, g, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
