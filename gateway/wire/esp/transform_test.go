package esp

import (
	"errors"
	"testing"
)

func TestTransformLengths(t *testing.T) {
	for _, tc := range []struct {
		name                                         string
		iv, icv, block, align, encKey, authKey, salt int
	}{
		{"aes128gcm16", 8, 16, 1, 4, 20, 0, 4},
		{"aes192gcm12", 8, 12, 1, 4, 28, 0, 4},
		{"aes256gcm8", 8, 8, 1, 4, 36, 0, 4},
		{"aes128-sha1", 16, 12, 16, 16, 16, 20, 0},
		{"aes192-sha256", 16, 16, 16, 16, 24, 32, 0},
		{"aes256-sha384", 16, 24, 16, 16, 32, 48, 0},
		{"aes256-sha512", 16, 32, 16, 16, 32, 64, 0},
		{"null-sha256", 0, 16, 1, 4, 0, 32, 0},
		// RFC 2451: 8-octet IV and block, 192-bit key with parity.
		{"3des-sha1", 8, 12, 8, 8, 24, 20, 0},
		{"3des-sha256", 8, 16, 8, 8, 24, 32, 0},
	} {
		tr, err := ParseTransform(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := []int{tr.IVLen(), tr.ICVLen(), tr.BlockSize(), tr.PadAlign(), tr.EncKeyLen(), tr.AuthKeyLen(), tr.SaltLen()}
		want := []int{tc.iv, tc.icv, tc.block, tc.align, tc.encKey, tc.authKey, tc.salt}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: iv, icv, block, align, encKey, authKey, salt = %v, want %v", tc.name, got, want)
				break
			}
		}
	}
}

func TestWiresharkLabels(t *testing.T) {
	for _, tc := range []struct{ name, encr, auth string }{
		{"aes128gcm16", "AES-GCM with 16 octet ICV [RFC4106]", "NULL"},
		{"aes256gcm12", "AES-GCM with 12 octet ICV [RFC4106]", "NULL"},
		{"aes256gcm8", "AES-GCM with 8 octet ICV [RFC4106]", "NULL"},
		{"aes128-sha1", "AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]"},
		{"aes256-sha256", "AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]"},
		{"aes192-sha384", "AES-CBC [RFC3602]", "HMAC-SHA-384-192 [RFC4868]"},
		{"aes256-sha512", "AES-CBC [RFC3602]", "HMAC-SHA-512-256 [RFC4868]"},
		{"null-sha1", "NULL", "HMAC-SHA-1-96 [RFC2404]"},
		{"3des-sha1", "TripleDES-CBC [RFC2451]", "HMAC-SHA-1-96 [RFC2404]"},
	} {
		tr, err := ParseTransform(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if e, a := tr.WiresharkEncryption(), tr.WiresharkAuthentication(); e != tc.encr || a != tc.auth {
			t.Errorf("%s: labels %q, %q; want %q, %q", tc.name, e, a, tc.encr, tc.auth)
		}
	}
	if l := (Transform{}).WiresharkEncryption(); l != "" {
		t.Errorf("zero transform label %q", l)
	}
}

func TestFromDOI(t *testing.T) {
	for _, tc := range []struct {
		id         uint8
		bits, auth uint16
		want       string // "" = error
	}{
		{12, 128, 2, "aes128-sha1"},
		{12, 256, 5, "aes256-sha256"},
		{12, 192, 6, "aes192-sha384"},
		{12, 256, 7, "aes256-sha512"},
		{20, 128, 0, "aes128gcm16"},
		{20, 256, 0, "aes256gcm16"},
		{19, 192, 0, "aes192gcm12"},
		{18, 128, 0, "aes128gcm8"},
		{11, 0, 5, "null-sha256"},
		{12, 128, 0, ""},           // CBC without integrity
		{12, 0, 2, ""},             // CBC without key length
		{12, 64, 2, ""},            // bad key length
		{20, 128, 2, ""},           // GCM with separate integrity
		{20, 160, 0, ""},           // gdoid's key+salt bits: interop switch, not silent
		{11, 128, 2, ""},           // NULL with a key length
		{11, 0, 0, ""},             // NULL without integrity
		{12, 128, 1, ""},           // HMAC-MD5 not supported
		{3, 0, 2, "3des-sha1"},     // fixed key length: no attribute (gdoid)
		{3, 192, 5, "3des-sha256"}, // or the fixed length itself
		{3, 128, 2, ""},            // 3DES with another key length
		{3, 0, 0, ""},              // 3DES without integrity
		{2, 0, 2, ""},              // ESP_DES not supported
		{13, 128, 0, ""},           // AES-CTR not supported
	} {
		tr, err := FromDOI(tc.id, tc.bits, tc.auth)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrTransform) {
				t.Errorf("FromDOI(%d, %d, %d) = %v, %v; want ErrTransform", tc.id, tc.bits, tc.auth, tr, err)
			}
			continue
		}
		if err != nil || tr.String() != tc.want {
			t.Errorf("FromDOI(%d, %d, %d) = %v, %v; want %s", tc.id, tc.bits, tc.auth, tr, err, tc.want)
		}
	}
}

