package ks

import (
	"bytes"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"

	"net/netip"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// ackKS is rekeyKS whose group asks for acknowledgements as ack says,
// with the GMs registered under a KEK made for it.
func ackKS(t *testing.T, ack string, gms int) (*testKS, *clock.Fake, []*gmEnd) {
	t.Helper()
	k, clk, ends := rekeyKS(t, "", 0)
	k.srv.cfg.Groups[0].Rekey.Ack = ack
	k.srv.mu.Lock()
	k.srv.groups[1234].kek = nil
	k.srv.mu.Unlock()
	k.srv.Tick()
	for i := range gms {
		end := &gmEnd{addr: gmAddrN(i)}
		p, err := k.register(end.addr, "lab-secret", 19, 1234)
		if err != nil {
			t.Fatal(err)
		}
		end.ch, end.policy = k.peer(end.addr), p
		ends = append(ends, end)
	}
	return k, clk, ends
}

// TestAckTypes: rekey.ack chooses the KEK_ACK_REQUESTED value the GMs get
// at registration and the HASH the KS checks.
func TestAckTypes(t *testing.T) {
	for ack, want := range map[string]gdoiwire.AckType{config.AckSHA256: gdoiwire.AckKEKSHA256, config.AckSHA512: gdoiwire.AckKEKSHA512, config.AckNone: 0} {
		k, clk, gms := ackKS(t, ack, 1)
		g := gms[0]
		if g.policy.KEK.Ack != want {
			t.Fatalf("%s: KEK_ACK_REQUESTED %d, want %d", ack, g.policy.KEK.Ack, want)
		}
		p, _ := advanceUntilPush(t, k, clk, g, 3600*time.Second)
		if g.policy.KEK.Ack != want {
			t.Fatalf("%s: the PUSH's SAK asks for %d", ack, g.policy.KEK.Ack)
		}
		if want == 0 {
			// A GM may acknowledge anyway (as if asked for SHA-256): the
			// KS discards it, counted and logged, and retransmits to all.
			kek := *g.policy.KEK
			kek.Ack = gdoiwire.AckKEKSHA256
			k.srv.HandlePacket(g.addr, sealAck(t, &kek, p.Seq, g))
			clk.Advance(10 * time.Second)
			k.srv.Tick()
			if c := k.srv.Counters(); c["ack_unrequested"] != 1 || c["rekey_acks_received"] != 0 {
				t.Fatalf("%s: counters %v", ack, c)
			}
			if sp := g.pushes(t); len(sp) != 1 || sp[0].Seq != p.Seq+1 {
				t.Fatalf("%s: no blind retransmission: %+v", ack, sp)
			}
			continue
		}
		g.ack(t, k, p)
		if c := k.srv.Counters(); c["rekey_acks_received"] != 1 || c["ack_bad_hash"] != 0 {
			t.Fatalf("%s: counters %v", ack, c)
		}
	}
}

// TestAckDuplicateAndForged: an acknowledgement already taken is dropped
// before its HASH is computed (a copy with a broken HASH counts as a
// duplicate, not as a bad HASH); a new one with a broken HASH is counted
// and logged and leaves the GM pending.
func TestAckDuplicateAndForged(t *testing.T) {
	k, clk, gms := ackKS(t, config.AckSHA256, 1)
	g := gms[0]
	p, _ := advanceUntilPush(t, k, clk, g, 3600*time.Second)
	kek := g.policy.KEK
	pkt := sealAck(t, kek, p.Seq, g)
	forged := bytes.Clone(pkt)
	forged[28+4] ^= 0xff // the HASH's first octet
	k.srv.HandlePacket(g.addr, forged)
	c := k.srv.Counters()
	if c["ack_bad_hash"] != 1 || c["rekey_acks_received"] != 0 {
		t.Fatalf("forged ack: counters %v", c)
	}
	var logged bool
	for _, e := range k.ev.Since(0) {
		logged = logged || (e.Name == "KS_ACK_HASH_FAIL" && e.Fields["ip"] == g.addr.Addr().String())
	}
	if !logged {
		t.Fatal("no KS_ACK_HASH_FAIL")
	}
	k.srv.HandlePacket(g.addr, pkt)
	k.srv.HandlePacket(g.addr, pkt)
	k.srv.HandlePacket(g.addr, forged)
	c = k.srv.Counters()
	if c["rekey_acks_received"] != 1 || c["acks_duplicate"] != 2 || c["ack_bad_hash"] != 1 {
		t.Fatalf("duplicates: counters %v", c)
	}
	k.srv.HandlePacket(g.addr, pkt[:40])
	if c := k.srv.Counters(); c["ack_invalid"] != 1 {
		t.Fatalf("truncated ack: counters %v", c)
	}
}

// TestAckMissingAfter10s: with retransmissions 1 s apart, a GM that has not
// acknowledged is counted missing only 10 s after the last transmission.
func TestAckMissingAfter10s(t *testing.T) {
	k, clk, gms := ackKS(t, config.AckSHA256, 1)
	k.srv.cfg.Groups[0].Rekey.RetransmitInterval = time.Second
	g := gms[0]
	advanceUntilPush(t, k, clk, g, 3600*time.Second)
	for range 2 {
		clk.Advance(time.Second)
		k.srv.Tick()
	}
	if n := len(g.pushes(t)); n != 2 {
		t.Fatalf("%d retransmissions, want 2", n)
	}
	for i := 1; i < 10; i++ {
		clk.Advance(time.Second)
		k.srv.Tick()
		if c := k.srv.Counters(); c["rekey_acks_missed"] != 0 {
			t.Fatalf("missing %d s after the last transmission", i)
		}
	}
	if n := len(g.ch); n != 0 {
		t.Fatalf("%d transmissions past the retransmission count", n)
	}
	clk.Advance(time.Second)
	k.srv.Tick()
	if c := k.srv.Counters(); c["rekey_acks_missed"] != 1 {
		t.Fatalf("not missing 10 s after the last transmission: %v", c)
	}
}

func gmAddrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)}), 848)
}

