package esp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// hashFor returns the hash of an HMAC integrity algorithm; the ICV is its
// HMAC truncated to the leftmost Auth.ICVLen octets (RFC 2404 §2, RFC 4868
// §2.1.1).
func hashFor(a espwire.AuthAlg) func() hash.Hash {
	switch a {
	case espwire.AuthHMACSHA1:
		return sha1.New
	case espwire.AuthHMACSHA256:
		return sha256.New
	case espwire.AuthHMACSHA384:
		return sha512.New384
	case espwire.AuthHMACSHA512:
		return sha512.New
	}
	return nil
}
