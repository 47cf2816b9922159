package coop

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// annVector is an ANN body written out by hand from the layout in doc.go:
// version 1.0.0, flags PRIMARY|POLICY, priority 100, group 1234, rekey
// sequence 7, anti-replay 64, pseudotime 90.5 s, KEK age 12 s, digests
// 0x11… and 0x22…, two generations (2 TEKs, 100 s; 2 TEKs, 1.25 s).
var annVector = wiretest.Hex(`
	01 00 00 0c  64 00 00 00  00 00 04 d2  00 00 00 07
	00 00 00 00 00 00 00 40   00 00 00 00 00 01 61 84
	00 00 00 00 00 00 2e e0
	11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11
	22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22
	00 02 00 00
	00 02 00 00  00 00 00 00 00 01 86 a0
	00 02 00 00  00 00 00 00 00 00 04 e2`)

func TestANNVector(t *testing.T) {
	want := &ANN{
		Version: Current, Flags: FlagPrimary | FlagPolicy, Priority: 100, Group: 1234, Seq: 7,
		Antireplay: 64, Pseudotime: 90500 * time.Millisecond, KEKAge: 12 * time.Second,
		Generations: []Generation{{2, 100 * time.Second}, {2, 1250 * time.Millisecond}},
	}
	for i := range 32 {
		want.SigningKey[i], want.Policy[i] = 0x11, 0x22
	}
	if got := want.Append(nil); !bytes.Equal(got, annVector) {
		t.Fatalf("Append:\n got %x\nwant %x", got, annVector)
	}
	a, n, err := ParseANN(annVector)
	if err != nil || n != len(annVector) {
		t.Fatalf("ParseANN: %v (%d of %d octets)", err, n, len(annVector))
	}
	if !bytes.Equal(a.Append(nil), annVector) || a.Pseudotime != want.Pseudotime || a.Generations[1] != want.Generations[1] || !a.Flags.Has(FlagPolicy) || a.Flags.Has(FlagReply) {
		t.Errorf("parsed %+v, want %+v", a, want)
	}
}

func TestANNRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", annVector[:107]},
		{"generation cut", annVector[:len(annVector)-1]},
		{"extra octet", append(bytes.Clone(annVector), 0)},
		{"too many generations", func() []byte { b := bytes.Clone(annVector); b[104], b[105] = 0, 17; return b }()},
	} {
		if _, _, err := ParseANN(tc.b); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if !errors.Is(err, isakmp.ErrLength) && !errors.Is(err, isakmp.ErrUnsupported) {
			t.Errorf("%s: %v is neither a length nor an unsupported error", tc.name, err)
		}
	}
	if err := (&ANN{Generations: make([]Generation, MaxGenerations+1)}).Check(); err == nil {
		t.Error("Check accepts 17 generations")
	}
}

func TestMembers(t *testing.T) {
	m := &Members{List: []Member{
		{Address: netip.MustParseAddr("192.0.2.11"), Local: true, Registrations: 3, Since: 75 * time.Second},
		{Address: netip.MustParseAddr("192.0.2.12"), Registrations: 1, Since: 0},
	}}
	want := wiretest.Hex(`00 00 00 02  01 00 00 03 00 00 00 4b c0 00 02 0b  00 00 00 01 00 00 00 00 c0 00 02 0c`)
	if got := m.Append(nil); !bytes.Equal(got, want) {
		t.Fatalf("Append:\n got %x\nwant %x", got, want)
	}
	p, n, err := ParseMembers(want)
	if err != nil || n != len(want) || len(p.List) != 2 || p.List[0] != m.List[0] || p.List[1] != m.List[1] {
		t.Fatalf("ParseMembers = %+v, %d, %v", p, n, err)
	}
	for _, b := range [][]byte{want[:3], want[:len(want)-1], wiretest.Hex("ff ff ff ff")} {
		if _, _, err := ParseMembers(b); !errors.Is(err, isakmp.ErrLength) {
			t.Errorf("ParseMembers(%x) = %v, want a length error", b, err)
		}
	}
	if err := (&Members{List: []Member{{Address: netip.MustParseAddr("2001:db8::1")}}}).Check(); err == nil {
		t.Error("Check accepts an IPv6 member")
	}
}

// TestMemberSize: 2000 members make the seeds' "about 25 KB" (S0
// §3.7.1.1, CO-04).
func TestMemberSize(t *testing.T) {
	m := &Members{List: make([]Member, 2000)}
	for i := range m.List {
		m.List[i].Address = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
	}
	if n := len(m.Append(nil)); n < 20000 || n > 25000 {
		t.Errorf("2000 members take %d octets", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(annVector)
	f.Add(wiretest.Hex(`00 00 00 01  01 00 00 03 00 00 00 4b c0 00 02 0b`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, _, err := ParseANN(b); err == nil {
			// Times past what a Duration holds are clamped and reserved
			// octets zeroed: the encoding of the parse is a fixed point.
			enc := a.Append(nil)
			if len(enc) != len(b) {
				t.Fatalf("ANN of %d octets encodes to %d", len(b), len(enc))
			}
			again, _, err := ParseANN(enc)
			if err != nil || !bytes.Equal(again.Append(nil), enc) {
				t.Errorf("ANN does not round-trip: %x (%v)", b, err)
			}
		}
		if m, _, err := ParseMembers(b); err == nil {
			if got := m.Append(nil); !bytes.Equal(got[:4], b[:4]) || len(got) != len(b) {
				t.Errorf("MEMBERS does not round-trip: %x", b)
			}
		}
	})
}
