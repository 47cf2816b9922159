package ikev1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// establishedPair returns the two SAs of a completed main mode.
func establishedPair(t testing.TB, enc, hash string, group int) (gm, ks *SA) {
	t.Helper()
	s := mustSuite(t, enc, hash, group)
	i, r, _, err := runMainMode(t, config(t, 200, psk, s), config(t, 201, psk, s))
	if err != nil {
		t.Fatal(err)
	}
	return i.SA(), r.SA()
}

func TestInformationalNotify(t *testing.T) {
	for _, enc := range []string{"aes128", "3des"} {
		gm, ks := establishedPair(t, enc, "sha1", 14)
		c := gm.Cookies()
		pkt := gm.Notify(isakmp.NotifyInitialContact, c[:], nil)
		h, _, err := isakmp.ParseHeader(pkt)
		if err != nil || h.Exchange != isakmp.ExchangeInformational || h.Flags != isakmp.FlagEncryption || h.MessageID == 0 || h.NextPayload != isakmp.PayloadHash {
			t.Fatalf("header %+v, %v", h, err)
		}
		n, err := ks.OpenInformational(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if n.MessageType != isakmp.NotifyInitialContact || !bytes.Equal(n.SPI, c[:]) || n.DOI != isakmp.DOIGDOI || n.ProtocolID != isakmp.ProtoISAKMP {
			t.Fatalf("notification %+v", n)
		}
		// Both directions, two messages in a row (different message IDs).
		for range 2 {
			if _, err := gm.OpenInformational(ks.Notify(isakmp.NotifyInvalidSPI, []byte{1, 2, 3, 4}, []byte("data"))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// HASH(1) is prf(SKEYID_a, M-ID | N), N with its generic header: recomputed
// here from the decrypted octets.
func TestInformationalHashLayout(t *testing.T) {
	gm, ks := establishedPair(t, "aes128", "sha256", 19)
	pkt := gm.Notify(isakmp.NotifyInitialContact, nil, nil)
	h, _, _ := isakmp.ParseHeader(pkt)
	x := ks.Exchange(isakmp.ExchangeInformational, h.MessageID)
	_, pt, err := openCBC(ks.block, pkt, &x.iv, nil)
	if err != nil {
		t.Fatal(err)
	}
	hashLen := int(binary.BigEndian.Uint16(pt[2:]))
	nLen := int(binary.BigEndian.Uint16(pt[hashLen+2:]))
	n := pt[hashLen : hashLen+nLen]
	want := mac(gm.NewHash(), gm.SKEYIDa, pkt[20:24], n)
	if !bytes.Equal(pt[4:hashLen], want) || pt[0] != byte(isakmp.PayloadNotification) || n[0] != 0 {
		t.Errorf("HASH(1) %x, want %x", pt[4:hashLen], want)
	}
}

func TestInformationalDelete(t *testing.T) {
	gm, ks := establishedPair(t, "aes256", "sha384", 20)
	if _, err := gm.OpenInformational(ks.DeleteSelf()); !errors.Is(err, ErrNoNotification) {
		t.Fatalf("Delete through OpenInformational: %v", err)
	}
	ps, err := gm.OpenInformationalPayloads(ks.DeleteSelf())
	if err != nil {
		t.Fatal(err)
	}
	ds := Deletes(ps)
	c := gm.Cookies()
	if len(ds) != 1 || ds[0].ProtocolID != isakmp.ProtoISAKMP || len(ds[0].SPIs) != 1 || !bytes.Equal(ds[0].SPIs[0], c[:]) {
		t.Fatalf("payloads %v", ps)
	}
	pkt, err := gm.Delete(isakmp.ProtoIPsecESP, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	ps, err = ks.OpenInformationalPayloads(pkt)
	if err != nil || len(Deletes(ps)) != 1 || len(Deletes(ps)[0].SPIs) != 2 {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := gm.Delete(isakmp.ProtoIPsecESP, []byte{1, 2, 3, 4}, []byte{5}); err == nil {
		t.Error("SPIs of different sizes accepted")
	}
	if _, err := gm.Delete(isakmp.ProtoIPsecESP); err == nil {
		t.Error("Delete without SPIs accepted")
	}
}

func TestDPDRoundTrip(t *testing.T) {
	gm, ks := establishedPair(t, "aes128", "sha256", 19)
	n, err := ks.OpenInformational(gm.RUThere(0x01020304))
	if err != nil {
		t.Fatal(err)
	}
	if typ, seq, ok := ParseDPD(n); !ok || typ != isakmp.NotifyDPDRUThere || seq != 0x01020304 {
		t.Fatalf("R-U-THERE %+v", n)
	}
	ack := AnswerDPD(ks, n)
	if ack == nil {
		t.Fatal("no ACK")
	}
	n, err = gm.OpenInformational(ack)
	if err != nil {
		t.Fatal(err)
	}
	typ, seq, ok := ParseDPD(n)
	c := gm.Cookies()
	if !ok || typ != isakmp.NotifyDPDRUThereAck || seq != 0x01020304 || !bytes.Equal(n.SPI, c[:]) || n.ProtocolID != isakmp.ProtoISAKMP || n.DOI != isakmp.DOIIPsec {
		t.Errorf("ack %+v", n)
	}
	// An ACK is not answered; nor is an R-U-THERE about another SA.
	if AnswerDPD(gm, n) != nil {
		t.Error("answered an ACK")
	}
	other := &isakmp.Notification{ProtocolID: isakmp.ProtoISAKMP, MessageType: isakmp.NotifyDPDRUThere, SPI: make([]byte, 16), Data: []byte{0, 0, 0, 1}}
	if AnswerDPD(gm, other) != nil || AnswerDPD(gm, nil) != nil {
		t.Error("answered an R-U-THERE for other cookies, or nothing")
	}
	if _, _, ok := ParseDPD(&isakmp.Notification{ProtocolID: isakmp.ProtoISAKMP, MessageType: isakmp.NotifyDPDRUThere, Data: []byte{1}}); ok {
		t.Error("1-octet sequence number accepted")
	}
}

func TestInformationalTampered(t *testing.T) {
	gm, ks := establishedPair(t, "aes128", "sha256", 19)
	pkt := gm.RUThere(7)
	// Every octet flipped after the cookies: refused (header fields, a
	// garbled payload chain, or a HASH(1) that does not verify).
	for k := 16; k < len(pkt); k++ {
		bad := bytes.Clone(pkt)
		bad[k] ^= 0x01
		if n, err := ks.OpenInformational(bad); err == nil {
			// Flips that only touch the zero padding are harmless.
			if _, seq, ok := ParseDPD(n); !ok || seq != 7 {
				t.Errorf("octet %d flipped: accepted with different content %+v", k, n)
			}
		}
	}
	// A valid encryption of a message whose HASH(1) is wrong.
	x := gm.NewExchange(isakmp.ExchangeInformational)
	n := &isakmp.Notification{ProtocolID: isakmp.ProtoISAKMP, MessageType: isakmp.NotifyDPDRUThere, Data: []byte{0, 0, 0, 7}}
	rest := isakmp.AppendPayloads(nil, n)
	wrong := gm.HashA([]byte{0, 0, 0, 0}, rest) // wrong message ID in the hash
	body := append(isakmp.AppendPayload(nil, isakmp.PayloadNotification, &isakmp.Hash{Data: wrong}), rest...)
	if _, err := ks.OpenInformational(x.Seal(isakmp.PayloadHash, body)); err == nil {
		t.Error("wrong HASH(1) accepted")
	}
	// HASH not first.
	x = gm.NewExchange(isakmp.ExchangeInformational)
	body = isakmp.AppendPayloads(nil, n, &isakmp.Hash{Data: gm.HashA(x.MessageIDBytes())})
	if _, err := ks.OpenInformational(x.Seal(isakmp.PayloadNotification, body)); err == nil {
		t.Error("HASH not first accepted")
	}
	// Other cookies, truncations, plaintext.
	for l := range pkt {
		if _, err := ks.OpenInformational(pkt[:l]); err == nil {
			t.Fatalf("truncated to %d accepted", l)
		}
	}
	other, _ := establishedPair(t, "aes128", "sha256", 19)
	other.ICookie[0] ^= 1
	if _, err := ks.OpenInformational(other.RUThere(1)); err == nil {
		t.Error("other SA's message accepted")
	}
}
