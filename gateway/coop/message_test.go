package coop

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/ikev1"
	wire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// testSA is one end of a phase-1 SA with fixed keys (both ends alike).
func testSA(t testing.TB, enc byte) *ikev1.SA {
	t.Helper()
	suite, err := ikev1.ParseSuite("aes128", "sha256", 14, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sa := &ikev1.SA{
		ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, RCookie: [8]byte{9, 10, 11, 12, 13, 14, 15, 16},
		Suite: suite, SKEYIDa: bytes.Repeat([]byte{0xa}, 32), EncKey: bytes.Repeat([]byte{enc}, 16), LastIV: bytes.Repeat([]byte{1}, 16),
	}
	if err := sa.Init(); err != nil {
		t.Fatal(err)
	}
	return sa
}

func testMessage() *Message {
	return &Message{
		ANN: &wire.ANN{Version: wire.Current, Flags: wire.FlagPrimary, Priority: 100, Group: 1234, Seq: 9, Antireplay: 3},
		Members: &wire.Members{List: []wire.Member{
			{Address: netip.MustParseAddr("192.0.2.11"), Local: true, Registrations: 1, Since: 4 * time.Second},
		}},
	}
}

// TestSealOpen: an ANN opens on the other end of the SA with its header
// as the wire format says (exchange 240, E flag) and its content intact.
func TestSealOpen(t *testing.T) {
	pkt, err := Seal(testSA(t, 0xe), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil || h.Exchange != 240 || h.Flags&isakmp.FlagEncryption == 0 || h.NextPayload != isakmp.PayloadHash || h.MessageID == 0 {
		t.Fatalf("header %+v (%v)", h, err)
	}
	m, err := Open(testSA(t, 0xe), pkt)
	if err != nil {
		t.Fatal(err)
	}
	if m.ANN.Priority != 100 || m.ANN.Seq != 9 || m.SA != nil || len(m.Members.List) != 1 || m.Members.List[0].Address != netip.MustParseAddr("192.0.2.11") {
		t.Errorf("opened %+v %+v", m.ANN, m.Members)
	}
}

// TestOpenRefuses: the wrong keys, a flipped bit and a POLICY flag
// without a policy are refused, never opened.
func TestOpenRefuses(t *testing.T) {
	pkt, err := Seal(testSA(t, 0xe), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testSA(t, 0xf), pkt); err == nil {
		t.Error("opened under the wrong key")
	}
	for i := isakmp.HeaderLen; i < len(pkt); i += 7 {
		b := bytes.Clone(pkt)
		b[i] ^= 0x40
		if _, err := Open(testSA(t, 0xe), b); err == nil {
			t.Fatalf("opened with octet %d flipped", i)
		}
	}
	bad := testMessage()
	bad.ANN.Flags |= wire.FlagPolicy
	if _, err := Seal(testSA(t, 0xe), bad); err == nil {
		t.Error("sealed a POLICY flag without SA and KD")
	}
}

// FuzzLayout: any payload chain decoded from an announcement's body,
// however wrong, gives a message or an error, never a panic.
func FuzzLayout(f *testing.F) {
	f.Add(isakmp.AppendPayloads(nil, testMessage().ANN, testMessage().Members))
	f.Fuzz(func(t *testing.T, body []byte) {
		h := isakmp.Header{Exchange: wire.Exchange, NextPayload: wire.PayloadANN}
		m, err := isakmp.ParseBody(h, body, wire.Decoder)
		if err != nil {
			return
		}
		if out, err := layout(m.Payloads); err == nil && out.ANN == nil {
			t.Fatal("a message without ANN")
		} else if err != nil && errors.Is(err, ErrHash) {
			t.Fatal("a layout error is not a HASH error")
		}
	})
}
