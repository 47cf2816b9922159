package ks

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// keys are what a KS must never lose to bad input: its groups' KEK and TEK
// SPIs and rekey sequence numbers, and its members.
func keys(s *Server) []string {
	var out []string
	for _, g := range s.GDOI().Groups {
		if g.KEK != nil {
			out = append(out, "kek "+g.KEK.SPI)
		}
		for _, t := range g.TEKs {
			out = append(out, "tek "+t.SPI)
		}
		out = append(out, fmt.Sprint("seq ", g.KS.Seq))
	}
	for _, m := range s.Members() {
		out = append(out, "gm "+m.Address)
	}
	return out
}

// A panic while the KS handles a datagram (injected in its send of the
// reply, under its lock) is recovered outside it, as the daemon's receive
// loop does; the KS is not left locked and registers the next GM.
func TestPanicInHandlePacketLeavesServerUnlocked(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	send := k.srv.opt.Send
	var armed atomic.Bool
	k.srv.opt.Send = func(to netip.AddrPort, b []byte) {
		if armed.Swap(false) {
			panic("injected: a send under the Server's lock")
		}
		send(to, b)
	}
	suite, _ := ikev1.ParseSuite("aes128", "sha256", 19, time.Hour)
	peer := testnet.GM(1)
	ini, _ := ikev1.NewInitiator(&ikev1.Config{Suites: []ikev1.Suite{suite}, Auth: ikev1.StaticPSK([]byte("lab-secret")),
		LocalID: isakmp.NewAddrID(peer.Addr())}, peer, testnet.KS(1))
	mm1, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	var c events.Counters
	armed.Store(true)
	func() {
		defer events.Recover(k.ev, func() { c.Inc(counter.InternalError) }, "gdoi", peer.String(), mm1)
		k.srv.HandlePacket(peer, mm1)
	}()
	if c.Get(counter.InternalError) != 1 {
		t.Fatal("the injected panic did not happen")
	}
	done := make(chan error, 1)
	go func() {
		_, err := k.register(testnet.GM(2), "lab-secret", 19, 1234)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("registration after the recovered panic: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Server's lock is still held after the recovered panic")
	}
}

// FuzzHandlePacket feeds arbitrary datagrams to a KS with a registered GM,
// from a stranger and from the GM's own address, each also as a
// GROUPKEY-PULL, an acknowledgement and an Informational: none may panic
// and none changes the keys, the rekey sequence or the members (the KS
// counts and logs them; TestRegistrationRefusals shows it keeps serving).
// Seeded with main mode message 1, a bare ISAKMP header (PULL, ACK,
// Informational), a header whose length runs past the datagram, the
// 28-octet truncated ESP packet and the empty datagram.
func FuzzHandlePacket(f *testing.F) {
	k := newTestKS(f, ksConfig(f, 19, ""))
	gm := testnet.GM(1)
	if _, err := k.register(gm, "lab-secret", 19, 1234); err != nil {
		f.Fatal(err)
	}
	want := keys(k.srv)
	suite, _ := ikev1.ParseSuite("aes128", "sha256", 19, time.Hour)
	ini, _ := ikev1.NewInitiator(&ikev1.Config{Suites: []ikev1.Suite{suite}, Auth: ikev1.StaticPSK([]byte("x")),
		LocalID: isakmp.NewAddrID(testnet.Stranger().Addr())}, testnet.Stranger(), testnet.KS(1))
	mm1, _ := ini.Start()
	f.Add(mm1)
	f.Add(mm1[:isakmp.HeaderLen])
	f.Add(mm1[:len(mm1)-1])
	for _, x := range []isakmp.ExchangeType{isakmp.ExchangeGroupkeyPull, isakmp.ExchangeGroupkeyPushAck, isakmp.ExchangeInformational} {
		h := make([]byte, isakmp.HeaderLen)
		copy(h, mm1)
		h[18] = byte(x)
		h[19] = 1 // encrypted
		binary.BigEndian.PutUint32(h[24:], isakmp.HeaderLen)
		f.Add(h)
		long := append(h[:isakmp.HeaderLen:isakmp.HeaderLen], 0, 0, 0, 0)
		binary.BigEndian.PutUint32(long[24:], 0xffffffff)
		f.Add(long)
	}
	esp := make([]byte, 28)
	esp[0], esp[9] = 0x45, 50
	binary.BigEndian.PutUint16(esp[2:], 28)
	f.Add(esp)
	f.Add([]byte{})
	stranger := testnet.Stranger()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, from := range []netip.AddrPort{stranger, gm} {
			k.srv.HandlePacket(from, pkt)
			if len(pkt) >= isakmp.HeaderLen {
				b := bytes.Clone(pkt)
				for _, x := range []isakmp.ExchangeType{isakmp.ExchangeGroupkeyPull, isakmp.ExchangeInformational, isakmp.ExchangeGroupkeyPushAck} {
					b[18] = byte(x)
					k.srv.HandlePacket(from, b)
				}
			}
		}
		if got := keys(k.srv); !slices.Equal(got, want) {
			t.Fatalf("keys or members changed: %v, were %v", got, want)
		}
	})
}
