package ks

import (
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// phase1 runs main mode between a GM at peer and the KS and returns the
// GM's SA.
func (k *testKS) phase1(t *testing.T, peer netip.AddrPort) *ikev1.SA {
	t.Helper()
	ch := k.peer(peer)
	suite, _ := ikev1.ParseSuite("aes128", "sha256", 19, 1200*time.Second)
	cfg := &ikev1.Config{
		Suites: []ikev1.Suite{suite}, DOI: isakmp.DOIGDOI, LocalID: isakmp.NewAddrID(peer.Addr()),
		Auth: ikev1.PSKAuth(func(netip.Addr) ([]byte, bool) { return []byte("lab-secret"), true }),
	}
	ini, err := ikev1.NewInitiator(cfg, peer, testnet.KS(1))
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := ini.Start()
	for err == nil && ini.SA() == nil {
		k.srv.HandlePacket(peer, pkt)
		select {
		case r := <-ch:
			pkt, err = ini.Handle(r)
		case <-time.After(5 * time.Second):
			t.Fatal("main mode: no reply")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return ini.SA()
}

// reply returns what the KS sent to peer in answer to pkt, nil if nothing.
func (k *testKS) reply(peer netip.AddrPort, pkt []byte) []byte {
	ch := k.peer(peer)
	k.srv.HandlePacket(peer, pkt)
	select {
	case r := <-ch:
		return r
	default: // HandlePacket sends before it returns
		return nil
	}
}

func TestRestartedKSAnswersInvalidCookie(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	cfg := ksConfig(t, 19, "")
	gm := testnet.GM(1)
	sa := newTestKSAt(t, cfg, now).phase1(t, gm)

	// The KS restarts: the GM's PULL on its old SA gets INVALID-COOKIE
	// with the SA's cookies, no larger than the PULL.
	k := newTestKSAt(t, cfg, now)
	pull := gdoi.NewInitiator(sa, 1234).Start()
	r := k.reply(gm, pull)
	if r == nil {
		t.Fatal("no answer to a PULL on an unknown SA")
	}
	n, ok := ikev1.ParseNotify(r)
	h, _, _ := isakmp.ParseHeader(r)
	if !ok || n.MessageType != isakmp.NotifyInvalidCookie || h.Cookies() != sa.Cookies() || len(r) > len(pull) {
		t.Fatalf("answer %x: %+v, cookies %x, %d octets for a %d-octet PULL", r, n, h.Cookies(), len(r), len(pull))
	}

	// At most one a second per source address.
	if r := k.reply(gm, pull); r != nil {
		t.Error("a second INVALID-COOKIE within the second")
	}
	other := testnet.GM(2)
	if r := k.reply(other, pull); r == nil {
		t.Error("another source got no INVALID-COOKIE")
	}
	clock = clock.Add(time.Second)
	if r := k.reply(gm, pull); r == nil {
		t.Error("no INVALID-COOKIE a second later")
	}

	// A protected Informational (DPD) on the old SA is answered too; a
	// plaintext one never is, nor a message shorter than the answer.
	clock = clock.Add(time.Second)
	if r := k.reply(gm, sa.Notify(isakmp.NotifyDPDRUThere, nil, []byte{0, 0, 0, 1})); r == nil {
		t.Error("no INVALID-COOKIE for a protected Informational on an unknown SA")
	}
	clock = clock.Add(time.Second)
	if r := k.reply(gm, ikev1.InvalidCookie(h)); r != nil {
		t.Errorf("answered a plaintext notification: %x", r)
	}
	short := isakmp.Header{ICookie: sa.ICookie, RCookie: sa.RCookie, Exchange: isakmp.ExchangeGroupkeyPull, MessageID: 7}
	if r := k.reply(gm, (&isakmp.Message{Header: short}).Append(nil)); r != nil {
		t.Errorf("answered a %d-octet message with %d octets", isakmp.HeaderLen, len(r))
	}
	c := k.srv.Counters()
	if c["invalid_cookie_sent"] != 4 || c["invalid_cookie_rate_limited"] != 1 || c["invalid_cookie_too_large"] != 1 {
		t.Errorf("counters %v", c)
	}
}
