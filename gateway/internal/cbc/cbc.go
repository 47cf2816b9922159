// Package cbc is CBC mode (RFC 3602 for ESP, RFC 2409 appendix B for
// IKEv1) on a cipher.Block, written out so that it needs no
// cipher.BlockMode: cipher.NewCBCEncrypter allocates a copy of the key
// schedule, and a BlockMode carries the IV as state, which would make a
// cipher unsafe for concurrent use. A cipher.Block is safe for
// concurrent use.
package cbc

import (
	"crypto/cipher"
	"crypto/subtle"
)

// Encrypt encrypts buf (a whole number of blocks) in place with the
// given IV.
func Encrypt(b cipher.Block, iv, buf []byte) {
	bs := b.BlockSize()
	prev := iv
	for i := 0; i+bs <= len(buf); i += bs {
		blk := buf[i : i+bs]
		subtle.XORBytes(blk, blk, prev)
		b.Encrypt(blk, blk)
		prev = blk
	}
}

// Decrypt decrypts src (a whole number of blocks) into dst, which is
// either disjoint from src or exactly src. It walks backwards so that in
// place the previous ciphertext block is still intact when it is needed.
func Decrypt(b cipher.Block, iv, dst, src []byte) {
	bs := b.BlockSize()
	for i := len(src) - len(src)%bs - bs; i >= 0; i -= bs {
		prev := iv
		if i > 0 {
			prev = src[i-bs : i]
		}
		b.Decrypt(dst[i:i+bs], src[i:i+bs])
		subtle.XORBytes(dst[i:i+bs], dst[i:i+bs], prev)
	}
}
