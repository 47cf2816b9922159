package pcap

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/pcap/internal/espseal"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSA(t testing.TB, k ESPKeys) *espSA {
	t.Helper()
	sa, err := newESPSA(k)
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// draft-mcgrew-gcm-test-01 §4 AES-GCM ESP packets with a 32-bit sequence
// number (/work/shared/spec/protocols.md §3.2, re-checked there with Go):
// the decoder opens them to the published plaintext, and espseal, the
// tests' sealer, rebuilds them octet for octet.
func TestESPGCMVectors(t *testing.T) {
	for _, v := range []struct {
		name, keymat string
		spi, seq     uint32
		iv           string
		plain, ctTag string // plain: payload | padding | pad length | next header
	}{
		{
			name: "AES-128", keymat: "feffe9928665731c6d6a8f9467308308 cafebabe",
			spi: 0x0000a5f8, seq: 0x0000000a, iv: "facedbaddecaf888",
			plain: `4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
				00010000000000000373697009637962 65726369747902646b00000100010001`,
			ctTag: `deb22cd9b07c72c16e3a65beeb8df304 a5a5897d33ae530f1ba76d5d114d2a5c
				3de81827c10e9a4f51330d0eec416642 cfbb85a5b47e48a4ec3b9ba95d918bd1
				83b70d3aa8bc6ee4c309e9d85a41ad4a`,
		},
		{
			name: "AES-256", keymat: "abbccddef00112233445566778899aab abbccddef00112233445566778899aab 11223344",
			spi: 0x4a2cbfe3, seq: 2, iv: "0102030405060708",
			plain: `4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
				7002400020bf0000020405b401010402 01020201`,
			ctTag: `ff425c9b724599df7a3bcd510194e00d 6a78107f1b0b1cbf06efae9d65a5d763
				748a637985771d347f0545659f14e99d ef842d8eb335f4eecfdbf831824b4c49
				15956c96`,
		},
	} {
		key, iv, plain := unhex(t, v.keymat), unhex(t, v.iv), unhex(t, v.plain)
		tr := espwire.Transform{ID: espwire.TransformAESGCM16, KeyBits: (len(key) - 4) * 8}
		packet := espwire.Header{SPI: v.spi, Seq: v.seq}.Append(nil)
		packet = append(append(packet, iv...), unhex(t, v.ctTag)...)
		padLen, wantNext := int(plain[len(plain)-2]), plain[len(plain)-1]
		wantPayload := plain[:len(plain)-2-padLen]

		got, next, err := mustSA(t, ESPKeys{SPI: v.spi, Transform: tr, Key: key}).open(packet)
		if err != nil || next != wantNext || !bytes.Equal(got, wantPayload) {
			t.Errorf("%s: open = %x, %d, %v; want %x, %d", v.name, got, next, err, wantPayload, wantNext)
		}
		sealed, err := espseal.Seal(tr, key, nil, v.spi, v.seq, iv, wantNext, wantPayload)
		if err != nil || !bytes.Equal(sealed, packet) {
			t.Errorf("%s: espseal = %x, %v\nwant %x", v.name, sealed, err, packet)
		}
	}
}

// The ESN vector of the same draft authenticates SPI ‖ seq high ‖ seq low;
// read as a 32-bit SA (all a GETVPN key log describes) it must not verify.
func TestESPGCMESNVectorFails(t *testing.T) {
	key := unhex(t, "4c80cdefbb5d10da906ac73c3613a634 2e443b68")
	packet := espwire.Header{SPI: 0x00004321, Seq: 0}.Append(nil)
	packet = append(append(packet, unhex(t, "4956ed7e3b244cfe")...), unhex(t, `fecf537e729d5b07dc30df528dd22b76
		8d1b98736696a6fd348509fa13ceac34 cfa2436f14a3f3cf65925bf1f4a13c5d 15b21e1884f5ff6247aeabb786b93bce
		61bc17d768fd9732459018148f6cbe72 2fd04796562dfdb4`)...)
	tr := espwire.Transform{ID: espwire.TransformAESGCM16, KeyBits: 128}
	if _, _, err := mustSA(t, ESPKeys{Transform: tr, Key: key}).open(packet); !errors.Is(err, errESPAuth) {
		t.Errorf("open = %v, want %v", err, errESPAuth)
	}
}

// RFC 3602 §4 cases 1 and 2 (AES-128-CBC, protocols.md §3.2) as the first
// blocks of an ESP_AES-CBC packet: a trailer block (padding 1..14, pad
// length 14, next header 59) is chained on with the raw block cipher and the
// ICV computed with HMAC-SHA-1-96 here, so the decoder must return the
// RFC's plaintext as the payload.
func TestESPCBCRFC3602(t *testing.T) {
	for _, tc := range []struct{ name, key, iv, pt, ct string }{
		{"case 1", "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
			hex.EncodeToString([]byte("Single block msg")), "e353779c1079aeb82708942dbe77181a"},
		{"case 2", "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
	} {
		key, iv, pt, ct := unhex(t, tc.key), unhex(t, tc.iv), unhex(t, tc.pt), unhex(t, tc.ct)
		trailer := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 59}
		b, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		last := make([]byte, 16)
		for i := range last {
			last[i] = trailer[i] ^ ct[len(ct)-16+i]
		}
		b.Encrypt(last, last)
		packet := append(espwire.Header{SPI: 0x3602, Seq: 1}.Append(nil), iv...)
		packet = append(append(packet, ct...), last...)
		authKey := bytes.Repeat([]byte{0x0b}, 20)
		m := hmac.New(sha1.New, authKey)
		m.Write(packet)
		packet = append(packet, m.Sum(nil)[:12]...)

		tr, _ := espwire.ParseTransform("aes128-sha1")
		got, next, err := mustSA(t, ESPKeys{Transform: tr, Key: key, AuthKey: authKey}).open(packet)
		if err != nil || next != 59 || !bytes.Equal(got, pt) {
			t.Errorf("%s: open = %x, %d, %v; want %x, 59", tc.name, got, next, err, pt)
		}
	}
}

