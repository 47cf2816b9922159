package ks

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// drain discards the datagrams the KS has sent to p so far (a GM ignores
// the answers to message 1s others sent in its name).
func (k *testKS) drain(p netip.AddrPort) { k.net.Drain(p) }

// spoofDuring makes register send n spoofed message 1s with distinct
// CKY-Is before each datagram of its own, per at a time, from src(i).
func (k *testKS) spoofDuring(t *testing.T, total, per int, src func(i int) netip.AddrPort) *int {
	m1 := mm1(t)
	sent := new(int)
	k.interleave = func() {
		for range min(per, total-*sent) {
			p := src(*sent)
			k.srv.HandlePacket(p, withCookies(m1, 0x5000000+uint64(*sent), 0))
			*sent++
			if k.net.Waiting(p) > 32 {
				k.drain(p)
			}
		}
		k.drain(testnet.GM(2))
	}
	return sent
}

// cookieState is the stateless-cookie state beyond the half-open table:
// the SA bodies cached and the pinned ones.
func (k *testKS) cookieState() (cached, pinned int) {
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	return k.srv.cookies.cached(), k.srv.cookies.pinned
}

// (a) An off-path attacker sends 50,000 message 1s in gm2's name (its
// address and port, which the KS has a key for), interleaved with gm2's
// own registration: gm2 registers at its first try, through a stateless
// cookie, and the KS's state stays within the source's cap.
func TestSpoofedGMRegisters(t *testing.T) {
	k := newTestKS(t, keyedConfig(t, ""))
	sent := k.spoofDuring(t, 50000, 10000, func(int) netip.AddrPort { return testnet.GM(2) })
	if _, err := k.register(testnet.GM(2), "gm2-secret", 19, 1234); err != nil {
		t.Fatalf("gm2 under the spoofed flood: %v", err)
	}
	if *sent != 50000 {
		t.Fatalf("%d spoofed message 1s sent, want 50,000 (register sent too few datagrams)", *sent)
	}
	per := config.LimitDefaults.HalfOpenPerSource
	mms, open, cached, sas, _ := k.state()
	if open > per || mms > per+1 || cached > 2 || sas != 1 {
		t.Errorf("state: %d exchanges, %d half open, %d SA bodies, %d SAs; want at most %d, %d, 2 and 1", mms, open, cached, sas, per+1, per)
	}
	if k.count("ike_cookie_verified") != 1 || k.count("ike_half_open_replaced") != 1 {
		t.Errorf("ike_cookie_verified %d, ike_half_open_replaced %d: gm2 should come through a cookie, in a spoofed exchange's place",
			k.count("ike_cookie_verified"), k.count("ike_half_open_replaced"))
	}
	if got := k.count("ike_cookie_challenge"); got < uint64(50000-2*per) {
		t.Errorf("ike_cookie_challenge %d", got)
	}
	if dh := k.count("ike_dh_computed"); dh != 1 {
		t.Errorf("%d DH computations, want gm2's one", dh)
	}
	if m := k.srv.Members(); len(m) != 1 {
		t.Errorf("members %+v", m)
	}
}

// (b) The same under global pressure: 50,000 message 1s from 1,000
// spoofed addresses, gm2's among them, under a wildcard key.
func TestSpoofedGMRegistersUnderPressure(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	sent := k.spoofDuring(t, 50000, 10000, func(i int) netip.AddrPort {
		if i%1000 == 0 {
			return testnet.GM(2)
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i % 1000 >> 8), byte(i % 1000)}), 500)
	})
	if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
		t.Fatalf("gm2 under the spoofed flood: %v", err)
	}
	if *sent != 50000 {
		t.Fatalf("%d spoofed message 1s sent", *sent)
	}
	l := config.LimitDefaults
	mms, open, cached, sas, _ := k.state()
	if open > l.CookieThreshold+1 || mms > l.CookieThreshold+1 || cached > 2 || sas != 1 {
		t.Errorf("state: %d exchanges, %d half open, %d SA bodies, %d SAs; want at most %d, %d, 2 and 1", mms, open, cached, sas, l.CookieThreshold+1, l.CookieThreshold+1)
	}
	if k.count("ike_cookie_verified") != 1 || k.count("ike_dh_computed") != 1 {
		t.Errorf("ike_cookie_verified %d, DH %d", k.count("ike_cookie_verified"), k.count("ike_dh_computed"))
	}
	if ev := k.events("IKE_COOKIE_CHALLENGE"); len(ev) != 1 || ev[0]["scope"] != "KS" {
		t.Errorf("IKE_COOKIE_CHALLENGE events %v", ev)
	}
}

