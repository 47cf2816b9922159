package esp

import (
	"crypto/cipher"
	"crypto/subtle"
)

// AES-CBC (RFC 3602) on a cipher.Block, written out so that it needs no
// per-packet cipher.BlockMode (cipher.NewCBCEncrypter allocates, and a
// BlockMode carries the IV as state, which would make a Cipher unsafe for
// concurrent use). A cipher.Block is safe for concurrent use.

// cbcEncrypt encrypts buf (a whole number of blocks) in place with the
// given IV.
func cbcEncrypt(b cipher.Block, iv, buf []byte) {
	bs := b.BlockSize()
	prev := iv
	for i := 0; i+bs <= len(buf); i += bs {
		blk := buf[i : i+bs]
		subtle.XORBytes(blk, blk, prev)
		b.Encrypt(blk, blk)
		prev = blk
	}
}

// cbcDecrypt decrypts src (a whole number of blocks) into dst, which is
// either disjoint from src or exactly src. It walks backwards so that in
// place the previous ciphertext block is still intact when it is needed.
func cbcDecrypt(b cipher.Block, iv, dst, src []byte) {
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
