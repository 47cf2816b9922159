package ikev1

import (
	"hash"
)

// Key derivations of RFC 2409 §5 and appendix B. Every function takes the
// negotiated hash (prf = HMAC with it, see PRF) and returns fresh slices.

// skeyidPSK is SKEYID for pre-shared key authentication:
// prf(pre-shared-key, Ni_b | Nr_b).
func skeyidPSK(h func() hash.Hash, psk, ni, nr []byte) []byte {
	return PRF(h, psk, ni, nr)
}

// skeyidSig is SKEYID for signature authentication:
// prf(Ni_b | Nr_b, g^xy). Here for the RSA-signature authenticator to come.
func skeyidSig(h func() hash.Hash, ni, nr, gxy []byte) []byte {
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	return PRF(h, key, gxy)
}

// deriveSKEYIDs derives SKEYID_d, SKEYID_a and SKEYID_e, each chained on the
// previous one:
//
//	SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//	SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//	SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
func deriveSKEYIDs(h func() hash.Hash, skeyid, gxy []byte, icky, rcky [8]byte) (d, a, e []byte) {
	d = PRF(h, skeyid, gxy, icky[:], rcky[:], []byte{0})
	a = PRF(h, skeyid, d, gxy, icky[:], rcky[:], []byte{1})
	e = PRF(h, skeyid, a, gxy, icky[:], rcky[:], []byte{2})
	return d, a, e
}

// encryptionKey is the phase-1 cipher key: the first keyLen octets of
// SKEYID_e, or, when SKEYID_e is shorter than that (AES-256 or 3DES with a
// SHA-1 prf), of Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0) and
// Kn = prf(SKEYID_e, K(n-1)) (RFC 2409 appendix B).
func encryptionKey(h func() hash.Hash, skeyidE []byte, keyLen int) []byte {
	if len(skeyidE) >= keyLen {
		return append([]byte(nil), skeyidE[:keyLen]...)
	}
	var ka []byte
	k := []byte{0}
	for len(ka) < keyLen {
		k = PRF(h, skeyidE, k)
		ka = append(ka, k...)
	}
	return ka[:keyLen]
}

// phase1IV is the IV of main mode message 5: hash(g^xi | g^xr), the plain
// hash (not the prf), truncated to the cipher's block size (RFC 2409
// appendix B). Later messages chain on the last ciphertext block.
func phase1IV(h func() hash.Hash, gxi, gxr []byte, blockSize int) []byte {
	d := h()
	d.Write(gxi)
	d.Write(gxr)
	return d.Sum(nil)[:blockSize]
}

// hashI is HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b),
// SAi_b being the body of the initiator's message-1 SA payload and IDii_b
// the body of its ID payload.
func hashI(h func() hash.Hash, skeyid, gxi, gxr []byte, icky, rcky [8]byte, saiB, idiiB []byte) []byte {
	return PRF(h, skeyid, gxi, gxr, icky[:], rcky[:], saiB, idiiB)
}

// hashR is HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b):
// the responder's values first, and still the initiator's SA.
func hashR(h func() hash.Hash, skeyid, gxi, gxr []byte, icky, rcky [8]byte, saiB, idirB []byte) []byte {
	return PRF(h, skeyid, gxr, gxi, rcky[:], icky[:], saiB, idirB)
}
