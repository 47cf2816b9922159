package esp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// draft-mcgrew-gcm-test-01 §4, AES-128 with 32-bit sequence number (see
// ../../../../shared/spec/protocols.md §3.2).
var gcmPacket = unhex(`0000a5f8 0000000a facedbad decaf888
	deb22cd9 b07c72c1 6e3a65be eb8df304 a5a5897d 33ae530f 1ba76d5d 114d2a5c
	3de81827 c10e9a4f 51330d0e ec416642 cfbb85a5 b47e48a4 ec3b9ba9 5d918bd1
	83b70d3a a8bc6ee4 c309e9d8 5a41ad4a`)

func TestSplitVector(t *testing.T) {
	tr := Transform{ID: TransformAESGCM16, KeyBits: 128}
	p, err := tr.Split(gcmPacket)
	if err != nil {
		t.Fatal(err)
	}
	if p.SPI != 0xa5f8 || p.Seq != 10 {
		t.Errorf("header %+v", p.Header)
	}
	if !bytes.Equal(p.IV, unhex("facedbaddecaf888")) {
		t.Errorf("IV %x", p.IV)
	}
	if len(p.Ciphertext) != 64 || !bytes.Equal(p.ICV, unhex("83b70d3aa8bc6ee4c309e9d85a41ad4a")) {
		t.Errorf("ciphertext %d octets, ICV %x", len(p.Ciphertext), p.ICV)
	}
	// The same octets split as AES-GCM-8: 8 more octets of ciphertext.
	p8, err := Transform{ID: TransformAESGCM8, KeyBits: 128}.Split(gcmPacket)
	if err != nil || len(p8.Ciphertext) != 72 || len(p8.ICV) != 8 {
		t.Errorf("GCM-8 split: %v, %d, %d", err, len(p8.Ciphertext), len(p8.ICV))
	}
	// Appending to a field must not overwrite the next one.
	_ = append(p.IV, 0xff)
	_ = append(p.Ciphertext, 0xff)
	if gcmPacket[16] != 0xde || gcmPacket[16+64] != 0x83 {
		t.Error("Split returned slices with spare capacity over the next field")
	}
}

func TestSplitErrors(t *testing.T) {
	gcm := Transform{ID: TransformAESGCM16, KeyBits: 128}
	cbc := Transform{ID: TransformAESCBC, KeyBits: 128, Auth: AuthHMACSHA1}
	null := Transform{ID: TransformNULL, Auth: AuthHMACSHA256}
	for _, tc := range []struct {
		name  string
		tr    Transform
		n     int
		err   error
		field string
		off   int
	}{
		{"gcm empty", gcm, 0, ErrShort, "ESP header", 0},
		{"gcm header only", gcm, 8, ErrShort, "IV", 8},
		{"gcm partial IV", gcm, 13, ErrShort, "IV", 8},
		{"gcm no ICV", gcm, 16 + 15, ErrShort, "ciphertext and ICV", 16},
		{"gcm trailer short", gcm, 16 + 1 + 16, ErrShort, "ciphertext and ICV", 16},
		{"cbc short IV", cbc, 20, ErrShort, "IV", 8},
		{"cbc one partial block", cbc, 24 + 15 + 12, ErrShort, "ciphertext and ICV", 24},
		{"cbc not a block multiple", cbc, 24 + 17 + 12, ErrLength, "ciphertext", 24},
		{"null short", null, 8 + 1 + 16, ErrShort, "ciphertext and ICV", 8},
	} {
		_, err := tc.tr.Split(make([]byte, tc.n))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, tc.err) || pe.Field != tc.field || pe.Offset != tc.off {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		tr Transform
		n  int
	}{{gcm, 16 + 2 + 16}, {cbc, 24 + 16 + 12}, {null, 8 + 2 + 16}, {gcm, 16 + 3 + 16}} {
		if _, err := tc.tr.Split(make([]byte, tc.n)); err != nil {
			t.Errorf("%v, %d octets: %v", tc.tr, tc.n, err)
		}
	}
	_, err := cbc.Split(make([]byte, 24+17+12))
	if want := "esp: ciphertext at offset 24: length not a multiple of the cipher block size (length 17, block size 16)"; err.Error() != want {
		t.Errorf("error text %q", err)
	}
}
