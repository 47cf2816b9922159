package gdoi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"net/netip"
	"testing"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Fixed inputs of the known-answer tests.
const (
	katKey     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" // KEK_ALGORITHM_KEY, the IV left out
	katIV      = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
	katCookies = "aa0102030405060708090a0b0c0d0e0f"
	katSeqID   = "05000008" + "00000102" + // SEQ: next ID, length 8, seq 0x102
		"0000000c" + "01000000" + "c000020b" // ID: last, length 12, ID_IPV4_ADDR, proto 0, port 0, 192.0.2.11
)

func katKEK(t *testing.T, ack gdoiwire.AckType) *KEK {
	k := &KEK{Key: unhex(t, katKey), IV: unhex(t, katIV), Ack: ack, SigHash: gdoiwire.SigHashSHA1}
	copy(k.SPI[:], unhex(t, katCookies))
	return k
}

// TestAckKnownAnswer computes ack_key and HASH step by step from RFC
// 8263's formula, with crypto/hmac, and compares them with the library's
// and with values computed independently (Python's hmac). The KEK's
// SIG_HASH is SHA-1 on purpose: the prf is the one the request names.
func TestAckKnownAnswer(t *testing.T) {
	for _, c := range []struct {
		ack             gdoiwire.AckType
		prf             func() hash.Hash
		l               string // L, 2 octets: 512 or 1024
		ackKey, ackHash string
	}{
		{gdoiwire.AckKEKSHA256, sha256.New, "0200",
			"f8ff934a748b120074f346c6b4488d21ac9a2f3a8288fae527595daad7338946",
			"108c3bbf15b7f4f8539ead6599bc7e3e5cc1ea528a2930902454cfd301f89aa2"},
		{gdoiwire.AckKEKSHA512, sha512.New, "0400",
			"1f5d1eb6b5ea67658f048a9b1cd77393b4f1423a0dbdd26c11b41bca48dd4ee7618b274004441e2c7eb891309f982be6d47d4668eefb8fb5e2e50658ac7db7bb",
			"ea9038033c2f7f272927832c12e514a98923a06710ae986e701302cbf7a8b060e233f6d5d89d985862eec6e209cd54d065b2a2ae2294fda598210cad7e4ca692"},
	} {
		kek := katKEK(t, c.ack)
		// ack_key = prf(base_key, "GROUPKEY-PUSH ACK\0" | SPI | L)
		label := "47524f55504b45592d505553482041434b00" // 18 octets, NUL included
		kdf := hmac.New(c.prf, unhex(t, katKey))
		kdf.Write(unhex(t, label+katCookies+c.l))
		ackKey := kdf.Sum(nil)
		if hex.EncodeToString(ackKey) != c.ackKey {
			t.Fatalf("type %d: step-by-step ack_key %x, independent %s", c.ack, ackKey, c.ackKey)
		}
		got, err := AckKey(kek)
		if err != nil || !bytes.Equal(got, ackKey) {
			t.Fatalf("type %d: AckKey %x (%v), want %x", c.ack, got, err, ackKey)
		}
		// HASH = prf(ack_key, SEQ | ID)
		mac := hmac.New(c.prf, ackKey)
		mac.Write(unhex(t, katSeqID))
		sum := mac.Sum(nil)
		if hex.EncodeToString(sum) != c.ackHash {
			t.Fatalf("type %d: step-by-step HASH %x, independent %s", c.ack, sum, c.ackHash)
		}
		pkt, err := SealAck(kek, 0x102, netip.MustParseAddr("192.0.2.11"))
		if err != nil {
			t.Fatal(err)
		}
		if off := isakmp.HeaderLen + 4; !bytes.Equal(pkt[off:off+len(sum)], sum) {
			t.Fatalf("type %d: HASH in the ack %x, want %x", c.ack, pkt[off:off+len(sum)], sum)
		}
	}
}

// TestAckLayout checks the whole acknowledgement octet by octet.
func TestAckLayout(t *testing.T) {
	kek := katKEK(t, gdoiwire.AckKEKSHA256)
	gm := netip.MustParseAddr("192.0.2.11")
	pkt, err := SealAck(kek, 0x0102, gm)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, katCookies+ // CKY-I | CKY-R: the PUSH's
		"08"+"10"+"23"+"00"+"00000000"+"00000054"+ // next HASH, v1.0, exchange 35, flags 0, M-ID 0, length 84
		"12000024"+ // HASH: next SEQ, length 4+32
		"108c3bbf15b7f4f8539ead6599bc7e3e5cc1ea528a2930902454cfd301f89aa2"+
		katSeqID)
	if !bytes.Equal(pkt, want) {
		t.Fatalf("ack\n got %x\nwant %x", pkt, want)
	}
	ack, err := OpenAck(pkt, kek)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 0x102 || ack.GM != gm || ack.Cookies != kek.SPI {
		t.Fatalf("ack %+v", ack)
	}
}

