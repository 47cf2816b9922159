package ikev1

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Suite is a negotiated phase-1 transform: what one IKE policy proposes and
// what the responder chose (RFC 2409 appendix A attribute classes).
type Suite struct {
	// Enc is the encryption algorithm: isakmp.EncAESCBC or isakmp.Enc3DESCBC.
	Enc uint16
	// KeyBits is the AES key length (128, 192 or 256); 192 for 3DES.
	KeyBits int
	// Hash is the hash and prf algorithm: isakmp.HashSHA1 ... HashSHA512.
	Hash uint16
	// Group is the Diffie-Hellman group (2, 5, 14, 19, 20).
	Group int
	// Auth is the authentication method: isakmp.AuthPreSharedKey (RSA
	// signatures come later through the Authenticator interface).
	Auth uint16
	// Lifetime is the phase-1 SA lifetime in protocol time.
	Lifetime time.Duration
}

// ParseSuite builds a suite from the configuration's names: encryption
// "aes128", "aes256" or "3des"; hash "sha1", "sha256", "sha384", "sha512".
func ParseSuite(enc, hashName string, group int, lifetime time.Duration) (Suite, error) {
	s := Suite{Group: group, Auth: isakmp.AuthPreSharedKey, Lifetime: lifetime}
	switch enc {
	case "aes128":
		s.Enc, s.KeyBits = isakmp.EncAESCBC, 128
	case "aes192":
		s.Enc, s.KeyBits = isakmp.EncAESCBC, 192
	case "aes256":
		s.Enc, s.KeyBits = isakmp.EncAESCBC, 256
	case "3des":
		s.Enc, s.KeyBits = isakmp.Enc3DESCBC, 192
	default:
		return Suite{}, fmt.Errorf("ikev1: unknown encryption %q", enc)
	}
	for id, h := range hashes {
		if h.name == hashName {
			s.Hash = id
			return s, nil
		}
	}
	return Suite{}, fmt.Errorf("ikev1: unknown hash %q", hashName)
}

// hashes are the phase-1 hash (and prf) algorithms, by attribute value:
// their names in the configuration and their constructors.
var hashes = map[uint16]struct {
	name string
	new  func() hash.Hash
}{
	isakmp.HashSHA1:   {"sha1", sha1.New},
	isakmp.HashSHA256: {"sha256", sha256.New},
	isakmp.HashSHA384: {"sha384", sha512.New384},
	isakmp.HashSHA512: {"sha512", sha512.New},
}

// String names the suite the way an operator writes it: "aes256-sha256-g14".
func (s Suite) String() string {
	return fmt.Sprintf("%s-%s-g%d", s.EncName(), s.HashName(), s.Group)
}

// EncName is the encryption algorithm's name ("aes256", "3des").
func (s Suite) EncName() string {
	switch s.Enc {
	case isakmp.EncAESCBC:
		return fmt.Sprintf("aes%d", s.KeyBits)
	case isakmp.Enc3DESCBC:
		return "3des"
	}
	return fmt.Sprintf("enc%d", s.Enc)
}

// HashName is the hash algorithm's name ("sha256").
func (s Suite) HashName() string {
	if h, ok := hashes[s.Hash]; ok {
		return h.name
	}
	return fmt.Sprintf("hash%d", s.Hash)
}

// KeyLogCipher is the cipher's name in the key log ("aes-cbc", "3des-cbc").
func (s Suite) KeyLogCipher() string {
	if s.Enc == isakmp.Enc3DESCBC {
		return "3des-cbc"
	}
	return "aes-cbc"
}

// NewHash returns the suite's hash constructor.
func (s Suite) NewHash() (func() hash.Hash, error) {
	if h, ok := hashes[s.Hash]; ok {
		return h.new, nil
	}
	return nil, fmt.Errorf("ikev1: unsupported hash algorithm %d", s.Hash)
}

// KeyLen is the encryption key length in octets.
func (s Suite) KeyLen() int { return s.KeyBits / 8 }

// BlockSize is the cipher's block size in octets.
func (s Suite) BlockSize() int {
	if s.Enc == isakmp.Enc3DESCBC {
		return des.BlockSize
	}
	return aes.BlockSize
}

// NewBlock returns the block cipher keyed with key.
func (s Suite) NewBlock(key []byte) (cipher.Block, error) {
	switch s.Enc {
	case isakmp.EncAESCBC:
		return aes.NewCipher(key)
	case isakmp.Enc3DESCBC:
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("ikev1: unsupported encryption algorithm %d", s.Enc)
}
