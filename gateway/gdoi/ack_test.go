package gdoi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TestAckLayout checks the acknowledgement octet by octet against the
// pinned layout, with the HASH computed here independently.
func TestAckLayout(t *testing.T) {
	kek := testPolicy(t).KEK
	gm := netip.MustParseAddr("192.0.2.11")
	pkt, err := SealAck(kek, 0x0102, gm)
	if err != nil {
		t.Fatal(err)
	}
	seqAndID, _ := hex.DecodeString(
		"05000008" + "00000102" + // SEQ: next ID, length 8, seq 0x102
			"0000000c" + "01000000" + "c000020b") // ID: last, length 12, ID_IPV4_ADDR, proto 0, port 0, 192.0.2.11
	kd := hmac.New(sha256.New, kek.Key)
	kd.Write([]byte("GROUPKEY-PUSH ACK"))
	kd.Write(kek.SPI[:])
	mac := hmac.New(sha256.New, kd.Sum(nil))
	mac.Write(seqAndID)
	want := append(kek.SPI[:0:0], kek.SPI[:]...)
	want = append(want, 8, 0x10, 35, 0, 0, 0, 0, 0, 0, 0, 0, 84) // HASH next, v1.0, exchange 35, no flags, M-ID 0, length
	want = append(want, 18, 0, 0, 36)                            // HASH header: next SEQ, length 4+32
	want = append(want, mac.Sum(nil)...)
	want = append(want, seqAndID...)
	if !bytes.Equal(pkt, want) {
		t.Fatalf("ack\n got %x\nwant %x", pkt, want)
	}
	ack, err := OpenAck(pkt, kek)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 0x102 || ack.GM != gm || ack.KEKSPI != kek.SPI {
		t.Fatalf("ack %+v", ack)
	}
}

func TestAckRejects(t *testing.T) {
	kek := testPolicy(t).KEK
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
	other.SPI[0] ^= 1
	if _, err := OpenAck(pkt, &other); !errors.Is(err, ErrPushKEK) {
		t.Fatalf("another KEK's cookies: %v", err)
	}
	if _, err := OpenAck(pkt[:len(pkt)-5], kek); err == nil {
		t.Fatal("truncated ack accepted")
	}
}

// TestAckRequestedRoundTrip: KEK_ACK_REQUESTED travels in the SAK.
func TestAckRequestedRoundTrip(t *testing.T) {
	p := testPolicy(t)
	p.KEK.AckRequested = true
	sa := p.SAPayload(gdoiwire.ProfileRFC)
	var found bool
	for _, a := range sa.SAK().Attributes {
		if a.Type == gdoiwire.KEKAckRequested {
			v, _ := a.Uint()
			found = v == uint64(gdoiwire.AckTypeHMAC)
		}
	}
	if !found {
		t.Fatal("no KEK_ACK_REQUESTED = 1 in the SAK")
	}
	got, err := ParsePolicy(p.GroupID, sa, p.KDPayload(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.KEK.AckRequested {
		t.Fatal("AckRequested lost")
	}
}