// mm2 sends a GM's message 1 from src and returns the KS's message 2
// and the message 3 the GM answers it with.
func (k *testKS) mm2(t *testing.T, ini *ikev1.Initiator, src netip.AddrPort) (m1, m2, m3 []byte) {
	t.Helper()
	ch := k.peer(src)
	m1, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	k.srv.HandlePacket(src, m1)
	select {
	case m2 = <-ch:
	default:
		t.Fatal("no message 2")
	}
	m3, err = ini.Handle(m2)
	if err != nil {
		t.Fatal(err)
	}
	return m1, m2, m3
}

func gmInitiator(t *testing.T, src netip.AddrPort, psk string, life time.Duration) *ikev1.Initiator {
	t.Helper()
	suite, _ := ikev1.ParseSuite("aes128", "sha256", 19, life)
	ini, err := ikev1.NewInitiator(&ikev1.Config{Suites: []ikev1.Suite{suite}, DOI: isakmp.DOIGDOI,
		LocalID: isakmp.NewAddrID(src.Addr()), Auth: ikev1.StaticPSK([]byte(psk))}, src, testnet.KS(1))
	if err != nil {
		t.Fatal(err)
	}
	return ini
}

// (c) Message 3s whose cookie does not verify (made up, another source's
// or port's, its flags changed, or two windows old) create nothing and
// compute no Diffie-Hellman; the genuine one does.
func TestForgedMessage3(t *testing.T) {
	c := newClock()
	k := newTestKSAt(t, keyedConfig(t, "limits: {cookie_threshold: 0}\n"), c.Now)
	ini := gmInitiator(t, testnet.GM(1), "gm1-secret", 1200*time.Second)
	_, m2, m3 := k.mm2(t, ini, testnet.GM(1))
	h, _, _ := isakmp.ParseHeader(m2)
	if mms, _, _, _, _ := k.state(); mms != 0 {
		t.Fatalf("%d exchanges after a message 1 answered with a cookie", mms)
	}
	flipped := bytes.Clone(m3)
	flipped[9] ^= flagDPD
	otherPort := netip.AddrPortFrom(testnet.GM(1).Addr(), 500)
	for _, tc := range []struct {
		name string
		from netip.AddrPort
		pkt  []byte
	}{
		{"made up", testnet.GM(2), withCookies(m3, 77, 0x1234)},
		{"made up, slot of a cached body", testnet.GM(1), withCookies(m3, 77, uint64(h.RCookie[0])<<56|0x1234)},
		{"another source's", testnet.GM(2), m3},
		{"another port's", otherPort, m3},
		{"DPD flag changed", testnet.GM(1), flipped},
	} {
		k.peer(tc.from)
		before := k.count("ike_unknown_cookies")
		k.srv.HandlePacket(tc.from, tc.pkt)
		if mms, open, _, _, _ := k.state(); mms != 0 || open != 0 {
			t.Errorf("%s: %d exchanges, %d half open", tc.name, mms, open)
		}
		if k.count("ike_unknown_cookies") != before+1 {
			t.Errorf("%s: not counted as an unknown cookie", tc.name)
		}
		if n := k.net.Waiting(tc.from); n != 0 {
			t.Errorf("%s: %d replies", tc.name, n)
		}
	}
	// Two windows on, the genuine cookie has expired.
	c.Advance(2*config.LimitDefaults.HalfOpenTimeout + time.Second)
	k.srv.HandlePacket(testnet.GM(1), m3)
	if mms, _, _, _, _ := k.state(); mms != 0 || k.count("ike_unknown_cookies") != 6 {
		t.Errorf("expired cookie: %d exchanges, ike_unknown_cookies %d", mms, k.count("ike_unknown_cookies"))
	}
	time.Sleep(50 * time.Millisecond) // a worker would have started
	if dh := k.count("ike_dh_computed"); dh != 0 {
		t.Fatalf("%d DH computations for forged message 3s", dh)
	}
	// The genuine message 3 in time does.
	ini = gmInitiator(t, testnet.GM(1), "gm1-secret", 1200*time.Second)
	_, _, m3 = k.mm2(t, ini, testnet.GM(1))
	k.srv.HandlePacket(testnet.GM(1), m3)
	waitFor(t, func() bool { return k.count("ike_dh_computed") == 1 })
	if mms, open, _, _, _ := k.state(); mms != 1 || open != 1 || k.count("ike_cookie_verified") != 1 {
		t.Errorf("genuine message 3: %d exchanges, %d half open, ike_cookie_verified %d", mms, open, k.count("ike_cookie_verified"))
	}
}

