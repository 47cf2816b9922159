package wire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/pcap/handbuilt"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// udpFrame is an Ethernet frame with an IPv4/UDP packet from src to dst
// carrying payload.
func udpFrame(src, dst string, sport, dport uint16, df bool, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(payload)))
	binary.BigEndian.PutUint16(ip[4:6], 0x1234)
	if df {
		ip[6] = 0x40
	}
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	setIPChecksum(ip)
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:2], sport)
	binary.BigEndian.PutUint16(udp[2:4], dport)
	binary.BigEndian.PutUint16(udp[4:6], uint16(8+len(payload)))
	copy(f[42:], payload)
	return f
}

func rules(t *testing.T, yaml string) *Rules {
	t.Helper()
	r, err := ParseRules([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// feed runs n frames of the same kind, one per millisecond, through e and
// returns what was emitted for each.
func feed(e *Engine, n int, from int, frame func(i int) []byte) [][]Emission {
	out := make([][]Emission, n)
	for i := range n {
		out[i] = e.Decide(Frame{Index: uint64(i + 1), From: from, At: t0.Add(time.Duration(i) * time.Millisecond), Data: frame(i)})
	}
	return out
}

func plainUDP(int) []byte {
	return udpFrame("192.0.2.11", "192.0.2.12", 4000, 5000, false, make([]byte, 100))
}

func TestNoRulesForwardsAtOnce(t *testing.T) {
	e := NewEngine(nil, nil)
	f := plainUDP(0)
	em := e.Decide(Frame{Index: 1, From: Eth2, At: t0, Data: f})
	if len(em) != 1 || em[0].Out != Eth1 || !em[0].At.Equal(t0) || !bytes.Equal(em[0].Data, f) {
		t.Fatalf("%+v", em)
	}
	if s := e.Stats(); s.Received[Eth2] != 1 || s.Forwarded[Eth2] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNthAndCountAndDirection(t *testing.T) {
	var log []Decision
	e := NewEngine(rules(t, `
rules:
  - {name: third, from: eth1, match: {proto: udp, dport: 5000}, nth: 3, drop: true}
`), func(d Decision) { log = append(log, d) })
	got := feed(e, 6, Eth1, plainUDP)
	for i, em := range got {
		if lost := len(em) == 0; lost != (i == 2) {
			t.Errorf("frame %d: lost %v", i+1, lost)
		}
	}
	if len(log) != 1 || log[0].Index != 3 || log[0].Action != "drop" || log[0].Rule != "third" {
		t.Errorf("decisions %+v", log)
	}
	// The other direction is not taken.
	for _, em := range feed(e, 4, Eth2, plainUDP) {
		if len(em) != 1 {
			t.Fatal("eth2 frame lost")
		}
	}
	e.SetRules(rules(t, `
rules:
  - {name: two, match: {dst: 192.0.2.0/24}, skip: 1, count: 2, drop: true}
`))
	lost := 0
	for i, em := range feed(e, 5, Eth1, plainUDP) {
		if len(em) == 0 {
			lost++
			if i != 1 && i != 2 {
				t.Errorf("frame %d lost", i+1)
			}
		}
	}
	if lost != 2 {
		t.Errorf("%d lost, want 2 (skip 1, count 2)", lost)
	}
}

func TestRandomLossIsSeededAndNearItsRate(t *testing.T) {
	const n = 20000
	run := func(seed int) []bool {
		e := NewEngine(rules(t, fmt.Sprintf("seed: %d\nrules:\n  - {name: l, loss: {random: 0.3}}\n", seed)), nil)
		lost := make([]bool, n)
		for i, em := range feed(e, n, Eth1, plainUDP) {
			lost[i] = len(em) == 0
		}
		return lost
	}
	a, b, c := run(1), run(1), run(2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave other losses")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("another seed gave the same losses")
	}
	k := 0
	for _, l := range a {
		if l {
			k++
		}
	}
	// 30 % of 20,000: σ ≈ 65 frames; 5σ either way.
	if k < 6000-325 || k > 6000+325 {
		t.Errorf("%d of %d lost, want about 6000", k, n)
	}
}

func TestEveryNthAndGilbertBursts(t *testing.T) {
	e := NewEngine(rules(t, "rules:\n  - {name: l, loss: {every: 4}}\n"), nil)
	for i, em := range feed(e, 12, Eth1, plainUDP) {
		if lost := len(em) == 0; lost != ((i+1)%4 == 0) {
			t.Errorf("every 4: frame %d lost %v", i+1, lost)
		}
	}
	// Gilbert-Elliott with p 0.01, r 0.25: p/(p+r) ≈ 3.8 % of the frames
	// in the bad state, which loses them all, in bursts of 1/r = 4 frames
	// on average.
	e = NewEngine(rules(t, "seed: 7\nrules:\n  - {name: ge, loss: {gilbert: {p: 0.01, r: 0.25}}}\n"), nil)
	const n = 200000
	lost, bursts, run := 0, 0, 0
	for _, em := range feed(e, n, Eth1, plainUDP) {
		if len(em) == 0 {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
		}
		run = 0
	}
	share := float64(lost) / n
	mean := float64(lost) / float64(bursts)
	if math.Abs(share-0.01/0.26) > 0.006 || math.Abs(mean-4) > 0.5 {
		t.Errorf("lost %.4f of frames in bursts of %.2f, want %.4f and 4", share, mean, 0.01/0.26)
	}
}

func TestDelayJitterReorderDuplicate(t *testing.T) {
	e := NewEngine(rules(t, `
seed: 3
rules:
  - {name: d, delay: 200ms, jitter: 50ms}
`), nil)
	for i, em := range feed(e, 500, Eth1, plainUDP) {
		if len(em) != 1 {
			t.Fatal("frame lost")
		}
		d := em[0].At.Sub(t0.Add(time.Duration(i) * time.Millisecond))
		if d < 150*time.Millisecond || d > 250*time.Millisecond {
			t.Fatalf("frame %d delayed %v, want 200 ms ± 50 ms", i+1, d)
		}
	}
	// Reorder 1: every frame leaves at once, ahead of any delayed.
	e.SetRules(rules(t, "rules:\n  - {name: r, delay: 10ms, reorder: 1}\n"))
	if em := e.Decide(Frame{Index: 1, From: Eth1, At: t0, Data: plainUDP(0)}); !em[0].At.Equal(t0) {
		t.Errorf("reordered frame leaves at %v", em[0].At.Sub(t0))
	}
	// keep_order: jitter never lets a frame leave before the one before.
	e.SetRules(rules(t, "rules:\n  - {name: k, delay: 20ms, jitter: 15ms, keep_order: true}\n"))
	var last time.Time
	for _, em := range feed(e, 300, Eth1, plainUDP) {
		if em[0].At.Before(last) {
			t.Fatal("keep_order: a frame left before the one before it")
		}
		last = em[0].At
	}
	e.SetRules(rules(t, "rules:\n  - {name: dup, duplicate: 1}\n"))
	em := e.Decide(Frame{Index: 1, From: Eth1, At: t0, Data: plainUDP(0)})
	if len(em) != 2 || !bytes.Equal(em[0].Data, em[1].Data) || &em[0].Data[0] == &em[1].Data[0] {
		t.Fatalf("duplicate: %d copies", len(em))
	}
	if s := e.Stats(); s.Duplicated[Eth1] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestRateSpacesFramesAndDropsPastItsQueue(t *testing.T) {
	e := NewEngine(rules(t, "rules:\n  - {name: r, rate: 1mbit, queue: 5}\n"), nil)
	frame := udpFrame("192.0.2.11", "192.0.2.12", 1, 2, false, make([]byte, 1000-14-28)) // 1000 octets: 8 ms at 1 Mbit/s
	var ats []time.Time
	dropped := 0
	for i := range 8 {
		em := e.Decide(Frame{Index: uint64(i + 1), From: Eth1, At: t0, Data: frame})
		if len(em) == 0 {
			dropped++
			continue
		}
		ats = append(ats, em[0].At)
	}
	if len(ats) != 5 || dropped != 3 {
		t.Fatalf("%d sent, %d dropped, want 5 and 3", len(ats), dropped)
	}
	for i, at := range ats {
		if want := t0.Add(time.Duration(i+1) * 8 * time.Millisecond); !at.Equal(want) {
			t.Errorf("frame %d leaves at %v, want %v", i+1, at.Sub(t0), want.Sub(t0))
		}
	}
}

func TestMTUFragmentsOrAnswersICMP(t *testing.T) {
	e := NewEngine(rules(t, "rules:\n  - {name: narrow, mtu: 1200, icmp_from: 192.0.2.254}\n"), nil)
	payload := make([]byte, 1400)
	for i := range payload {
		payload[i] = byte(i)
	}
	// DF set: dropped, ICMP type 3 code 4 with MTU 1200 back out eth1.
	big := udpFrame("192.0.2.11", "192.0.2.12", 1, 2, true, payload)
	em := e.Decide(Frame{Index: 1, From: Eth1, At: t0, Data: big})
	if len(em) != 1 || em[0].Out != Eth1 {
		t.Fatalf("DF: %+v", em)
	}
	icmp := em[0].Data
	ip := icmp[14:34]
	if checksum(ip) != 0xffff || netip.AddrFrom4([4]byte(ip[12:16])).String() != "192.0.2.254" || netip.AddrFrom4([4]byte(ip[16:20])).String() != "192.0.2.11" {
		t.Fatalf("ICMP IP header %x", ip)
	}
	body := icmp[34:]
	if body[0] != 3 || body[1] != 4 || binary.BigEndian.Uint16(body[6:8]) != 1200 || checksum(body) != 0xffff || !bytes.Equal(body[8:8+28], big[14:14+28]) {
		t.Fatalf("ICMP %x", body[:40])
	}
	if !bytes.Equal(icmp[0:6], big[6:12]) {
		t.Error("ICMP not addressed to the sender's MAC")
	}
	// DF clear: fragments of at most 1200 octets that put the packet
	// together again.
	small := udpFrame("192.0.2.11", "192.0.2.12", 1, 2, false, payload)
	em = e.Decide(Frame{Index: 2, From: Eth1, At: t0, Data: small})
	if len(em) != 2 {
		t.Fatalf("%d fragments, want 2", len(em))
	}
	var whole []byte
	for i, x := range em {
		ip := x.Data[14:]
		tot := int(binary.BigEndian.Uint16(ip[2:4]))
		fo := binary.BigEndian.Uint16(ip[6:8])
		if tot > 1200 || checksum(ip[:20]) != 0xffff || int(fo&0x1fff)*8 != len(whole) || (fo&0x2000 != 0) != (i == 0) {
			t.Fatalf("fragment %d: length %d, flags/offset %#x", i, tot, fo)
		}
		whole = append(whole, ip[20:tot]...)
	}
	if !bytes.Equal(whole, small[34:]) {
		t.Error("fragments do not make the datagram again")
	}
}

func TestHoldReleaseDiscardAndCorrupt(t *testing.T) {
	e := NewEngine(rules(t, "rules:\n  - {name: h, match: {dport: 5000}, count: 3, hold: q}\n"), nil)
	for i, em := range feed(e, 4, Eth1, func(i int) []byte {
		f := plainUDP(i)
		f[len(f)-1] = byte(i)
		return f
	}) {
		if (len(em) == 0) != (i < 3) {
			t.Fatalf("frame %d: %d emissions", i+1, len(em))
		}
	}
	if s := e.Stats(); s.Held["q"] != 3 {
		t.Fatalf("held %v", s.Held)
	}
	later := t0.Add(time.Second)
	em := e.Release("q", 2, later)
	if len(em) != 2 || em[0].Data[len(em[0].Data)-1] != 0 || em[1].Data[len(em[1].Data)-1] != 1 || !em[0].At.Equal(later) || em[0].Out != Eth2 {
		t.Fatalf("release: %+v", em)
	}
	if n := e.Discard("q"); n != 1 {
		t.Fatalf("discarded %d, want 1", n)
	}
	e.SetRules(rules(t, "rules:\n  - {name: c, corrupt: {offset: -1, xor: 0x0f}}\n"))
	f := plainUDP(0)
	em = e.Decide(Frame{Index: 9, From: Eth1, At: t0, Data: bytes.Clone(f)})
	if em[0].Data[len(f)-1] != f[len(f)-1]^0x0f || !bytes.Equal(em[0].Data[:len(f)-1], f[:len(f)-1]) {
		t.Error("corrupt: last octet not flipped, or others changed")
	}
}

// A frame padded past its IPv4 packet (Ethernet's 60-octet minimum): the
// padding is no part of the packet — corrupting "the last octet" changes
// the packet's, and fragments carry the packet alone.
func TestPaddedFrames(t *testing.T) {
	f := append(udpFrame("192.0.2.11", "192.0.2.12", 1, 2, false, make([]byte, 100)), 0xee, 0xee, 0xee, 0xee)
	e := NewEngine(rules(t, "rules:\n  - {name: c, corrupt: {offset: -1}}\n"), nil)
	em := e.Decide(Frame{Index: 1, At: t0, Data: bytes.Clone(f)})
	last := 14 + 20 + 8 + 99
	if em[0].Data[last] != 0xff || !bytes.Equal(em[0].Data[last+1:], []byte{0xee, 0xee, 0xee, 0xee}) {
		t.Fatalf("corrupt on a padded frame: %x", em[0].Data[last:])
	}
	e.SetRules(rules(t, "rules:\n  - {name: m, mtu: 80, icmp_from: 192.0.2.254}\n"))
	var whole []byte
	for _, x := range e.Decide(Frame{Index: 2, At: t0, Data: bytes.Clone(f)}) {
		ip := x.Data[14:]
		if tot := int(binary.BigEndian.Uint16(ip[2:4])); tot != len(ip) || tot > 80 {
			t.Fatalf("fragment of %d octets in a frame carrying %d", tot, len(ip))
		}
		whole = append(whole, ip[20:]...)
	}
	if !bytes.Equal(whole, f[34:len(f)-4]) {
		t.Fatal("fragments do not make the packet again (padding included?)")
	}
}

// GDOI fields: a GROUPKEY-PUSH is matched by its SEQ, in clear and, with
// the KEK from a key log, encrypted; without the key it does not match.
func TestMatchPushBySEQ(t *testing.T) {
	var push []byte
	for _, m := range handbuilt.Messages() {
		if h, _, err := isakmp.ParseHeader(m.Bytes); err == nil && h.Exchange == isakmp.ExchangeGroupkeyPush {
			push = m.Bytes
		}
	}
	if push == nil {
		t.Fatal("no GROUPKEY-PUSH among the hand-built messages")
	}
	plain := decodePacket(t, push)
	if plain.ISAKMP == nil || plain.ISAKMP.SEQ == nil {
		t.Fatalf("hand-built PUSH has no SEQ: %s", plain.String())
	}
	seq := *plain.ISAKMP.SEQ
	y := "rules:\n  - {name: p, match: {exchange: groupkey-push, seq: " + itoa(seq) + "}, drop: true}\n"
	e := NewEngine(rules(t, y), nil)
	if em := e.Decide(Frame{Index: 1, At: t0, Data: udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, push)}); len(em) != 0 {
		t.Fatal("clear PUSH with the SEQ not dropped")
	}
	other := "rules:\n  - {name: p, match: {exchange: groupkey-push, seq: " + itoa(seq+1) + "}, drop: true}\n"
	e.SetRules(rules(t, other))
	if em := e.Decide(Frame{Index: 2, At: t0, Data: udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, push)}); len(em) != 1 {
		t.Fatal("PUSH with another SEQ dropped")
	}

	// Encrypted under a KEK (AES-CBC, the static IV of RFC 6407 §4.2.1).
	key, iv := []byte("kek-key-kek-key-kek-key-kek-key!"), []byte("static-kek-iv-16")
	enc := encryptPush(t, push, key, iv)
	e = NewEngine(rules(t, y), nil)
	if em := e.Decide(Frame{Index: 1, At: t0, Data: udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, enc)}); len(em) != 1 {
		t.Fatal("encrypted PUSH matched without its key")
	}
	h, _, _ := isakmp.ParseHeader(push)
	k := pcap.KEKKeys{SPI: h.Cookies(), Enc: "aes-cbc", Key: key, IV: iv}
	if err := e.AddKeys(k.Line() + "\n"); err != nil {
		t.Fatal(err)
	}
	if em := e.Decide(Frame{Index: 2, At: t0, Data: udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, enc)}); len(em) != 0 {
		t.Fatal("encrypted PUSH with its KEK known not matched by SEQ")
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// decodePacket decodes one ISAKMP message as the engine's decoder does.
func decodePacket(t *testing.T, msg []byte) pcap.Packet {
	t.Helper()
	return pcap.NewStream(nil).Decode("t", t0, udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, msg))
}

// encryptPush encrypts a plaintext PUSH's body under key and iv and sets
// its E flag, as a KS does.
func encryptPush(t *testing.T, msg, key, iv []byte) []byte {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	body := msg[28:]
	padded := append(bytes.Clone(body), make([]byte, (16-len(body)%16)%16)...)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(padded, padded)
	out := append(bytes.Clone(msg[:28]), padded...)
	out[19] |= 1 // E
	binary.BigEndian.PutUint32(out[24:28], uint32(len(out)))
	return out
}

func TestRulesAreChecked(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"rules:\n  - {name: a, dely: 1ms}\n", `unknown key "rules[0].dely"`},
		{"rules:\n  - {drop: true}\n", "no name"},
		{"rules:\n  - {name: a, rate: fast}\n", "rate"},
		{"rules:\n  - {name: a, reorder: 0.5}\n", "reorder needs a delay"},
		{"rules:\n  - {name: a, mtu: 1300}\n", "icmp_from"},
		{"rules:\n  - {name: a, match: {exchange: quick-mode}}\n", "exchange"},
		{"rules:\n  - {name: a, from: eth3}\n", "from"},
		{"rules:\n  - {name: a, loss: {random: 1.5}}\n", "loss"},
		{"rules:\n  - {name: a, drop: true}\n  - {name: a, delay: 1ms}\n", "named twice"},
	} {
		if _, err := ParseRules([]byte(tc.yaml), "r.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
}
