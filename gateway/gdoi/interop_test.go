package gdoi

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/config"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Every config interop_profile value names a profile.
func TestInteropByName(t *testing.T) {
	for _, name := range config.InteropProfiles {
		p, ok := InteropByName(name)
		if !ok || p.Name != name || p.Wire.Name != name {
			t.Errorf("%s: %+v %v", name, p, ok)
		}
	}
	if _, ok := InteropByName("trustcore"); ok {
		t.Error("trustcore has no role profile")
	}
}

// gdoidPolicy is testPolicy with what gdoid's KS would hand out: an
// AES-128 KEK and single-address selectors.
func gdoidPolicy(t *testing.T) *Policy {
	p := testPolicy(t)
	p.SIDs = nil
	p.TEKs = p.TEKs[1:]
	p.TEKs[0].Selector = Selector{Src: netip.MustParsePrefix("10.77.0.11/32"), Dst: netip.MustParsePrefix("239.1.1.1/32")}
	p.KEK.Src, p.KEK.Dst = netip.MustParseAddr("10.77.0.1"), netip.MustParseAddrPort("239.10.1.1:848")
	return p
}

func sakOf(sa *gdoiwire.SA) *gdoiwire.SAK { return sa.SAK() }

// TestInteropSAK: gdoid's SAK octets up to the SPI (a-plain-kekaes frame 8:
// "11 01 03 50 04 0a4d0001 | 01 03 50 04 ef0a0101"): SRC port 848, where
// the RFC profile writes 0; no KEK_ACK_REQUESTED.
func TestInteropSAK(t *testing.T) {
	p := gdoidPolicy(t)
	p.KEK.Ack = gdoiwire.AckKEKSHA256
	for _, tc := range []struct {
		ip   Interop
		head string
		ack  bool
	}{
		{InteropRFC, "11 01 0000 04 0a4d0001 | 01 0350 04 ef0a0101", true},
		{InteropGdoid, "11 01 0350 04 0a4d0001 | 01 0350 04 ef0a0101", false},
	} {
		sak := sakOf(p.SAPayloadFor(tc.ip))
		b := sak.Append(nil)
		if want := hx(tc.head); !bytes.HasPrefix(b, want) {
			t.Errorf("%s: SAK %x, want prefix %x", tc.ip.Name, b, want)
		}
		if _, ok := sak.Attributes.Get(gdoiwire.KEKAckRequested); ok != tc.ack {
			t.Errorf("%s: KEK_ACK_REQUESTED %v", tc.ip.Name, ok)
		}
	}
}

// TestInteropSATAttributes: gdoid's attribute order and set (a-plain-kekaes
// frame 8, AES TEK: ENCAPSULATION_MODE, AUTHENTICATION_ALGORITHM,
// SA_LIFE_TYPE, SA_LIFE_DURATION, KEY_LENGTH, ADDRESS_PRESERVATION,
// SA_DIRECTION) and no deny SATs.
func TestInteropSATAttributes(t *testing.T) {
	p := gdoidPolicy(t)
	sats := p.SAPayloadFor(InteropGdoid).SATs()
	if len(sats) != 1 {
		t.Fatalf("%d SATs, want the TEK only (no deny entries)", len(sats))
	}
	var types []uint16
	for _, a := range sats[0].Attributes {
		types = append(types, a.Type)
	}
	want := []uint16{gdoiwire.EncapsulationMode, gdoiwire.AuthAlgorithm, gdoiwire.SALifeType, gdoiwire.SALifeDuration,
		gdoiwire.KeyLength, gdoiwire.AddressPreservation, gdoiwire.SADirection}
	if !slices.Equal(types, want) {
		t.Errorf("SAT attributes %v, want %v", types, want)
	}
	// The selectors: ID_IPV4_ADDR in host order, 1-octet lengths.
	if got, want := sats[0].Append(nil)[:18], hx("01 00 | 01 0000 04 0b004d0a | 01 0000 04 010101ef"); !bytes.Equal(got, want) {
		t.Errorf("SAT %x, want %x", got, want)
	}
	if n := len(p.SAPayloadFor(InteropRFC).SATs()); n != 3 {
		t.Errorf("RFC profile: %d SATs, want 2 deny + 1 TEK", n)
	}
}

// TestInteropKD: gdoid puts the KEK key packet first, and a KEK rekey's
// packet under the old KEK's SPI; a GM reads that (and the RFC layout).
func TestInteropKD(t *testing.T) {
	p := gdoidPolicy(t)
	old := *p.KEK
	old.SPI[0] = 0x60
	kd := p.KDPayloadFor(InteropGdoid, &old)
	if kd.Packets[0].Type != gdoiwire.KDKEK || !bytes.Equal(kd.Packets[0].SPI, old.SPI[:]) {
		t.Fatalf("first key packet %v SPI %x, want KEK under %x", kd.Packets[0].Type, kd.Packets[0].SPI, old.SPI)
	}
	rfc := p.KDPayloadFor(InteropRFC, &old)
	if last := rfc.Packets[len(rfc.Packets)-1]; last.Type != gdoiwire.KDKEK || !bytes.Equal(last.SPI, p.KEK.SPI[:]) {
		t.Fatalf("RFC: last key packet %v SPI %x, want KEK under the new SPI", last.Type, last.SPI)
	}
	sa := p.SAPayloadFor(InteropGdoid)
	if _, err := ParsePolicyWith(1234, sa, kd, nil, ParseOptions{Wire: gdoiwire.ProfileGdoid}); !errors.Is(err, ErrPolicy) {
		t.Errorf("old SPI without CurrentKEK: %v", err)
	}
	got, err := ParsePolicyWith(1234, sa, kd, nil, ParseOptions{Wire: gdoiwire.ProfileGdoid, CurrentKEK: &old.SPI})
	if err != nil {
		t.Fatal(err)
	}
	if got.KEK.SPI != p.KEK.SPI || !bytes.Equal(got.KEK.Key, p.KEK.Key) {
		t.Errorf("KEK %x key %x", got.KEK.SPI, got.KEK.Key)
	}
	// Host-order addresses read back as configured.
	if s := got.TEKs[0].Selector; s.Src.String() != "10.77.0.11/32" || s.Dst.String() != "239.1.1.1/32" {
		t.Errorf("selector %+v", s)
	}
	// The RFC layout under the same options.
	if _, err := ParsePolicyWith(1234, p.SAPayloadFor(InteropRFC), rfc, nil, ParseOptions{CurrentKEK: &old.SPI}); err != nil {
		t.Error(err)
	}
}

