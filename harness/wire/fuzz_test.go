package wire

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/getlab/getlab/pcap/handbuilt"
)

// fuzzRules take every frame through every action that reads the frame:
// the GDOI decoder (exchange), the ESP fields, MTU (ICMP and fragments),
// corruption from both ends, duplication, delay and a hold.
const fuzzRules = `
seed: 1
rules:
  - {name: push, match: {exchange: groupkey-push, seq: 3}, drop: true}
  - {name: esp, match: {spi: 0x1e1e0001, esp_seq: 7}, hold: q}
  - {name: narrow, match: {proto: udp}, mtu: 96, icmp_from: 192.0.2.254, corrupt: {offset: -1}, duplicate: 0.5, delay: 1ms, jitter: 1ms}
  - {name: rest, corrupt: {offset: 9}, rate: 1mbit, queue: 4}
`

// Every frame the wire reads is hostile: whatever it is, deciding on it
// neither panics nor sends anything but whole frames on the two ports,
// none of an IPv4 packet past the MTU the rule clamps to.
func FuzzDecide(f *testing.F) {
	f.Add(udpFrame("192.0.2.11", "192.0.2.12", 1, 2, false, make([]byte, 200)))
	f.Add(udpFrame("192.0.2.11", "192.0.2.12", 1, 2, true, make([]byte, 200)))
	for _, m := range handbuilt.Messages() {
		f.Add(udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, m.Bytes))
	}
	esp := udpFrame("192.0.2.11", "192.0.2.12", 0, 0, false, make([]byte, 40))
	esp[14+9] = 50
	binary.BigEndian.PutUint32(esp[34:], 0x1e1e0001)
	binary.BigEndian.PutUint32(esp[38:], 7)
	f.Add(esp)
	frag := udpFrame("192.0.2.1", "192.0.2.12", 848, 848, false, make([]byte, 64))
	frag[14+6] = 0x20 // MF
	f.Add(frag)
	rules, err := ParseRules([]byte(fuzzRules), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		e := NewEngine(rules, func(Decision) {})
		for i, from := range []int{Eth1, Eth2, Eth1} {
			for _, em := range e.Decide(Frame{Index: uint64(i + 1), From: from, At: t0, Data: append([]byte(nil), frame...)}) {
				if em.Out != Eth1 && em.Out != Eth2 || em.At.Before(t0) || em.At.After(t0.Add(time.Second)) {
					t.Fatalf("emission on port %d at %v", em.Out, em.At.Sub(t0))
				}
				if v := parseView(em.Data); v.ipv4 && v.proto == 17 && len(v.ip) > 96 && len(em.Data) != len(frame) {
					t.Fatalf("a fragment of %d octets past the 96-octet MTU", len(v.ip))
				}
			}
		}
		e.Release("q", 0, t0)
		e.Discard("q")
	})
}