func sealAck(t *testing.T, kek *gdoi.KEK, seq uint32, g *gmEnd) []byte {
	t.Helper()
	pkt, err := gdoi.SealAck(kek, seq, g.addr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestReminderRekeys: with rekey.retransmit.periodic (RK-31) a GM that
// has not acknowledged keeps getting the PUSH every interval after the
// retransmissions, each with the next sequence number, and stops getting
// it once it acknowledges; a GM that acknowledged gets none.
func TestReminderRekeys(t *testing.T) {
	k, clk, gms := ackKS(t, config.AckSHA256, 2)
	k.srv.cfg.Groups[0].Rekey.RetransmitPeriodic = true
	quiet, loud := gms[0], gms[1]
	p, _ := advanceUntilPush(t, k, clk, quiet, 3600*time.Second)
	loudFirst := loud.pushes(t)
	if len(loudFirst) != 1 {
		t.Fatalf("gm2 got %d PUSHes", len(loudFirst))
	}
	loud.ack(t, k, loudFirst[0])
	var seqs []uint32
	for range 6 { // 2 retransmissions, then reminders
		clk.Advance(10 * time.Second)
		k.srv.Tick()
		for _, q := range quiet.pushes(t) {
			seqs = append(seqs, q.Seq)
		}
	}
	if len(seqs) != 6 || seqs[0] != p.Seq+1 || seqs[5] != p.Seq+6 {
		t.Fatalf("the silent GM got %v after seq %d, want a PUSH every 10 s with the next sequence number", seqs, p.Seq)
	}
	if n := len(loud.pushes(t)); n != 0 {
		t.Errorf("the GM that acknowledged got %d reminders", n)
	}
	if c := k.srv.Counters(); c["rekey_reminders"] != 4 || c["rekey_retransmits"] != 2 {
		t.Errorf("counters: reminders %d, retransmits %d; want 4 and 2", c["rekey_reminders"], c["rekey_retransmits"])
	}
	quiet.ack(t, k, &gdoi.Push{Seq: seqs[5]})
	clk.Advance(30 * time.Second)
	k.srv.Tick()
	if n := len(quiet.pushes(t)); n != 0 {
		t.Errorf("%d reminders after the GM acknowledged", n)
	}
}
