package cbc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"testing"
)

// Encrypt and Decrypt agree with crypto/cipher's CBC for AES and 3DES, one
// block to many, in place and into another buffer.
func TestAgreesWithCryptoCipher(t *testing.T) {
	a, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	d, _ := des.NewTripleDESCipher(bytes.Repeat([]byte{2}, 24))
	for _, b := range []cipher.Block{a, d} {
		bs := b.BlockSize()
		iv := bytes.Repeat([]byte{9}, bs)
		for _, blocks := range []int{1, 2, 7, 64} {
			pt := make([]byte, blocks*bs)
			for i := range pt {
				pt[i] = byte(i * 7)
			}
			want := make([]byte, len(pt))
			cipher.NewCBCEncrypter(b, iv).CryptBlocks(want, pt)
			got := bytes.Clone(pt)
			Encrypt(b, iv, got)
			if !bytes.Equal(got, want) {
				t.Fatalf("block %d, %d blocks: encryption differs", bs, blocks)
			}
			out := make([]byte, len(got))
			Decrypt(b, iv, out, got)
			Decrypt(b, iv, got, got)
			if !bytes.Equal(out, pt) || !bytes.Equal(got, pt) {
				t.Fatalf("block %d, %d blocks: decryption differs", bs, blocks)
			}
		}
	}
}
