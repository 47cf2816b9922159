package gdoi

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/getlab/getlab/gateway/internal/cbc"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// GROUPKEY-PUSH (RFC 6407 §4; protocols.md §1.5): one message from the KS
// to the group (multicast) or to each GM (unicast), on UDP 848:
//
//	HDR*, SEQ, [SA, KD,] [D,] SIG
//
// HDR carries the KEK SPI as its cookie pair, exchange 33, the E flag and
// message ID 0. The KS signs
//
//	H = SIG_HASH( "rekey" | HDR | SEQ | SA | KD [| D] )
//
// where HDR already has the E flag and a Length that counts every payload
// up to the end of SIG (before encryption padding), and the payloads are in
// clear with the last one's Next Payload = SIG; then it encrypts everything
// after the header with the KEK in CBC mode, with the IV downloaded with
// the KEK (the static IV of RFC 3547 and gdoid), zero-padded to the block.
// A PUSH that replaces the KEK is still protected with the old one.
//
// The signature is RSASSA-PKCS1-v1_5; PushOptions.RawHash signs the bare
// hash without the DigestInfo prefix instead, as gdoid does (IKEv1 style).
// OpenPush accepts either.

// PushOptions are the interop switches of GROUPKEY-PUSH.
type PushOptions struct {
	// RawHash signs the bare hash (PKCS#1 type 1 padding without the
	// DigestInfo), as gdoid does, instead of RSASSA-PKCS1-v1_5.
	RawHash bool
}

// Push is a decrypted, verified GROUPKEY-PUSH.
type Push struct {
	Header  isakmp.Header
	Seq     uint32
	SA      *gdoiwire.SA // nil when the PUSH carries no new policy
	KD      *gdoiwire.KD
	Deletes []*isakmp.Delete
}

// Errors of OpenPush.
var (
	// ErrPushSignature is a PUSH whose signature does not verify.
	ErrPushSignature = errors.New("GROUPKEY-PUSH signature does not verify")
	// ErrPushKEK is a PUSH whose cookies are not the KEK's.
	ErrPushKEK = errors.New("GROUPKEY-PUSH for another KEK")
)

var rekeyLabel = []byte("rekey")

// SealPush builds the GROUPKEY-PUSH protected by kek, signed with signer,
// with sequence number seq and the payloads ps (SA, KD, Deletes, in that
// order; any may be absent).
func SealPush(kek *KEK, signer *rsa.PrivateKey, seq uint32, ps []isakmp.Payload, opt PushOptions) ([]byte, error) {
	h, err := sigHash(kek.SigHash)
	if err != nil {
		return nil, err
	}
	body := append([]isakmp.Payload{&gdoiwire.SEQ{Seq: seq}}, ps...)
	// The payloads in clear, the last one pointing at SIG.
	clear := appendChain(nil, body, isakmp.PayloadSig)
	sigLen := signer.Size()
	hdr := isakmp.Header{
		NextPayload: isakmp.PayloadSEQ, Exchange: isakmp.ExchangeGroupkeyPush, Flags: isakmp.FlagEncryption,
		Length: uint32(isakmp.HeaderLen + len(clear) + 4 + sigLen),
	}
	hdr.SetCookies(kek.SPI)
	digest := pushDigest(h, hdr.Append(nil), clear)
	var sig []byte
	if opt.RawHash {
		sig, err = rsa.SignPKCS1v15(rand.Reader, signer, 0, digest)
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, signer, h, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("GROUPKEY-PUSH signature: %w", err)
	}
	pt := isakmp.AppendPayload(clear, isakmp.PayloadNone, &isakmp.Signature{Data: sig})
	ct, err := kekCBC(kek, pt, true)
	if err != nil {
		return nil, err
	}
	hdr.Length = uint32(isakmp.HeaderLen + len(ct))
	return append(hdr.Append(nil), ct...), nil
}

// appendChain appends payloads linked by their Next Payload fields, the
// last one's pointing at last.
func appendChain(b []byte, ps []isakmp.Payload, last isakmp.PayloadType) []byte {
	for i, p := range ps {
		next := last
		if i+1 < len(ps) {
			next = ps[i+1].Type()
		}
		b = isakmp.AppendPayload(b, next, p)
	}
	return b
}

func pushDigest(h crypto.Hash, hdr, clear []byte) []byte {
	d := h.New()
	d.Write(rekeyLabel)
	d.Write(hdr)
	d.Write(clear)
	return d.Sum(nil)
}