// TestAckBaseKeyWithoutIV: a GM that got the KEK through the KD (IV ‖ key
// in KEK_ALGORITHM_KEY) makes the same acknowledgement as the KS.
func TestAckBaseKeyWithoutIV(t *testing.T) {
	p := testPolicy(t)
	p.KEK.Ack = gdoiwire.AckKEKSHA256
	got, err := ParsePolicy(p.GroupID, p.SAPayload(gdoiwire.ProfileRFC), p.KDPayload(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.KEK.Ack != gdoiwire.AckKEKSHA256 {
		t.Fatalf("KEK_ACK_REQUESTED %d after the round trip", got.KEK.Ack)
	}
	gm := netip.MustParseAddr("192.0.2.11")
	ks, _ := SealAck(p.KEK, 5, gm)
	mine, err := SealAck(got.KEK, 5, gm)
	if err != nil || !bytes.Equal(ks, mine) {
		t.Fatalf("GM's ack %x (%v), KS's %x", mine, err, ks)
	}
	ivKey := *p.KEK
	ivKey.Key = append(append([]byte(nil), p.KEK.IV...), p.KEK.Key...)
	if _, err := OpenAck(mine, &ivKey); !errors.Is(err, ErrAckHash) {
		t.Fatalf("verified with IV ‖ key as base_key: %v", err)
	}
}

func TestAckRejects(t *testing.T) {
	kek := katKEK(t, gdoiwire.AckKEKSHA256)
	pkt, err := SealAck(kek, 9, netip.MustParseAddr("192.0.2.12"))
	if err != nil {
		t.Fatal(err)
	}
	for off := isakmp.HeaderLen + 4; off < len(pkt); off++ {
		bad := bytes.Clone(pkt)
		bad[off] ^= 0x01
		if _, err := OpenAck(bad, kek); err == nil {
			t.Fatalf("bit flip at %d accepted", off)
		}
	}
	other := *kek
	other.Key = bytes.Repeat([]byte{0x99}, len(kek.Key))
	if _, err := OpenAck(pkt, &other); !errors.Is(err, ErrAckHash) {
		t.Fatalf("another KEK key: %v", err)
	}
	other = *kek
	other.Ack = gdoiwire.AckKEKSHA512
	if _, err := OpenAck(pkt, &other); !errors.Is(err, ErrAckHash) {
		t.Fatalf("checked as SHA-512: %v", err)
	}
	other = *kek
	other.SPI[0] ^= 1
	if _, err := OpenAck(pkt, &other); !errors.Is(err, ErrPushKEK) {
		t.Fatalf("another KEK's cookies: %v", err)
	}
	if _, err := OpenAck(pkt[:len(pkt)-5], kek); err == nil {
		t.Fatal("truncated ack accepted")
	}
	enc := bytes.Clone(pkt)
	enc[19] = byte(isakmp.FlagEncryption)
	if _, err := ParseAck(enc); err == nil {
		t.Fatal("ack with the E flag accepted")
	}
	for _, typ := range []gdoiwire.AckType{0, gdoiwire.AckLKHSHA256, gdoiwire.AckLKHSHA512, 129} {
		lkh := *kek
		lkh.Ack = typ
		if _, err := SealAck(&lkh, 9, netip.MustParseAddr("192.0.2.12")); !errors.Is(err, ErrAckType) {
			t.Fatalf("type %d: %v", typ, err)
		}
		if _, err := OpenAck(pkt, &lkh); !errors.Is(err, ErrAckType) {
			t.Fatalf("type %d verified: %v", typ, err)
		}
	}
}

// TestAckRequestedRoundTrip: KEK_ACK_REQUESTED travels in the SAK with its
// value, unknown values included (the GM decides what to do with them).
func TestAckRequestedRoundTrip(t *testing.T) {
	for _, typ := range []gdoiwire.AckType{gdoiwire.AckKEKSHA256, gdoiwire.AckKEKSHA512, gdoiwire.AckLKHSHA256, 200} {
		p := testPolicy(t)
		p.KEK.Ack = typ
		sa := p.SAPayload(gdoiwire.ProfileRFC)
		var found bool
		for _, a := range sa.SAK().Attributes {
			if a.Type == gdoiwire.KEKAckRequested {
				v, _ := a.Uint()
				found = a.Basic && v == uint64(typ)
			}
		}
		if !found {
			t.Fatalf("no basic KEK_ACK_REQUESTED = %d in the SAK", typ)
		}
		got, err := ParsePolicy(p.GroupID, sa, p.KDPayload(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.KEK.Ack != typ {
			t.Fatalf("KEK_ACK_REQUESTED %d came back as %d", typ, got.KEK.Ack)
		}
	}
	p := testPolicy(t)
	for _, a := range p.SAPayload(gdoiwire.ProfileRFC).SAK().Attributes {
		if a.Type == gdoiwire.KEKAckRequested {
			t.Fatal("KEK_ACK_REQUESTED without a request")
		}
	}
}
