package dataplane

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/internal/testnet"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// truncate cuts the ESP packet pkt (outer header, ESP) after body octets
// past its ESP header and fixes its total length and checksum: what an
// attacker who knows a live SPI sends.
func truncate(pkt []byte, body int) []byte {
	p := bytes.Clone(pkt[:ipv4.HeaderLen+espwire.HeaderLen+body])
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	ipv4.SetECN(p, ipv4.ECN(p)) // recompute the checksum
	return p
}

// An ESP packet with a live SPI cut anywhere from right after its header
// up to IV + ICV (the 28-octet packet that killed a GM among them) is
// dropped and counted as in_drop_short, logged as RECVD_PKT_TOO_SHORT,
// and costs no key.
func TestTruncatedESPIsDroppedAndKeysKept(t *testing.T) {
	for _, tr := range []string{"aes128gcm16", "aes256gcm16", "aes128-sha1", "aes256-sha256"} {
		_, a, b := pair(t, tr)
		ev := events.New(nil, "text", "info")
		b.e.opt.Events = ev
		good := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false))[0]
		sa := b.e.state.Load().bySPI[binary.BigEndian.Uint32(good[20:])]
		tf := sa.Transform
		if len(good) < ipv4.HeaderLen+espwire.HeaderLen+tf.IVLen()+tf.ICVLen()+1 {
			t.Fatalf("%s: sealed packet too short to cut", tr)
		}
		drops := 0
		for body := 0; body <= tf.IVLen()+tf.ICVLen(); body++ {
			pkt := truncate(good, body)
			if out := b.run(true, pkt); len(out) != 0 {
				t.Fatalf("%s: %d-octet body: emitted %d packets", tr, body, len(out))
			}
			drops++
			if got := b.e.Count(InDropShort); got != uint64(drops) {
				t.Fatalf("%s: %d-octet body: in_drop_short = %d, want %d (counters %v)", tr, body, got, drops, b.e.Counters())
			}
		}
		if b.e.Count(InternalErrors) != 0 || b.e.Count(DropMalformed) != 0 || b.e.Count(InDropAuth) != 0 {
			t.Fatalf("%s: counters %v", tr, b.e.Counters())
		}
		if n := b.e.Counters()["in_drop_short"]; n != uint64(drops) {
			t.Fatalf("%s: counter in_drop_short %d", tr, n)
		}
		evs := ev.Since(0)
		if len(evs) != 1 || evs[0].Name != "RECVD_PKT_TOO_SHORT" || evs[0].Fields["conn_id"] != hexSPI(sa.SPI) || evs[0].Fields["size"] != "28" {
			t.Fatalf("%s: events %+v, want one RECVD_PKT_TOO_SHORT for the 28-octet packet (once a second)", tr, evs)
		}
		if err := events.Check(evs[0].Name, flatten(evs[0].Fields)...); err != nil {
			t.Fatal(err)
		}
		if out := b.run(true, good); len(out) != 1 {
			t.Fatalf("%s: the good packet no longer decrypts", tr)
		}
	}
}

func flatten(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

// A worker whose packet handling panics (here the write-back, injected)
// recovers: the panic is counted as internal_error, logged once as
// INTERNAL_ERROR with the packet, and the next packets are processed.
func TestWorkerRecoversFromPanic(t *testing.T) {
	_, a, b := pair(t, "aes256gcm16")
	ev := events.New(nil, "text", "info")
	b.e.opt.Events = ev
	a.e.opt.Events = ev
	good := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false))[0]
	var got int
	emit := func(p []byte) error {
		if p[len(p)-1] == 0xee {
			panic("injected bug")
		}
		got++
		return nil
	}
	wb := b.e.NewWorker(emit, emit)
	wa := a.e.NewWorker(emit, emit)
	poison := udp(testnet.GM(2).Addr(), testnet.GM(1).Addr(), 1, 2, 10, false) // clear, no entry matches: written back
	poison[len(poison)-1] = 0xee
	for i := range 10 {
		buf := make([]byte, Headroom+len(good)+Tailroom)
		copy(buf[Headroom:], good)
		wb.Inbound(buf, Headroom, len(good))
		buf = make([]byte, Headroom+len(poison)+Tailroom)
		copy(buf[Headroom:], poison)
		wb.Inbound(buf, Headroom, len(poison))
		copy(buf[Headroom:], poison)
		wa.Outbound(buf, Headroom, len(poison))
		if got != i+1 {
			t.Fatalf("round %d: %d good packets out, want %d", i, got, i+1)
		}
	}
	if n := b.e.Count(InternalErrors); n != 10 || a.e.Count(InternalErrors) != 10 {
		t.Fatalf("internal_error %d (WAN) %d (LAN), want 10 each", n, a.e.Count(InternalErrors))
	}
	if n := b.e.Count(InDecrypted); n != 10 {
		t.Fatalf("decrypted %d", n)
	}
	evs := ev.Since(0)
	if len(evs) == 0 || evs[0].Name != "INTERNAL_ERROR" || evs[0].Fields["worker"] != "dataplane-wan" ||
		evs[0].Fields["reason"] != "injected bug" || !strings.HasPrefix(evs[0].Fields["packet"], "45") {
		t.Fatalf("events %+v", evs)
	}
	if ev.Counts()["INTERNAL_ERROR"] != 20 {
		t.Fatalf("INTERNAL_ERROR counted %d times", ev.Counts()["INTERNAL_ERROR"])
	}
}

// withOptions is udp's packet with a 60-octet header (40 octets of NOP
// options): what a LAN host may send.
func withOptions(p []byte) []byte {
	b := make([]byte, len(p)+40)
	copy(b, p[:20])
	for i := 20; i < 60; i++ {
		b[i] = 1 // NOP
	}
	copy(b[60:], p[20:])
	b[0] = 0x4f
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:], ipv4.Checksum(b[:60]))
	return b
}

// At a WAN MTU so small that a fragment could not carry its header (with
// options) and 8 octets of data, a packet is refused with an ICMP
// "fragmentation needed" instead of being cut into empty fragments (a loop
// that never ends) or past its header (a panic).
func TestTinyMTUWithOptionsDoesNotFragmentForever(t *testing.T) {
	for _, tr := range []string{"aes128-sha1", "aes256gcm16"} {
		_, a, _ := pair(t, tr)
		in := withOptions(udp(testnet.Host(1), testnet.Host(2), 1, 2, 300, false))
		for mtu := 68; mtu <= 200; mtu++ {
			a.e.SetMTU(mtu)
			for _, out := range a.run(false, in) {
				if ipv4.Protocol(out) == ipv4.ProtoESP && len(out) > mtu {
					t.Fatalf("%s: MTU %d: %d-octet ESP packet", tr, mtu, len(out))
				}
			}
			if n := a.e.Count(InternalErrors); n != 0 {
				t.Fatalf("%s: MTU %d: %d recovered panics", tr, mtu, n)
			}
		}
		if a.e.Count(OutDropTooBig) == 0 || a.e.Count(OutFragmented) == 0 {
			t.Fatalf("%s: counters %v: want both refusals at the smallest MTUs and fragments at the larger", tr, a.e.Counters())
		}
	}
}
