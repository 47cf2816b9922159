package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/internal/cbc"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 3602 §4, cases 1 and 2: AES-128-CBC on raw blocks (no ESP framing),
// through cbc.Encrypt/cbc.Decrypt, the code path of the AES-CBC transform.
func TestRFC3602CBC(t *testing.T) {
	for _, tc := range []struct{ name, key, iv, pt, ct string }{
		{"case 1", "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
			hex.EncodeToString([]byte("Single block msg")), "e353779c1079aeb82708942dbe77181a"},
		{"case 2", "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
	} {
		b, err := aes.NewCipher(unhex(tc.key))
		if err != nil {
			t.Fatal(err)
		}
		iv, pt, ct := unhex(tc.iv), unhex(tc.pt), unhex(tc.ct)
		buf := bytes.Clone(pt)
		cbc.Encrypt(b, iv, buf)
		if !bytes.Equal(buf, ct) {
			t.Errorf("%s: encrypt = %x, want %x", tc.name, buf, ct)
		}
		out := make([]byte, len(ct))
		cbc.Decrypt(b, iv, out, ct)
		if !bytes.Equal(out, pt) {
			t.Errorf("%s: decrypt = %x, want %x", tc.name, out, pt)
		}
		cbc.Decrypt(b, iv, buf, buf) // in place
		if !bytes.Equal(buf, pt) {
			t.Errorf("%s: decrypt in place = %x, want %x", tc.name, buf, pt)
		}
	}
}

// HMAC truncations through scratch.hmac, the ICV path of Seal and Open.
//   - RFC 2202 §3 test cases 1 and 2 (HMAC-SHA-1), truncated to 96 bits
//     (RFC 2404 §2).
//   - RFC 4231 §4.2 and §4.3 test cases 1 and 2 (HMAC-SHA-256/384/512),
//     truncated to half the output (RFC 4868 §2.1.1).
//   - RFC 4868 §2.7.2 AUTH256-1/AUTH384-1/AUTH512-1 key and data (key 0x0b
//     repeated to the ESP key length, "Hi There"); the expected values were
//     computed with Go's crypto/hmac (protocols.md §3.2 for AUTH256-1), the
//     RFC text itself was not at hand.
func TestHMACTruncation(t *testing.T) {
	hiThere, jefeKey, jefeMsg := []byte("Hi There"), []byte("Jefe"), []byte("what do ya want for nothing?")
	k20 := bytes.Repeat([]byte{0x0b}, 20)
	for _, tc := range []struct {
		name     string
		alg      espwire.AuthAlg
		key, msg []byte
		full     string
	}{
		{"RFC 2202 1", espwire.AuthHMACSHA1, k20, hiThere, "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"RFC 2202 2", espwire.AuthHMACSHA1, jefeKey, jefeMsg, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"RFC 4231 1 SHA-256", espwire.AuthHMACSHA256, k20, hiThere, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"RFC 4231 2 SHA-256", espwire.AuthHMACSHA256, jefeKey, jefeMsg, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"RFC 4231 1 SHA-384", espwire.AuthHMACSHA384, k20, hiThere,
			"afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"RFC 4231 2 SHA-384", espwire.AuthHMACSHA384, jefeKey, jefeMsg,
			"af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"RFC 4231 1 SHA-512", espwire.AuthHMACSHA512, k20, hiThere,
			"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{"RFC 4231 2 SHA-512", espwire.AuthHMACSHA512, jefeKey, jefeMsg,
			"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		{"RFC 4868 AUTH256-1", espwire.AuthHMACSHA256, bytes.Repeat([]byte{0x0b}, 32), hiThere,
			"198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
		{"RFC 4868 AUTH384-1", espwire.AuthHMACSHA384, bytes.Repeat([]byte{0x0b}, 48), hiThere,
			"b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2"},
		{"RFC 4868 AUTH512-1", espwire.AuthHMACSHA512, bytes.Repeat([]byte{0x0b}, 64), hiThere,
			"637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
	} {
		if n := map[espwire.AuthAlg]int{espwire.AuthHMACSHA1: 12, espwire.AuthHMACSHA256: 16,
			espwire.AuthHMACSHA384: 24, espwire.AuthHMACSHA512: 32}[tc.alg]; tc.alg.ICVLen() != n {
			t.Errorf("%v: ICV length %d, want %d", tc.alg, tc.alg.ICVLen(), n)
		}
		s := &scratch{mac: hmac.New(hashFor(tc.alg), tc.key)}
		for range 2 { // twice: Reset must restore the keyed state
			got, want, n := s.hmac(tc.msg, false, 0), unhex(tc.full), tc.alg.ICVLen()
			if !bytes.Equal(got, want) || !bytes.Equal(got[:n], want[:n]) {
				t.Errorf("%s: ICV %x, want %x", tc.name, got[:n], want[:n])
			}
		}
	}
}

// draft-mcgrew-gcm-test-01 §4 AES-GCM-ESP packets (protocols.md §3.2,
// source S7). The plaintexts carry next header 1 and RFC 4303 padding.
var gcmVectors = []struct {
	name   string
	keymat string // AES key || salt
	spi    uint32
	seq    uint64 // 64-bit for the ESN case
	esn    bool
	iv     string
	plain  string // payload | padding | pad length | next header
	ctTag  string
}{
	{
		name:   "AES-128 32-bit seq",
		keymat: "feffe9928665731c6d6a8f9467308308 cafebabe",
		spi:    0x0000a5f8, seq: 0x0000000a, iv: "facedbaddecaf888",
		plain: `4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
			00010000000000000373697009637962 65726369747902646b00000100010001`,
		ctTag: `deb22cd9b07c72c16e3a65beeb8df304 a5a5897d33ae530f1ba76d5d114d2a5c
			3de81827c10e9a4f51330d0eec416642 cfbb85a5b47e48a4ec3b9ba95d918bd1
			83b70d3aa8bc6ee4c309e9d85a41ad4a`,
	},
	{
		name:   "AES-256 32-bit seq",
		keymat: "abbccddef00112233445566778899aab abbccddef00112233445566778899aab 11223344",
		spi:    0x4a2cbfe3, seq: 2, iv: "0102030405060708",
		plain: `4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
			7002400020bf0000020405b401010402 01020201`,
		ctTag: `ff425c9b724599df7a3bcd510194e00d 6a78107f1b0b1cbf06efae9d65a5d763
			748a637985771d347f0545659f14e99d ef842d8eb335f4eecfdbf831824b4c49
			15956c96`,
	},
	{
		// The ESN case: AAD = SPI || seq high || seq low, only the low half
		// (0) on the wire.
		name:   "AES-128 ESN",
		keymat: "4c80cdefbb5d10da906ac73c3613a634 2e443b68",
		spi:    0x00004321, seq: 0x87654321_00000000, esn: true, iv: "4956ed7e3b244cfe",
		plain: `45000048699a000080114db7c0a80102 c0a801010a9bf15638d3010000010000
			00000000045f736970045f7564700373 69700963796265726369747902646b00
			0021000101020201`,
		ctTag: `fecf537e729d5b07dc30df528dd22b76 8d1b98736696a6fd348509fa13ceac34
			cfa2436f14a3f3cf65925bf1f4a13c5d 15b21e1884f5ff6247aeabb786b93bce
			61bc17d768fd9732459018148f6cbe72 2fd04796562dfdb4`,
	},
}

func TestGCMVectors(t *testing.T) {
	for _, v := range gcmVectors {
		keymat := unhex(v.keymat)
		tr := espwire.Transform{ID: espwire.TransformAESGCM16, KeyBits: (len(keymat) - 4) * 8}
		newC := NewCipher
		if v.esn {
			newC = NewCipherESN
		}
		c, err := newC(tr, keymat, nil)
		if err != nil {
			t.Fatal(err)
		}
		packet := espwire.Header{SPI: v.spi, Seq: uint32(v.seq)}.Append(nil)
		packet = append(append(packet, unhex(v.iv)...), unhex(v.ctTag)...)
		plain := unhex(v.plain)
		padLen, wantNH := int(plain[len(plain)-2]), plain[len(plain)-1]
		wantPayload := plain[:len(plain)-2-padLen]

		var got []byte
		var nh byte
		if v.esn {
			got, nh, err = c.OpenESN(nil, packet, uint32(v.seq>>32))
		} else {
			got, nh, err = c.Open(nil, packet)
		}
		if err != nil || nh != wantNH || !bytes.Equal(got, wantPayload) {
			t.Errorf("%s: Open = %x, %d, %v; want %x, %d", v.name, got, nh, err, wantPayload, wantNH)
		}

		sealed, err := c.Seal(nil, v.spi, v.seq, unhex(v.iv), wantNH, wantPayload)
		if err != nil || !bytes.Equal(sealed, packet) {
			t.Errorf("%s: Seal = %x, %v\nwant %x", v.name, sealed, err, packet)
		}
	}
}

// 3DES-CBC ESP (RFC 2451) known answers: the packet Seal builds equals one
// built here from crypto/des and crypto/hmac directly (8-octet IV, payload
// padded 1, 2, 3 ... to the 8-octet block, HMAC over SPI to next header
// truncated to 96 or 128 bits), and Open returns the payload. Payload
// lengths around the block boundary exercise 0 to 7 padding octets.
func Test3DESKnownAnswer(t *testing.T) {
	key := unhex("0123456789abcdef 23456789abcdef01 456789abcdef0123")
	iv := unhex("1234567890abcdef")
	for _, tc := range []struct {
		name   string
		auth   espwire.AuthAlg
		icvLen int
	}{
		{"3des-sha1", espwire.AuthHMACSHA1, 12},
		{"3des-sha256", espwire.AuthHMACSHA256, 16},
	} {
		tr, err := espwire.ParseTransform(tc.name)
		if err != nil || tr.ID != espwire.Transform3DES || tr.Auth != tc.auth {
			t.Fatalf("%s: %v, %v", tc.name, tr, err)
		}
		authKey := bytes.Repeat([]byte{0xa5}, tc.auth.KeyLen())
		c, err := NewCipher(tr, key, authKey)
		if err != nil {
			t.Fatal(err)
		}
		block, err := des.NewTripleDESCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 17; n++ {
			payload := bytes.Repeat([]byte{byte(n)}, n)
			plain := bytes.Clone(payload)
			for i := 1; (len(plain)+2)%8 != 0; i++ {
				plain = append(plain, byte(i))
			}
			plain = append(plain, byte(len(plain)-n), 4)
			ct := make([]byte, len(plain))
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
			want := append(unhex("0000abcd 00000011"), iv...)
			want = append(want, ct...)
			m := hmac.New(hashFor(tc.auth), authKey)
			m.Write(want)
			want = append(want, m.Sum(nil)[:tc.icvLen]...)

			got, err := c.Seal(nil, 0xabcd, 0x11, iv, 4, payload)
			if err != nil {
				t.Fatalf("%s, %d octets: %v", tc.name, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s, %d octets:\n got %x\nwant %x", tc.name, n, got, want)
			}
			if len(got) != tr.SealedLen(n) {
				t.Errorf("%s, %d octets: %d octets, SealedLen says %d", tc.name, n, len(got), tr.SealedLen(n))
			}
			pt, next, err := c.Open(nil, want)
			if err != nil || next != 4 || !bytes.Equal(pt, payload) {
				t.Fatalf("%s, %d octets: Open = %x, %d, %v", tc.name, n, pt, next, err)
			}
		}
	}
}
