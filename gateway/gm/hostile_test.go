package gm_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A panic while the Member handles a datagram (injected in its send of the
// rekey acknowledgement, under its lock) is recovered outside it, as the
// daemon's receive loop does; the Member is not left locked and takes the
// next rekey.
func TestPanicInHandlePacketLeavesMemberUnlocked(t *testing.T) {
	l := newLab(t)
	l.panicNextSend.Store(true)
	l.nextRekey(900 * time.Second)
	if n := l.net.Panics(); n != 1 {
		t.Fatalf("%d panics recovered, want the injected one", n)
	}
	unlocked := make(chan snap, 1)
	go func() { unlocked <- l.status() }()
	var st snap
	select {
	case st = <-unlocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the Member's lock is still held after the recovered panic")
	}
	l.nextRekey(900 * time.Second)
	after := l.wait("the next rekey", func(s snap) bool { return s.Received > st.Received })
	if after.Acks == 0 || l.net.Panics() != 1 {
		t.Fatalf("after the next rekey: %+v, %d panics", after, l.net.Panics())
	}
}

// FuzzHandlePacket feeds arbitrary datagrams, as if from the KS, to a
// registered GM: none may panic, and none changes its keys (the KEK and
// TEKs it holds, the rekey sequence number). Seeded with a real rekey,
// truncated at several points, a bare ISAKMP header, the 28-octet
// truncated ESP packet and other corner cases.
func FuzzHandlePacket(f *testing.F) {
	l := newLab(f)
	l.nextRekey(900 * time.Second)
	want := l.wait("rekey", func(s snap) bool { return s.Received == 1 })
	l.mu.Lock()
	push := bytes.Clone(l.pushes[0])
	l.mu.Unlock()
	f.Add(push)
	for _, n := range []int{0, 1, isakmp.HeaderLen - 1, isakmp.HeaderLen, isakmp.HeaderLen + 4, len(push) / 2, len(push) - 1} {
		f.Add(push[:n])
	}
	long := bytes.Clone(push)
	binary.BigEndian.PutUint32(long[24:], 0xffffffff) // length field past the end
	f.Add(long)
	// IPv4 header, SPI, sequence: the packet that killed the data plane.
	esp := make([]byte, 28)
	esp[0], esp[9] = 0x45, 50
	binary.BigEndian.PutUint16(esp[2:], 28)
	f.Add(esp)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		l.gm.HandlePacket(testnet.KS(1), pkt)
		got := l.status()
		if got.KEK != want.KEK || !slices.Equal(got.TEKs, want.TEKs) || got.Seq != want.Seq {
			t.Fatalf("keys changed: %+v, were %+v", got, want)
		}
		if l.net.Panics() != 0 {
			t.Fatal("a panic was recovered")
		}
	})
}
