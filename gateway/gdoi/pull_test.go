package gdoi

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/exchangetest"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// testSAs returns the two ends of one phase-1 SA, as main mode would leave
// them (same keys, opposite roles).
func testSAs(t testing.TB) (gm, ks *ikev1.SA) {
	t.Helper()
	suite, err := ikev1.ParseSuite("aes256", "sha256", 14, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(initiator bool) *ikev1.SA {
		sa := &ikev1.SA{
			ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, RCookie: [8]byte{9, 10, 11, 12, 13, 14, 15, 16},
			Initiator: initiator, Suite: suite,
			SKEYIDa: bytes.Repeat([]byte{0xa}, 32),
			EncKey:  bytes.Repeat([]byte{0xe}, 32),
			LastIV:  bytes.Repeat([]byte{0x1}, 16),
		}
		if err := sa.Init(); err != nil {
			t.Fatal(err)
		}
		return sa
	}
	return mk(true), mk(false)
}

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
}()

func testPolicy(t testing.TB) *Policy {
	t.Helper()
	pub, err := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := espwire.ParseTransform("aes256gcm16")
	cbc, _ := espwire.ParseTransform("aes128-sha1")
	return &Policy{
		GroupID: 1234, Seq: 7,
		KEK: &KEK{
			SPI: [16]byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Algorithm: gdoiwire.KEKAlgAES, KeyBits: 128,
			Key: bytes.Repeat([]byte{0x42}, 16), IV: bytes.Repeat([]byte{0x43}, 16), Lifetime: 86400 * time.Second,
			SigHash: gdoiwire.SigHashSHA256, SigAlg: gdoiwire.SigAlgRSA, SigKeyBits: 1024, PublicKey: pub,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddrPort("192.0.2.11:848"),
		},
		TEKs: []TEK{
			{SPI: 0x2d45c4e9, Transform: gcm, Selector: Selector{Src: netip.MustParsePrefix("198.51.100.0/24"), Dst: netip.MustParsePrefix("203.0.113.0/24")},
				Lifetime: 3600 * time.Second, EncKey: bytes.Repeat([]byte{1}, 36), AddrPreserve: gdoiwire.AddrPreserveSrcDst, Direction: gdoiwire.SADirSymmetric},
			{SPI: 0x11223344, Transform: cbc, Selector: Selector{Protocol: 17, Src: netip.MustParsePrefix("203.0.113.0/24"), Dst: netip.MustParsePrefix("198.51.100.7/32"), DstPort: 53},
				Lifetime: 3599 * time.Second, EncKey: bytes.Repeat([]byte{2}, 16), AuthKey: bytes.Repeat([]byte{3}, 20), AddrPreserve: gdoiwire.AddrPreserveSrcDst, Direction: gdoiwire.SADirSymmetric},
		},
		Deny: []Selector{
			{Protocol: 17, Src: netip.MustParsePrefix("0.0.0.0/0"), Dst: netip.MustParsePrefix("0.0.0.0/0"), DstPort: 848},
			{Protocol: 89, Src: netip.MustParsePrefix("0.0.0.0/0"), Dst: netip.MustParsePrefix("224.0.0.0/24")},
		},
		SIDs: []uint32{5}, SIDBits: 16,
	}
}

func runPull(t *testing.T, gmSA, ksSA *ikev1.SA, policy func(uint32, *ikev1.SA) (*Policy, error)) (*Initiator, *Responder, error) {
	t.Helper()
	ini := NewInitiator(gmSA, 1234)
	m1 := ini.Start()
	res := NewResponder(ksSA, ini.MessageID(), policy)
	m2, err := res.Handle(m1)
	if err != nil {
		return ini, res, err
	}
	m3, err := ini.Handle(m2)
	if err != nil {
		return ini, res, err
	}
	m4, err := res.Handle(m3)
	if err != nil {
		return ini, res, err
	}
	if _, err := ini.Handle(m4); err != nil {
		return ini, res, err
	}
	return ini, res, nil
}

