package ikev1

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// mac is HMAC computed with crypto/hmac directly, independently of PRF.
func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	m.Write(bytes.Join(parts, nil))
	return m.Sum(nil)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Fixed inputs; the expected values are computed step by step with
// crypto/hmac, following RFC 2409 §5 and appendix B literally.
func TestKeyDerivationKnownAnswer(t *testing.T) {
	var (
		key  = []byte("shared secret")
		ni   = hx("0001020304050607 08090a0b0c0d0e0f")
		nr   = hx("f0f1f2f3f4f5f6f7 f8f9fafbfcfdfeff")
		gxi  = bytes.Repeat([]byte{0x11}, 64)
		gxr  = bytes.Repeat([]byte{0x22}, 64)
		gxy  = bytes.Repeat([]byte{0x33}, 32)
		icky = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		rcky = [8]byte{9, 10, 11, 12, 13, 14, 15, 16}
		saiB = hx("00000002 00000000 0000002c 01010001 00000024 01010000 800e0080 80010007 80020004 80030001 80040013 800b0001 800c7080")
		idB  = hx("01000000 c000020a")
	)
	for _, tc := range []struct {
		name   string
		h      func() hash.Hash
		keyLen int
	}{
		{"sha256/aes128 (truncated SKEYID_e)", sha256.New, 16},
		{"sha1/aes256 (expanded SKEYID_e)", sha1.New, 32},
		{"sha1/3des (expanded SKEYID_e)", sha1.New, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skeyid := mac(tc.h, key, ni, nr)
			d := mac(tc.h, skeyid, gxy, icky[:], rcky[:], []byte{0})
			a := mac(tc.h, skeyid, d, gxy, icky[:], rcky[:], []byte{1})
			e := mac(tc.h, skeyid, a, gxy, icky[:], rcky[:], []byte{2})
			var enc []byte
			if len(e) >= tc.keyLen {
				enc = e[:tc.keyLen]
			} else {
				k1 := mac(tc.h, e, []byte{0})
				k2 := mac(tc.h, e, k1)
				enc = cat(k1, k2)[:tc.keyLen]
			}
			sum := tc.h()
			sum.Write(cat(gxi, gxr))
			iv := sum.Sum(nil)[:aes.BlockSize]
			hi := mac(tc.h, skeyid, gxi, gxr, icky[:], rcky[:], saiB, idB)
			hr := mac(tc.h, skeyid, gxr, gxi, rcky[:], icky[:], saiB, idB)

			gotSKEYID := skeyidPSK(tc.h, key, ni, nr)
			gd, ga, ge := deriveSKEYIDs(tc.h, gotSKEYID, gxy, icky, rcky)
			for _, c := range []struct {
				name      string
				got, want []byte
			}{
				{"SKEYID", gotSKEYID, skeyid},
				{"SKEYID_d", gd, d},
				{"SKEYID_a", ga, a},
				{"SKEYID_e", ge, e},
				{"encryption key", encryptionKey(tc.h, ge, tc.keyLen), enc},
				{"IV", phase1IV(tc.h, gxi, gxr, aes.BlockSize), iv},
				{"HASH_I", hashI(tc.h, gotSKEYID, gxi, gxr, icky, rcky, saiB, idB), hi},
				{"HASH_R", hashR(tc.h, gotSKEYID, gxi, gxr, icky, rcky, saiB, idB), hr},
			} {
				if !bytes.Equal(c.got, c.want) {
					t.Errorf("%s = %x, want %x", c.name, c.got, c.want)
				}
			}
		})
	}
	// Signature SKEYID (for the RSA authenticator to come).
	if got, want := skeyidSig(sha256.New, ni, nr, gxy), mac(sha256.New, cat(ni, nr), gxy); !bytes.Equal(got, want) {
		t.Errorf("signature SKEYID = %x, want %x", got, want)
	}
}

