package gdoi

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

func pushPayloads(p *Policy) []isakmp.Payload {
	return []isakmp.Payload{p.SAPayload(gdoiwire.ProfileRFC), p.KDPayload()}
}

func TestPushRoundTrip(t *testing.T) {
	for _, raw := range []bool{false, true} {
		p := testPolicy(t)
		pkt, err := SealPush(p.KEK, testKey, 8, pushPayloads(p), PushOptions{RawHash: raw})
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := isakmp.ParseHeader(pkt)
		if h.Cookies() != p.KEK.SPI || h.Exchange != isakmp.ExchangeGroupkeyPush || h.Flags != isakmp.FlagEncryption ||
			h.MessageID != 0 || h.NextPayload != isakmp.PayloadSEQ || (len(pkt)-isakmp.HeaderLen)%16 != 0 {
			t.Fatalf("header %+v", h)
		}
		got, err := OpenPush(pkt, p.KEK)
		if err != nil {
			t.Fatalf("raw=%v: %v", raw, err)
		}
		if got.Seq != 8 || got.SA == nil || got.KD == nil {
			t.Fatalf("push %+v", got)
		}
		pol, err := ParsePolicy(1234, got.SA, got.KD, &gdoiwire.SEQ{Seq: got.Seq})
		if err != nil {
			t.Fatal(err)
		}
		if len(pol.TEKs) != 2 || !bytes.Equal(pol.TEKs[0].EncKey, p.TEKs[0].EncKey) || len(pol.Deny) != 2 {
			t.Fatalf("policy from the PUSH: %+v", pol)
		}
	}
}

func TestPushRejects(t *testing.T) {
	p := testPolicy(t)
	pkt, err := SealPush(p.KEK, testKey, 8, pushPayloads(p), PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Any flipped bit after the header: the signature (or the parse) fails.
	for _, off := range []int{isakmp.HeaderLen, isakmp.HeaderLen + 40, len(pkt) - 20, len(pkt) - 1} {
		bad := bytes.Clone(pkt)
		bad[off] ^= 0x10
		if _, err := OpenPush(bad, p.KEK); err == nil {
			t.Errorf("bit flip at %d accepted", off)
		}
	}
	// The header is signed too (here: the message ID).
	bad := bytes.Clone(pkt)
	bad[23] ^= 1
	if _, err := OpenPush(bad, p.KEK); !errors.Is(err, ErrPushSignature) {
		t.Errorf("header change: %v", err)
	}
	// Signed by another key.
	forged, _ := SealPush(p.KEK, otherKey, 8, pushPayloads(p), PushOptions{})
	if _, err := OpenPush(forged, p.KEK); !errors.Is(err, ErrPushSignature) {
		t.Errorf("forged signature: %v", err)
	}
	// Another KEK's cookies.
	k2 := *p.KEK
	k2.SPI[0] ^= 1
	if _, err := OpenPush(pkt, &k2); !errors.Is(err, ErrPushKEK) {
		t.Errorf("other KEK: %v", err)
	}
	// The right cookies but the wrong key: garbage.
	k3 := *p.KEK
	k3.Key = bytes.Repeat([]byte{9}, 16)
	if _, err := OpenPush(pkt, &k3); err == nil {
		t.Error("wrong KEK key accepted")
	}
	if _, err := OpenPush(pkt[:len(pkt)-16], p.KEK); err == nil {
		t.Error("truncated PUSH accepted")
	}
}

var otherKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
}()

// FuzzOpenPush feeds arbitrary datagrams under a known KEK to the GM's
// PUSH and the KS's acknowledgement parsers: errors, never a panic, and
// never a PUSH accepted without the KS's signature.
func FuzzOpenPush(f *testing.F) {
	p := testPolicy(f)
	push, err := SealPush(p.KEK, testKey, 8, pushPayloads(p), PushOptions{})
	if err != nil {
		f.Fatal(err)
	}
	ack, err := SealAck(ackKEK(p.KEK), 8, p.KEK.Dst.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(push)
	f.Add(ack)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if got, err := OpenPush(pkt, p.KEK); err == nil && !bytes.Equal(pkt, push) {
			// Only bytes that decrypt to the same signed content verify;
			// CBC padding is the one part outside the signature.
			if got.Seq != 8 {
				t.Fatalf("accepted a PUSH with seq %d", got.Seq)
			}
		}
		OpenAck(pkt, ackKEK(p.KEK))
	})
}

// ackKEK is a copy of k that asks for acknowledgements.
func ackKEK(k *KEK) *KEK {
	c := *k
	c.Ack = gdoiwire.AckKEKSHA256
	return &c
}
