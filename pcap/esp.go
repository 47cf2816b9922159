package pcap

// The bench opens ESP with its own code, written from the RFCs with
// crypto/cipher, crypto/hmac and the gateway/wire/esp codec (framing and
// the transform table only), never with the daemon's gateway/esp: a
// decoder that shared the daemon's crypto would share its bugs, and a
// capture would then "decrypt" exactly as wrongly as it was sealed.
//
// GETVPN TEKs carry no extended sequence numbers (the key log has no ESN
// field; RFC 6407 TEKs negotiate none), so the AAD and the HMAC cover the
// 32-bit sequence number on the wire only.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// errESPAuth is the decrypt error of a packet whose ICV does not verify:
// tampered, wrong key or a key log entry for another SA.
var errESPAuth = errors.New("esp: integrity check failed")

// espSA is one TEK of the key log, keyed once per SPI.
type espSA struct {
	t espwire.Transform
	// AES-GCM (RFC 4106): the AES block cipher, the salt (last 4 octets of
	// the key material) and the AEAD with a 16-octet tag; an 8-octet ICV is
	// checked against the full tag's prefix (see openGCM).
	block cipher.Block
	salt  []byte
	gcm   cipher.AEAD
	// HMAC transforms: the hash and its key.
	hash    func() hash.Hash
	authKey []byte
}

func newESPSA(k ESPKeys) (*espSA, error) {
	t := k.Transform
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := checkKeyLens(k); err != nil {
		return nil, fmt.Errorf("esp: %w", err)
	}
	sa := &espSA{t: t}
	var err error
	switch t.ID {
	case espwire.TransformAESGCM8, espwire.TransformAESGCM12, espwire.TransformAESGCM16:
		n := len(k.Key) - t.SaltLen()
		sa.salt = k.Key[n:]
		if sa.block, err = aes.NewCipher(k.Key[:n]); err != nil {
			break
		}
		// Go's GCM takes tags of 12 to 16 octets; an 8-octet ICV is the
		// prefix of the 16-octet tag (RFC 4106 §6, NIST SP 800-38D §5.2.1.2).
		tag := t.ICVLen()
		if tag < 12 {
			tag = 16
		}
		sa.gcm, err = cipher.NewGCMWithTagSize(sa.block, tag)
	case espwire.TransformAESCBC:
		sa.block, err = aes.NewCipher(k.Key)
	case espwire.Transform3DES:
		sa.block, err = des.NewTripleDESCipher(k.Key)
	case espwire.TransformNULL:
	default:
		err = fmt.Errorf("no decryption for %v", t)
	}
	if err != nil {
		return nil, fmt.Errorf("esp: %v: %w", t, err)
	}
	if !t.Combined() {
		switch t.Auth {
		case espwire.AuthHMACSHA1:
			sa.hash = sha1.New
		case espwire.AuthHMACSHA256:
			sa.hash = sha256.New
		case espwire.AuthHMACSHA384:
			sa.hash = sha512.New384
		case espwire.AuthHMACSHA512:
			sa.hash = sha512.New
		default:
			return nil, fmt.Errorf("esp: %v: no integrity algorithm", t)
		}
		sa.authKey = k.AuthKey
	}
	return sa, nil
}

// open authenticates and decrypts one ESP packet (SPI to ICV) and returns
// the payload and next header, padding and trailer stripped (RFC 4303
// §2.4–2.6). The payload is a new slice; packet is not modified.
func (sa *espSA) open(packet []byte) ([]byte, uint8, error) {
	p, err := sa.t.Split(packet) // checks every length against the transform
	if err != nil {
		return nil, 0, err
	}
	var plain []byte
	if sa.t.Combined() {
		if plain, err = sa.openGCM(packet, p); err != nil {
			return nil, 0, err
		}
	} else {
		// RFC 2404 / RFC 4868: the ICV is the truncated HMAC of ESP
		// header, IV and ciphertext, checked before decrypting.
		m := hmac.New(sa.hash, sa.authKey)
		m.Write(packet[:len(packet)-len(p.ICV)])
		if !hmac.Equal(m.Sum(nil)[:len(p.ICV)], p.ICV) {
			return nil, 0, errESPAuth
		}
		plain = make([]byte, len(p.Ciphertext))
		if sa.block != nil {
			// RFC 3602 §2.3, RFC 2451 §3: the explicit IV is one block.
			cipher.NewCBCDecrypter(sa.block, p.IV).CryptBlocks(plain, p.Ciphertext)
		} else {
			copy(plain, p.Ciphertext) // ESP_NULL (RFC 2410)
		}
	}
	tr, n, err := espwire.ParseTrailer(plain) // pad length fits, padding is 1, 2, 3, ...
	if err != nil {
		return nil, 0, err
	}
	return plain[:n], tr.NextHeader, nil
}

// openGCM is RFC 4106: nonce = salt ‖ explicit IV, AAD = SPI ‖ sequence
// number (the 8-octet ESP header), the ICV the tag.
func (sa *espSA) openGCM(packet []byte, p espwire.Packet) ([]byte, error) {
	nonce := append(append(make([]byte, 0, 12), sa.salt...), p.IV...)
	aad := packet[:espwire.HeaderLen]
	if sa.t.ID != espwire.TransformAESGCM8 {
		plain, err := sa.gcm.Open(nil, nonce, packet[espwire.HeaderLen+len(p.IV):], aad)
		if err != nil {
			return nil, errESPAuth
		}
		return plain, nil
	}
	// An 8-octet tag: decrypt with the GCM counter (J0+1, J0 = nonce ‖ 1,
	// NIST SP 800-38D §7.2), seal the result again for the full tag and
	// compare its prefix.
	ctr := append(append(make([]byte, 0, aes.BlockSize), nonce...), 0, 0, 0, 2)
	plain := make([]byte, len(p.Ciphertext))
	cipher.NewCTR(sa.block, ctr).XORKeyStream(plain, p.Ciphertext)
	full := sa.gcm.Seal(nil, nonce, plain, aad)
	if !hmac.Equal(full[len(plain):][:len(p.ICV)], p.ICV) {
		return nil, errESPAuth
	}
	return plain, nil
}
