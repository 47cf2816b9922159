// Package espseal builds ESP packets for the bench's tests straight from
// the RFCs with crypto/cipher and crypto/hmac: the independent oracle the
// bench's ESP decoder is tested against, so that neither side borrows the
// daemon's gateway/esp. Framing constants and the transform table come from
// the gateway/wire/esp codec.
package espseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// Seal returns the ESP packet (SPI to ICV) carrying payload with next
// header next: payload, padding 1, 2, 3, ... to the transform's alignment
// (RFC 4303 §2.4), pad length and next header, encrypted and authenticated
// with a 32-bit sequence number. iv is the explicit IV (t.IVLen() octets).
func Seal(t espwire.Transform, key, authKey []byte, spi, seq uint32, iv []byte, next byte, payload []byte) ([]byte, error) {
	plain := append([]byte(nil), payload...)
	for i := 1; (len(plain)+2)%t.PadAlign() != 0; i++ {
		plain = append(plain, byte(i))
	}
	plain = append(plain, byte(len(plain)-len(payload)), next)
	return SealPlain(t, key, authKey, spi, seq, iv, plain)
}

// SealPlain encrypts and authenticates plain as it is, trailer included:
// for packets with wrong padding or pad length. For CBC, plain must be a
// whole number of blocks.
func SealPlain(t espwire.Transform, key, authKey []byte, spi, seq uint32, iv, plain []byte) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if len(key) != t.EncKeyLen() || len(authKey) != t.AuthKeyLen() || len(iv) != t.IVLen() {
		return nil, fmt.Errorf("espseal: %v: key %d, authkey %d, IV %d octets; want %d, %d, %d",
			t, len(key), len(authKey), len(iv), t.EncKeyLen(), t.AuthKeyLen(), t.IVLen())
	}
	hdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, spi), seq)
	out := append(hdr, iv...)
	if t.Combined() {
		// RFC 4106: key ‖ 4-octet salt; nonce = salt ‖ IV; AAD = SPI ‖ seq;
		// the ICV is the GCM tag, truncated to the transform's length.
		n := len(key) - 4
		b, err := aes.NewCipher(key[:n])
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		nonce := append(append([]byte(nil), key[n:]...), iv...)
		sealed := gcm.Seal(nil, nonce, plain, hdr)
		return append(out, sealed[:len(plain)+t.ICVLen()]...), nil
	}
	ct := make([]byte, len(plain))
	switch t.ID {
	case espwire.TransformAESCBC, espwire.Transform3DES:
		var b cipher.Block
		var err error
		if t.ID == espwire.TransformAESCBC {
			b, err = aes.NewCipher(key)
		} else {
			b, err = des.NewTripleDESCipher(key)
		}
		if err != nil {
			return nil, err
		}
		if len(plain)%b.BlockSize() != 0 {
			return nil, fmt.Errorf("espseal: %v: plaintext of %d octets is not whole blocks", t, len(plain))
		}
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, plain)
	default: // ESP_NULL
		copy(ct, plain)
	}
	out = append(out, ct...)
	m := hmac.New(hashOf(t.Auth), authKey)
	m.Write(out)
	return append(out, m.Sum(nil)[:t.ICVLen()]...), nil
}

func hashOf(a espwire.AuthAlg) func() hash.Hash {
	switch a {
	case espwire.AuthHMACSHA1:
		return sha1.New
	case espwire.AuthHMACSHA256:
		return sha256.New
	case espwire.AuthHMACSHA384:
		return sha512.New384
	}
	return sha512.New
}