func TestAllRoundTrips(t *testing.T) {
	all := All()
	if len(all) != 9+12+4+4 {
		t.Errorf("All() has %d transforms", len(all))
	}
	seen := map[string]bool{}
	for _, tr := range all {
		if err := tr.Validate(); err != nil {
			t.Errorf("%v: %v", tr, err)
		}
		s := tr.String()
		if seen[s] {
			t.Errorf("duplicate name %s", s)
		}
		seen[s] = true
		if p, err := ParseTransform(s); err != nil || p != tr {
			t.Errorf("ParseTransform(%q) = %v, %v", s, p, err)
		}
		if p, err := FromDOI(tr.DOI()); err != nil || p != tr {
			t.Errorf("FromDOI(%v.DOI()) = %v, %v", tr, p, err)
		}
		if tr.WiresharkEncryption() == "" || tr.WiresharkAuthentication() == "" {
			t.Errorf("%v: no Wireshark label", tr)
		}
	}
	if _, err := ParseTransform("aes128-md5"); !errors.Is(err, ErrTransform) {
		t.Errorf("ParseTransform(aes128-md5) err = %v", err)
	}
	if p, err := ParseTransform("AES256GCM16"); err != nil || p != (Transform{ID: TransformAESGCM16, KeyBits: 256}) {
		t.Errorf("ParseTransform is case-sensitive: %v, %v", p, err)
	}
}

func TestSealedLenAndOverhead(t *testing.T) {
	gcm := Transform{ID: TransformAESGCM16, KeyBits: 128}
	cbc := Transform{ID: TransformAESCBC, KeyBits: 128, Auth: AuthHMACSHA256}
	for _, tc := range []struct {
		tr         Transform
		payload, n int
	}{
		{gcm, 62, 8 + 8 + 64 + 16}, // draft-mcgrew-gcm-test-01 32-bit seq case
		{gcm, 48, 8 + 8 + 52 + 16}, // its AES-256 case: 2 octets of padding
		{gcm, 0, 8 + 8 + 4 + 16},
		{cbc, 0, 8 + 16 + 16 + 16},
		{cbc, 14, 8 + 16 + 16 + 16},
		{cbc, 15, 8 + 16 + 32 + 16},
		{cbc, 1400, 8 + 16 + 1408 + 16},
	} {
		if got := tc.tr.SealedLen(tc.payload); got != tc.n {
			t.Errorf("%v.SealedLen(%d) = %d, want %d", tc.tr, tc.payload, got, tc.n)
		}
		if o := tc.tr.Overhead(); tc.tr.SealedLen(tc.payload)-tc.payload > o {
			t.Errorf("%v: SealedLen(%d) exceeds Overhead %d", tc.tr, tc.payload, o)
		}
	}
}