// (d) A retransmitted message 1 gets the same message 2, keeping nothing
// either time, and the exchange goes on from it.
func TestCookieRetransmittedMessage1(t *testing.T) {
	c := newClock() // at the start of a window
	k := newTestKSAt(t, keyedConfig(t, ""), c.Now)
	m := mm1(t)
	for i := range config.LimitDefaults.HalfOpenPerSource {
		k.srv.HandlePacket(testnet.GM(2), withCookies(m, uint64(i+1), 0)) // gm2's source at its cap
	}
	mms0, _, _, _, _ := k.state()
	ini := gmInitiator(t, testnet.GM(2), "gm2-secret", 1200*time.Second)
	k.drain(testnet.GM(2))
	m1, m2, m3 := k.mm2(t, ini, testnet.GM(2))
	c.Advance(time.Second)
	ch := k.peer(testnet.GM(2))
	k.srv.HandlePacket(testnet.GM(2), m1)
	again := <-ch
	if !bytes.Equal(again, m2) {
		t.Fatalf("retransmitted message 1 got another message 2:\n%x\n%x", again, m2)
	}
	if mms, _, _, _, _ := k.state(); mms != mms0 {
		t.Errorf("%d exchanges after message 1 twice, want %d", mms, mms0)
	}
	if k.count("ike_cookie_challenge") != 2 {
		t.Errorf("ike_cookie_challenge %d, want 2", k.count("ike_cookie_challenge"))
	}
	k.srv.HandlePacket(testnet.GM(2), m3)
	select {
	case m4 := <-ch:
		if _, err := ini.Handle(m4); err != nil {
			t.Fatalf("message 4: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message 4")
	}
}

// (e) 10,000 distinct SA bodies from spoofed sources do not evict a body
// pinned by an established SA; a GM with it registers through a cookie.
func TestSACachePollution(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	if cached, pinned := k.cookieState(); cached != 1 || pinned != 1 {
		t.Fatalf("after gm1's registration: %d SA bodies, %d pinned; want 1, 1", cached, pinned)
	}
	gm1Body := k.pinnedBodies()[0]
	for i := range 10000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 500)
		ini := gmInitiator(t, src, "x", time.Duration(1201+i)*time.Second) // gm1's is 1200 s
		m1, err := ini.Start()
		if err != nil {
			t.Fatal(err)
		}
		k.srv.HandlePacket(src, m1)
	}
	l := config.LimitDefaults
	cached, pinned := k.cookieState()
	if cached != saCacheSlots || pinned != 1 {
		t.Errorf("after the flood: %d SA bodies, %d pinned; want %d, 1", cached, pinned, saCacheSlots)
	}
	// The first cookie_threshold got exchanges; the others filled the
	// cache's free slots, then replaced one another.
	if got, want := k.count("ike_cookie_sa_evicted"), uint64(10000-l.CookieThreshold-(saCacheSlots-1)); got != want {
		t.Errorf("ike_cookie_sa_evicted %d, want %d", got, want)
	}
	if p := k.pinnedBodies(); len(p) != 1 || !bytes.Equal(p[0], gm1Body) {
		t.Fatal("gm1's SA body is no longer pinned")
	}
	if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
		t.Fatalf("gm2 after the pollution: %v", err)
	}
	if k.count("ike_cookie_verified") != 1 || k.count("ike_cookie_sa_cache_miss") != 0 {
		t.Errorf("ike_cookie_verified %d, ike_cookie_sa_cache_miss %d", k.count("ike_cookie_verified"), k.count("ike_cookie_sa_cache_miss"))
	}
}