// Every transform the codec knows, at payload lengths around the block and
// alignment boundaries (0 to 17 padding octets): sealed by espseal, opened
// by the decoder; a flipped octet anywhere (header, IV, ciphertext, ICV)
// fails the integrity check; a wrong key too.
func TestESPRoundTripEveryTransform(t *testing.T) {
	for _, tr := range espwire.All() {
		key := bytes.Repeat([]byte{0x5a}, tr.EncKeyLen())
		if tr.ID == espwire.Transform3DES {
			key = unhex(t, "0123456789abcdef 23456789abcdef01 456789abcdef0123")
		}
		authKey := bytes.Repeat([]byte{0xa5}, tr.AuthKeyLen())
		iv := bytes.Repeat([]byte{0x3c}, tr.IVLen())
		sa := mustSA(t, ESPKeys{Transform: tr, Key: key, AuthKey: authKey})
		for n := 0; n <= 33; n++ {
			payload := bytes.Repeat([]byte{byte(n)}, n)
			packet, err := espseal.Seal(tr, key, authKey, 0xc0ffee, uint32(n), iv, 4, payload)
			if err != nil {
				t.Fatalf("%v: %v", tr, err)
			}
			if len(packet) != tr.SealedLen(n) {
				t.Fatalf("%v, %d octets: sealed %d, want %d", tr, n, len(packet), tr.SealedLen(n))
			}
			got, next, err := sa.open(packet)
			if err != nil || next != 4 || !bytes.Equal(got, payload) {
				t.Fatalf("%v, %d octets: open = %x, %d, %v", tr, n, got, next, err)
			}
			for _, i := range []int{0, 7, espwire.HeaderLen, len(packet) - tr.ICVLen() - 1, len(packet) - 1} {
				bad := bytes.Clone(packet)
				bad[i] ^= 0x80
				if _, _, err := sa.open(bad); !errors.Is(err, errESPAuth) {
					t.Fatalf("%v, %d octets, octet %d flipped: %v, want %v", tr, n, i, err, errESPAuth)
				}
			}
		}
		otherKey, otherAuth := bytes.Clone(key), bytes.Clone(authKey)
		if len(otherAuth) > 0 { // every HMAC transform
			otherAuth[0] ^= 1
		} else { // AES-GCM
			otherKey[0] ^= 1
		}
		packet, _ := espseal.Seal(tr, key, authKey, 1, 1, iv, 4, []byte("payload"))
		if _, _, err := mustSA(t, ESPKeys{Transform: tr, Key: otherKey, AuthKey: otherAuth}).open(packet); err == nil {
			t.Errorf("%v: opened with another key", tr)
		}
	}
}

// RFC 4303 §2.4: padding octets are 1, 2, 3, ...; a pad length must fit.
// Authentic packets that break either are refused with the codec's padding
// error, and a packet too short for its transform with its length error.
func TestESPBadTrailer(t *testing.T) {
	for _, name := range []string{"aes128gcm16", "aes256-sha256", "3des-sha1", "null-sha1"} {
		tr, _ := espwire.ParseTransform(name)
		key := bytes.Repeat([]byte{0x77}, tr.EncKeyLen())
		if tr.ID == espwire.Transform3DES {
			key = unhex(t, "0123456789abcdef 23456789abcdef01 456789abcdef0123")
		}
		authKey := bytes.Repeat([]byte{0x88}, tr.AuthKeyLen())
		iv := make([]byte, tr.IVLen())
		sa := mustSA(t, ESPKeys{Transform: tr, Key: key, AuthKey: authKey})
		align := tr.PadAlign()
		for _, tc := range []struct {
			what  string
			plain []byte
		}{
			{"padding 1,2,0", pad(align, []byte{1, 2, 0, 3, 4})},
			{"padding all zero", pad(align, []byte{0, 0, 0, 0, 0, 5, 4})},
			{"pad length past the start", pad(align, []byte{0xaa, 0xbb, 200, 4})},
		} {
			packet, err := espseal.SealPlain(tr, key, authKey, 9, 9, iv, tc.plain)
			if err != nil {
				t.Fatalf("%s %s: %v", name, tc.what, err)
			}
			if _, _, err := sa.open(packet); !errors.Is(err, espwire.ErrPadding) {
				t.Errorf("%s, %s: %v, want %v", name, tc.what, err, espwire.ErrPadding)
			}
		}
		short := espwire.Header{SPI: 9, Seq: 9}.Append(nil)
		if _, _, err := sa.open(append(short, iv...)); !errors.Is(err, espwire.ErrShort) {
			t.Errorf("%s, no ciphertext: %v, want %v", name, err, espwire.ErrShort)
		}
	}
}

// pad prefixes tail (which ends with pad length and next header) with
// payload octets 0xee so that the whole is a multiple of align octets.
func pad(align int, tail []byte) []byte {
	var b []byte
	for (len(b)+len(tail))%align != 0 {
		b = append(b, 0xee)
	}
	return append(b, tail...)
}

// A key log entry whose key does not fit its transform is reported, not
// used.
func TestESPKeyLengthMismatch(t *testing.T) {
	tr, _ := espwire.ParseTransform("aes256gcm16")
	if _, err := newESPSA(ESPKeys{Transform: tr, Key: make([]byte, 32)}); err == nil {
		t.Error("a 32-octet key for aes256gcm16 (36 with the salt) was accepted")
	}
}