func TestPullDeliversPolicy(t *testing.T) {
	gm, ks := testSAs(t)
	want := testPolicy(t)
	var asked uint32
	ini, res, err := runPull(t, gm, ks, func(g uint32, sa *ikev1.SA) (*Policy, error) { asked = g; return want, nil })
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1234 || !res.Done() {
		t.Fatalf("KS asked for group %d, done %v", asked, res.Done())
	}
	got := ini.Policy()
	if got.Seq != 7 || len(got.TEKs) != 2 || got.KEK == nil {
		t.Fatalf("policy: %+v", got)
	}
	for i, tek := range got.TEKs {
		w := want.TEKs[i]
		if tek.SPI != w.SPI || tek.Transform != w.Transform || tek.Src != w.Src || tek.Dst != w.Dst ||
			tek.Protocol != w.Protocol || tek.DstPort != w.DstPort || tek.Lifetime != w.Lifetime ||
			!bytes.Equal(tek.EncKey, w.EncKey) || !bytes.Equal(tek.AuthKey, w.AuthKey) ||
			tek.AddrPreserve != w.AddrPreserve || tek.Direction != w.Direction {
			t.Errorf("TEK %d:\n got %+v\nwant %+v", i, tek, w)
		}
	}
	k, w := got.KEK, want.KEK
	if k.SPI != w.SPI || !bytes.Equal(k.Key, w.Key) || !bytes.Equal(k.IV, w.IV) || !bytes.Equal(k.PublicKey, w.PublicKey) ||
		k.Src != w.Src || k.Dst != w.Dst || k.SigHash != w.SigHash || k.KeyBits != 128 || k.Lifetime != w.Lifetime {
		t.Errorf("KEK:\n got %+v\nwant %+v", k, w)
	}
	if len(got.SIDs) != 1 || got.SIDs[0] != 5 || got.SIDBits != 16 {
		t.Errorf("SIDs %v/%d", got.SIDs, got.SIDBits)
	}
	if !reflect.DeepEqual(got.Deny, want.Deny) {
		t.Errorf("deny entries:\n got %+v\nwant %+v", got.Deny, want.Deny)
	}
	if s := got.Deny[0].ACE(false); s != "deny udp 0.0.0.0/0 0.0.0.0/0 eq 848" {
		t.Errorf("deny line %q", s)
	}
}