// OpenPush decrypts a GROUPKEY-PUSH with kek and verifies its signature
// with the KS's public key from the registration (kek.PublicKey). It does
// not judge the sequence number: that is the GM's replay check.
func OpenPush(pkt []byte, kek *KEK) (*Push, error) {
	hdr, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, err
	}
	if hdr.Exchange != isakmp.ExchangeGroupkeyPush || hdr.Flags&isakmp.FlagEncryption == 0 {
		return nil, fmt.Errorf("not an encrypted GROUPKEY-PUSH (exchange %v, flags %v)", hdr.Exchange, hdr.Flags)
	}
	if hdr.Cookies() != kek.SPI {
		return nil, ErrPushKEK
	}
	if int(hdr.Length) != len(pkt) {
		return nil, fmt.Errorf("GROUPKEY-PUSH: header length %d, datagram %d", hdr.Length, len(pkt))
	}
	pt, err := kekCBC(kek, pkt[isakmp.HeaderLen:], false)
	if err != nil {
		return nil, err
	}
	m, err := isakmp.ParseBody(hdr, pt, gdoiwire.Decoder{})
	if err != nil {
		return nil, fmt.Errorf("GROUPKEY-PUSH does not parse once decrypted (wrong KEK?): %w", err)
	}
	n := len(m.Payloads)
	if n < 2 || m.Payloads[n-1].Type() != isakmp.PayloadSig || m.Payloads[0].Type() != isakmp.PayloadSEQ {
		return nil, fmt.Errorf("GROUPKEY-PUSH layout %s: want SEQ first and SIG last", m.Layout())
	}
	offs, _ := m.Offsets()
	sigOff := offs[n-1] - isakmp.HeaderLen // the SIG payload in pt
	sig := m.Payloads[n-1].(*isakmp.Signature).Data
	signed := pt[:sigOff]
	// The header as signed: its Length counted the payloads up to the end
	// of SIG, before padding.
	h0 := hdr
	h0.Length = uint32(isakmp.HeaderLen + sigOff + 4 + len(sig))
	pub, err := kekPublicKey(kek)
	if err != nil {
		return nil, err
	}
	h, err := sigHash(kek.SigHash)
	if err != nil {
		return nil, err
	}
	digest := pushDigest(h, h0.Append(nil), signed)
	if rsa.VerifyPKCS1v15(pub, h, digest, sig) != nil && rsa.VerifyPKCS1v15(pub, 0, digest, sig) != nil {
		return nil, ErrPushSignature
	}
	p := &Push{Header: hdr, Seq: m.Payloads[0].(*gdoiwire.SEQ).Seq}
	for _, pl := range m.Payloads[1 : n-1] {
		switch v := pl.(type) {
		case *gdoiwire.SA:
			p.SA = v
		case *gdoiwire.KD:
			p.KD = v
		case *isakmp.Delete:
			p.Deletes = append(p.Deletes, v)
		}
	}
	if p.SA != nil && p.KD == nil {
		return nil, errors.New("GROUPKEY-PUSH has an SA but no KD")
	}
	return p, nil
}

// kekCBC encrypts (zero-padding to the block) or decrypts b with the KEK,
// starting from the KEK's downloaded IV.
func kekCBC(kek *KEK, b []byte, encrypt bool) ([]byte, error) {
	var blk cipher.Block
	var err error
	switch kek.Algorithm {
	case gdoiwire.KEKAlgAES:
		blk, err = aes.NewCipher(kek.Key)
	case gdoiwire.KEKAlg3DES:
		blk, err = des.NewTripleDESCipher(kek.Key)
	default:
		return nil, fmt.Errorf("KEK algorithm %d (only AES and 3DES are supported)", kek.Algorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("KEK: %w", err)
	}
	if len(kek.IV) != blk.BlockSize() {
		return nil, fmt.Errorf("KEK IV of %d octets", len(kek.IV))
	}
	if encrypt {
		out := append(bytes.Clone(b), make([]byte, (blk.BlockSize()-len(b)%blk.BlockSize())%blk.BlockSize())...)
		cbc.Encrypt(blk, kek.IV, out)
		return out, nil
	}
	if len(b) == 0 || len(b)%blk.BlockSize() != 0 {
		return nil, fmt.Errorf("GROUPKEY-PUSH body of %d octets is not whole %d-octet blocks", len(b), blk.BlockSize())
	}
	out := make([]byte, len(b))
	cbc.Decrypt(blk, kek.IV, out, b)
	return out, nil
}

// KEKBlockSize is the cipher block (and downloaded IV) size of a
// KEK_ALGORITHM: 16 for AES, 8 for 3DES.
func KEKBlockSize(alg gdoiwire.KEKAlg) int {
	if alg == gdoiwire.KEKAlg3DES {
		return des.BlockSize
	}
	return aes.BlockSize
}

func kekPublicKey(kek *KEK) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(kek.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("rekey signing key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("rekey signing key is %T, not RSA", k)
	}
	return pub, nil
}

// sigHash maps SIG_HASH_ALGORITHM to a hash.
func sigHash(v gdoiwire.SigHash) (crypto.Hash, error) {
	if h, ok := sigHashes[v]; ok {
		return h, nil
	}
	return 0, fmt.Errorf("rekey signature hash %d", v)
}

var sigHashes = map[gdoiwire.SigHash]crypto.Hash{
	gdoiwire.SigHashSHA1: crypto.SHA1, gdoiwire.SigHashSHA256: crypto.SHA256,
	gdoiwire.SigHashSHA384: crypto.SHA384, gdoiwire.SigHashSHA512: crypto.SHA512,
}