// TestInteropRawHashSignature: a gdoid-profile PUSH's SIG is PKCS#1 type 1
// padding of the bare SHA-1 digest (no DigestInfo), as in every gdoid PUSH
// of the corpus; the RFC profile's carries a DigestInfo. OpenPush takes
// both.
func TestInteropRawHashSignature(t *testing.T) {
	for _, ip := range []Interop{InteropRFC, InteropGdoid} {
		p := gdoidPolicy(t)
		p.KEK.SigHash = gdoiwire.SigHashSHA1
		pkt, err := SealPush(p.KEK, testKey, 3, []isakmp.Payload{p.SAPayloadFor(ip), p.KDPayloadFor(ip, nil)}, ip.PushOptions())
		if err != nil {
			t.Fatal(err)
		}
		push, err := OpenPush(pkt, p.KEK)
		if err != nil {
			t.Fatalf("%s: %v", ip.Name, err)
		}
		// Recompute the signed digest and look inside the signature.
		pt, _ := kekCBC(p.KEK, pkt[isakmp.HeaderLen:], false)
		m, err := isakmp.ParseBody(push.Header, pt, gdoiwire.Decoder{})
		if err != nil {
			t.Fatal(err)
		}
		offs, _ := m.Offsets()
		sigOff := offs[len(offs)-1] - isakmp.HeaderLen
		sig := m.Payloads[len(m.Payloads)-1].(*isakmp.Signature).Data
		h0 := push.Header
		h0.Length = uint32(isakmp.HeaderLen + sigOff + 4 + len(sig))
		d := sha1.New()
		d.Write([]byte("rekey"))
		d.Write(h0.Append(nil))
		d.Write(pt[:sigOff])
		digest := d.Sum(nil)
		em := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(testKey.E)), testKey.N).FillBytes(make([]byte, testKey.Size()))
		prefix := ""
		if !ip.RawHashSignature {
			prefix = "3021300906052b0e03021a05000414" // SHA-1 DigestInfo
		}
		tail := hex.EncodeToString(em[len(em)-len(prefix)/2-len(digest)-1:])
		if want := "00" + prefix + hex.EncodeToString(digest); tail != want || !strings.HasPrefix(hex.EncodeToString(em), "0001ffff") {
			t.Errorf("%s: signature block %x, want ...%s", ip.Name, em, want)
		}
	}
}

// TestKEK3DES: a 3DES KEK (KEK_ALGORITHM 2, no KEK_KEY_LENGTH, 8-octet IV,
// a-plain-kek3des frame 8) goes out, comes back and protects a PUSH.
func TestKEK3DES(t *testing.T) {
	p := gdoidPolicy(t)
	p.KEK.Algorithm, p.KEK.KeyBits = gdoiwire.KEKAlg3DES, 192
	p.KEK.Key, p.KEK.IV = bytes.Repeat([]byte{0x42}, 24), bytes.Repeat([]byte{0x43}, 8)
	sa := p.SAPayloadFor(InteropGdoid)
	if _, ok := sa.SAK().Attributes.Get(gdoiwire.KEKKeyLength); ok {
		t.Error("3DES SAK with KEK_KEY_LENGTH")
	}
	got, err := ParsePolicyWith(1234, sa, p.KDPayloadFor(InteropGdoid, nil), nil, ParseOptions{Wire: gdoiwire.ProfileGdoid})
	if err != nil {
		t.Fatal(err)
	}
	if got.KEK.KeyBits != 192 || !bytes.Equal(got.KEK.IV, p.KEK.IV) || !bytes.Equal(got.KEK.Key, p.KEK.Key) {
		t.Fatalf("KEK %+v", got.KEK)
	}
	pkt, err := SealPush(got.KEK, testKey, 1, nil, InteropGdoid.PushOptions())
	if err != nil {
		t.Fatal(err)
	}
	if (len(pkt)-isakmp.HeaderLen)%8 != 0 {
		t.Errorf("body of %d octets", len(pkt)-isakmp.HeaderLen)
	}
	if _, err := OpenPush(pkt, got.KEK); err != nil {
		t.Fatal(err)
	}
}

// TestSALifeKilobytes: a TEK whose lifetime is in kilobytes is refused, not
// read as seconds.
func TestSALifeKilobytes(t *testing.T) {
	p := gdoidPolicy(t)
	sa := p.SAPayloadFor(InteropRFC)
	for _, s := range sa.SATs() {
		for i, a := range s.Attributes {
			if a.Type == gdoiwire.SALifeType {
				s.Attributes[i] = isakmp.BasicAttr(gdoiwire.SALifeType, uint16(gdoiwire.SALifeKilobytes))
			}
		}
	}
	_, err := ParsePolicy(1234, sa, p.KDPayload(), nil)
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "SA_LIFE_TYPE 2") {
		t.Fatalf("got %v", err)
	}
}

// hx decodes hex, ignoring spaces and "|".
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}