func TestPullMessagesOnTheWire(t *testing.T) {
	gm, ks := testSAs(t)
	ini := NewInitiator(gm, 1234)
	m1 := ini.Start()
	h, _, err := isakmp.ParseHeader(m1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Exchange != isakmp.ExchangeGroupkeyPull || h.Flags&isakmp.FlagEncryption == 0 || h.MessageID == 0 ||
		h.NextPayload != isakmp.PayloadHash || int(h.Length) != len(m1) || (len(m1)-isakmp.HeaderLen)%16 != 0 {
		t.Fatalf("message 1 header %+v (len %d)", h, len(m1))
	}
	// The KS's view of message 1: HASH, NONCE, ID.
	x := ks.Exchange(isakmp.ExchangeGroupkeyPull, h.MessageID)
	m, err := x.Open(m1, dec)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Layout(); got != "HASH,NONCE,ID" {
		t.Errorf("message 1 layout %q", got)
	}
}

func TestPullRetransmittedRequestGetsCachedReply(t *testing.T) {
	gm, ks := testSAs(t)
	calls := 0
	ini := NewInitiator(gm, 1234)
	m1 := ini.Start()
	res := NewResponder(ks, ini.MessageID(), func(uint32, *ikev1.SA) (*Policy, error) { calls++; return testPolicy(t), nil })
	a, err := res.Handle(m1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := res.Handle(m1)
	if err != nil || !bytes.Equal(a, b) || calls != 1 {
		t.Fatalf("retransmission: err %v, same reply %v, policy calls %d", err, bytes.Equal(a, b), calls)
	}
	if _, err := ini.Handle(b); err != nil {
		t.Fatal(err)
	}
}

func TestPullRejects(t *testing.T) {
	gm, ks := testSAs(t)
	_, _, err := runPull(t, gm, ks, func(g uint32, sa *ikev1.SA) (*Policy, error) {
		return nil, &Reject{Notify: isakmp.NotifyInvalidIDInformation, Event: "KS_BAD_ID", Reason: "unknown group"}
	})
	var rej *Reject
	if !errors.As(err, &rej) || rej.Notify != isakmp.NotifyInvalidIDInformation {
		t.Fatalf("got %v, want a Reject", err)
	}
}

func TestPullWrongKeysFailHash(t *testing.T) {
	gm, ks := testSAs(t)
	ks.SKEYIDa = bytes.Repeat([]byte{0xb}, 32) // another phase 1's SKEYID_a
	_, _, err := runPull(t, gm, ks, func(uint32, *ikev1.SA) (*Policy, error) { return testPolicy(t), nil })
	if !errors.Is(err, ErrHash) {
		t.Fatalf("got %v, want ErrHash", err)
	}
}

func TestPullBitFlipsNeverInstall(t *testing.T) {
	// Flip each octet of message 4's ciphertext: the GM must refuse every
	// variant (HASH or parse failure) and never panic.
	for pos := isakmp.HeaderLen; ; pos += 7 {
		gm, ks := testSAs(t)
		ini := NewInitiator(gm, 1234)
		res := NewResponder(ks, ini.MessageID(), func(uint32, *ikev1.SA) (*Policy, error) { return testPolicy(t), nil })
		m4 := exchangetest.Run(t, ini.Start(), res.Handle, ini.Handle, res.Handle)[3]
		if pos >= len(m4) {
			break
		}
		m4 = bytes.Clone(m4)
		m4[pos] ^= 0x80
		if _, err := ini.Handle(m4); err == nil {
			t.Fatalf("flip at %d accepted", pos)
		}
		if ini.Policy() != nil {
			t.Fatalf("flip at %d installed a policy", pos)
		}
	}
}

func FuzzPullResponder(f *testing.F) {
	gm, _ := testSAs(f)
	f.Add(NewInitiator(gm, 1234).Start())
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, ks := testSAs(t)
		h, _, err := isakmp.ParseHeader(pkt)
		if err != nil {
			return
		}
		res := NewResponder(ks, h.MessageID, func(uint32, *ikev1.SA) (*Policy, error) { return testPolicy(t), nil })
		res.Handle(pkt)
		res.Handle(pkt)
	})
}

// The HASH(n) of a PULL message covers the payloads after it as received,
// not as the codec would encode them again: splitHash hands back the raw
// octets, and refuses a chain too short for its HASH payload.
func TestSplitHashTakesTheChainAsReceived(t *testing.T) {
	hash := &isakmp.Hash{Data: bytes.Repeat([]byte{0xaa}, 32)}
	m := &isakmp.Message{Payloads: []isakmp.Payload{hash, &isakmp.Nonce{Data: []byte{1, 2, 3}}}}
	// A nonce payload with a reserved octet set: valid to decode, not
	// what the encoder writes.
	rest := []byte{0, 0x01, 0, 7, 1, 2, 3}
	chain := append(isakmp.AppendPayload(nil, isakmp.PayloadNonce, hash), rest...)
	got, after, err := splitHash(m, chain)
	if err != nil || !bytes.Equal(got, hash.Data) || !bytes.Equal(after, rest) {
		t.Fatalf("splitHash: % x, % x, %v; want the HASH and % x", got, after, err, rest)
	}
	if _, _, err := splitHash(m, chain[:20]); !errors.Is(err, ErrHash) {
		t.Errorf("a chain shorter than its HASH: %v", err)
	}
}