func (k *testKS) pinnedBodies() [][]byte {
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	var out [][]byte
	for _, e := range k.srv.cookies.slots {
		if e.pinned {
			out = append(out, e.body)
		}
	}
	return out
}

// A GM whose SA body is not pinned and is evicted between its message 1
// and message 3 is told apart from a forger (ike_cookie_sa_cache_miss),
// gets nothing, and registers on its next try.
func TestSACacheMiss(t *testing.T) {
	k := newTestKS(t, keyedConfig(t, "limits: {cookie_threshold: 0}\n"))
	ini := gmInitiator(t, testnet.GM(1), "gm1-secret", 1200*time.Second)
	_, _, m3 := k.mm2(t, ini, testnet.GM(1))
	for i := range saCacheSlots {
		src := netip.AddrPortFrom(testnet.GM(2).Addr(), uint16(1000+i))
		m1, _ := gmInitiator(t, src, "x", time.Duration(i+1)*time.Second).Start()
		k.srv.HandlePacket(src, m1)
	}
	k.srv.HandlePacket(testnet.GM(1), m3)
	if k.count("ike_cookie_sa_cache_miss") != 1 || k.count("ike_unknown_cookies") != 0 {
		t.Errorf("ike_cookie_sa_cache_miss %d, ike_unknown_cookies %d", k.count("ike_cookie_sa_cache_miss"), k.count("ike_unknown_cookies"))
	}
	if mms, _, _, _, _ := k.state(); mms != 0 {
		t.Errorf("%d exchanges", mms)
	}
	if _, err := k.register(testnet.GM(1), "gm1-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
}

// At most maxPinned SA bodies are pinned: past that the least recently
// used loses its pin, and a new body still finds a slot.
func TestSACachePinLimit(t *testing.T) {
	j := newCookieJar(time.Second)
	body := func(i int) ikev1.HalfOpen {
		return ikev1.HalfOpen{SAiB: []byte{byte(i >> 8), byte(i)}}
	}
	for i := range maxPinned + 10 {
		j.pin(body(i))
	}
	if j.pinned != maxPinned || j.cached() != maxPinned+10 {
		t.Fatalf("%d pinned, %d cached", j.pinned, j.cached())
	}
	// The first ten lost their pins; the newest keep theirs.
	for i, want := range map[int]bool{0: false, 9: false, 10: true, maxPinned + 9: true} {
		if got := j.slots[j.bySum[sha256.Sum256(body(i).SAiB)]].pinned; got != want {
			t.Errorf("body %d pinned %v, want %v", i, got, want)
		}
	}
	for i := range 2 * saCacheSlots {
		j.cache(body(1000 + i))
	}
	if j.pinned != maxPinned || j.cached() != saCacheSlots {
		t.Errorf("after new bodies: %d pinned, %d cached", j.pinned, j.cached())
	}
	if _, ok := j.bySum[sha256.Sum256(body(1000+2*saCacheSlots-1).SAiB)]; !ok {
		t.Error("the newest body is not cached")
	}
	// A body too large for a cookie is neither cached nor pinned.
	j.pin(ikev1.HalfOpen{SAiB: make([]byte, maxCookieSA+1)})
	if j.cached() != saCacheSlots || j.pinned != maxPinned {
		t.Error("a body too large was kept")
	}
}