// A real exchange checked from the outside: g^xy recomputed with
// crypto/ecdh from the initiator's private key and the KE of message 4,
// every key recomputed with crypto/hmac, messages 5 and 6 decrypted with
// crypto/aes and their HASH_I/HASH_R recomputed from the wire octets.
func TestMainModeIndependentlyVerified(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	ic, rc := config(t, 11, psk, s), config(t, 12, psk, s)
	i, err := NewInitiator(ic, gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(rc, ksAddr, gmAddr)
	var tr transcript
	tr[1], _ = i.Start()
	tr[2], _ = r.Handle(tr[1])
	tr[3], _ = i.Handle(tr[2])
	tr[4], _ = r.Handle(tr[3])
	priv := i.x.dh.ec // still there before message 6
	tr[5], _ = i.Handle(tr[4])
	tr[6], _ = r.Handle(tr[5])
	if _, err := i.Handle(tr[6]); err != nil {
		t.Fatal(err)
	}

	// Payload bodies straight from the wire.
	body := func(msg []byte, n int) []byte { // n-th payload (0-based) of a plaintext message
		off := isakmp.HeaderLen
		for range n {
			off += int(binary.BigEndian.Uint16(msg[off+2:]))
		}
		return msg[off+4 : off+int(binary.BigEndian.Uint16(msg[off+2:]))]
	}
	saiB := body(tr[1], 0)
	gxi, ni := body(tr[3], 0), body(tr[3], 1)
	gxr, nr := body(tr[4], 0), body(tr[4], 1)
	icky, rcky := tr[1][0:8], tr[2][8:16]

	pub, err := ecdh.P256().NewPublicKey(cat([]byte{4}, gxr))
	if err != nil {
		t.Fatal(err)
	}
	gxy, err := priv.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	skeyid := mac(sha256.New, psk, ni, nr)
	d := mac(sha256.New, skeyid, gxy, icky, rcky, []byte{0})
	a := mac(sha256.New, skeyid, d, gxy, icky, rcky, []byte{1})
	e := mac(sha256.New, skeyid, a, gxy, icky, rcky, []byte{2})
	encKey := e[:16]
	iv0 := sha256.Sum256(cat(gxi, gxr))

	decrypt := func(msg, iv []byte) []byte {
		b, _ := aes.NewCipher(encKey)
		ct := msg[isakmp.HeaderLen:]
		pt := make([]byte, len(ct))
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
		return pt
	}
	chain := func(pt []byte) (idB, hashB []byte) {
		n := int(binary.BigEndian.Uint16(pt[2:]))
		idB = pt[4:n]
		m := int(binary.BigEndian.Uint16(pt[n+2:]))
		return idB, pt[n+4 : n+m]
	}
	pt5 := decrypt(tr[5], iv0[:16])
	idiiB, hashIwire := chain(pt5)
	if want := mac(sha256.New, skeyid, gxi, gxr, icky, rcky, saiB, idiiB); !bytes.Equal(hashIwire, want) {
		t.Errorf("HASH_I on the wire %x, want %x", hashIwire, want)
	}
	pt6 := decrypt(tr[6], tr[5][len(tr[5])-16:])
	idirB, hashRwire := chain(pt6)
	if want := mac(sha256.New, skeyid, gxr, gxi, rcky, icky, saiB, idirB); !bytes.Equal(hashRwire, want) {
		t.Errorf("HASH_R on the wire %x, want %x", hashRwire, want)
	}
	if !bytes.Equal(idiiB, hx("01000000 c000020a")) || !bytes.Equal(idirB, hx("01000000 c0000201")) {
		t.Errorf("IDs %x %x, want the local addresses", idiiB, idirB)
	}
	lastIV := tr[6][len(tr[6])-16:]
	for _, sa := range []*SA{i.SA(), r.SA()} {
		for _, c := range []struct {
			name      string
			got, want []byte
		}{
			{"SKEYID", sa.SKEYID, skeyid}, {"SKEYID_d", sa.SKEYIDd, d}, {"SKEYID_a", sa.SKEYIDa, a},
			{"SKEYID_e", sa.SKEYIDe, e}, {"EncKey", sa.EncKey, encKey}, {"LastIV", sa.LastIV, lastIV},
		} {
			if !bytes.Equal(c.got, c.want) {
				t.Errorf("initiator=%v %s = %x, want %x", sa.Initiator, c.name, c.got, c.want)
			}
		}
	}
	// Header lengths cover the padding; bodies are whole blocks.
	for _, n := range []int{5, 6} {
		if l := binary.BigEndian.Uint32(tr[n][24:]); int(l) != len(tr[n]) || (len(tr[n])-isakmp.HeaderLen)%16 != 0 || tr[n][19] != 1 {
			t.Errorf("message %d: length %d of %d, flags %d", n, l, len(tr[n]), tr[n][19])
		}
	}
}
