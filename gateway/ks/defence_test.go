package ks

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/exchangetest"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

var attacker = netip.MustParseAddrPort("192.0.2.66:500")

// keyedConfig is a KS with one pre-shared key per GM (gm1, gm2) instead of
// ksConfig's wildcard, and the given extra top-level YAML.
func keyedConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(keyedYAML+extra), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var keyedYAML = strings.Replace(testnet.KSYAML(19)+ksGroupYAML, "  pre_shared_keys: [{peer: 0.0.0.0, key: lab-secret}]\n", `  pre_shared_keys:
    - {peer: 192.0.2.11, key: gm1-secret}
    - {peer: 192.0.2.12, key: gm2-secret}
`, 1)

// newClock is a settable clock for a test KS.
func newClock() *clock.Fake { return clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) }

func (k *testKS) count(name string) uint64 { return k.srv.opt.Counters.Snapshot()[name] }

func (k *testKS) events(name string) []map[string]string {
	var out []map[string]string
	for _, e := range k.ev.Since(0) {
		if e.Name == name {
			out = append(out, e.Fields)
		}
	}
	return out
}

// state is how much main-mode and SA state the KS holds: exchanges,
// half-open ones, SA bodies cached for stateless cookies, phase-1 SAs and
// GROUPKEY-PULLs.
func (k *testKS) state() (mainModes, halfOpen, cached, sas, pulls int) {
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	for _, ps := range k.srv.pulls {
		pulls += len(ps)
	}
	return len(k.srv.mainModes), k.srv.halfOpen, k.srv.cookies.cached(), k.srv.p1.Len(), pulls
}

// mm1 is a main-mode message 1 (one ISAKMP proposal, group 19) whose CKY-I
// the flood helpers rewrite.
func mm1(t testing.TB) []byte {
	t.Helper()
	ini, err := ikev1.NewInitiator(initiatorConfig("x", isakmp.NewAddrID(attacker.Addr())), attacker, testnet.KS(1))
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

func initiatorConfig(psk string, id *isakmp.ID) *ikev1.Config {
	suite, _ := ikev1.ParseSuite("aes128", "sha256", 19, 1200*time.Second)
	return &ikev1.Config{Suites: []ikev1.Suite{suite}, DOI: isakmp.DOIGDOI, LocalID: id, Auth: ikev1.StaticPSK([]byte(psk))}
}

// mm3 is a well-formed message 3 (KE and nonce) of an exchange with
// another responder, for floods that patch in the KS's cookies.
func mm3(t testing.TB) []byte {
	t.Helper()
	ini, _ := ikev1.NewInitiator(initiatorConfig("x", isakmp.NewAddrID(attacker.Addr())), attacker, testnet.KS(1))
	r := ikev1.NewResponder(initiatorConfig("x", nil), testnet.KS(1), attacker)
	m1, _ := ini.Start()
	return exchangetest.Run(t, m1, r.Handle, ini.Handle)[2]
}

func withCookies(pkt []byte, icky, rcky uint64) []byte {
	b := append([]byte(nil), pkt...)
	binary.BigEndian.PutUint64(b[0:], icky)
	binary.BigEndian.PutUint64(b[8:], rcky)
	return b
}

// flood3 runs n exchanges from src up to message 3: message 1, the KS's
// message 2 (if it answers one), then message 3 with the KS's CKY-R (or a
// made-up one).
func (k *testKS) flood3(t testing.TB, src netip.AddrPort, n int, first uint64) {
	t.Helper()
	m1, m3 := mm1(t), mm3(t)
	ch := k.peer(src)
	for i := range n {
		icky := first + uint64(i)
		k.srv.HandlePacket(src, withCookies(m1, icky, 0))
		rcky := uint64(0xdead)
		for len(ch) > 0 {
			h, _, err := isakmp.ParseHeader(<-ch)
			if err == nil && h.Exchange == isakmp.ExchangeMainMode && binary.BigEndian.Uint64(h.ICookie[:]) == icky {
				rcky = binary.BigEndian.Uint64(h.RCookie[:])
			}
		}
		k.srv.HandlePacket(src, withCookies(m3, icky, rcky))
	}
}

// gm2, with its own pre-shared key, claims gm1's identity: main mode fails
// with AUTHENTICATION-FAILED, and gm2 gets no keys.
func TestClaimedIdentityRefused(t *testing.T) {
	k := newTestKS(t, keyedConfig(t, ""))
	k.srv.cfg.Groups[0].Authorization = []netip.Prefix{netip.MustParsePrefix("192.0.2.11/32")}
	if _, err := k.register(testnet.GM(2), "gm2-secret", 19, 1234); err == nil || !strings.Contains(err.Error(), "AUTHENTICATION-FAILED") {
		t.Fatalf("gm2 as itself: %v", err)
	}
	if len(k.events("UNAUTHORIZED_IPADDR")) != 1 {
		t.Error("gm2 as itself: no UNAUTHORIZED_IPADDR")
	}
	_, _, _, sas, _ := k.state()
	p, err := k.registerAs(testnet.GM(2), isakmp.NewAddrID(testnet.GM(1).Addr()), "gm2-secret", 19, 1234)
	if err == nil || p != nil || !strings.Contains(err.Error(), "AUTHENTICATION-FAILED") {
		t.Fatalf("gm2 claiming gm1: policy %v, err %v", p, err)
	}
	ev := k.events("UNAUTHORIZED_IDENTITY")
	if len(ev) != 1 || ev[0]["identity"] != "192.0.2.11" || ev[0]["ip"] != "192.0.2.12" || ev[0]["group"] != "GETVPN" {
		t.Errorf("UNAUTHORIZED_IDENTITY events %v", ev)
	}
	if k.count("ike_unauthorized_identity") != 1 || k.count("registrations") != 0 {
		t.Errorf("counters %v", k.srv.opt.Counters.Snapshot())
	}
	if _, _, _, n, _ := k.state(); n != sas {
		t.Errorf("%d phase-1 SAs after the refused main mode, want %d", n, sas)
	}
	if m := k.srv.Members(); len(m) != 0 {
		t.Errorf("members %+v", m)
	}
	// gm1 itself still registers.
	if _, err := k.register(testnet.GM(1), "gm1-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
}

// A source without a pre-shared key is refused on message 1, with
// NO-PROPOSAL-CHOSEN and no state; its message 3s cost no Diffie-Hellman.
func TestNoKeyNoDH(t *testing.T) {
	k := newTestKS(t, keyedConfig(t, ""))
	ch := k.peer(attacker)
	k.srv.HandlePacket(attacker, mm1(t))
	n, ok := ikev1.ParseNotify(<-ch)
	if !ok || n.MessageType != isakmp.NotifyNoProposalChosen {
		t.Fatalf("reply to a keyless message 1: %v", n)
	}
	if mms, _, recs, _, _ := k.state(); mms != 0 || recs != 0 {
		t.Errorf("keyless source left %d exchanges, %d records", mms, recs)
	}
	if k.count("ike_no_psk") != 1 || len(k.events("IKE_NO_PRESHARED_KEY")) != 1 {
		t.Errorf("ike_no_psk %d", k.count("ike_no_psk"))
	}
	k.flood3(t, attacker, 1000, 1)
	if dh := k.count("ike_dh_computed"); dh != 0 {
		t.Errorf("%d DH for a keyless source", dh)
	}
	if k.count("ike_no_psk") != 1001 {
		t.Errorf("ike_no_psk %d, want 1001", k.count("ike_no_psk"))
	}
	if _, err := k.register(testnet.GM(1), "gm1-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	if dh := k.count("ike_dh_computed"); dh != 1 {
		t.Errorf("%d DH, want the GM's one", dh)
	}
}

// 52,000 message 1s with distinct cookies from one source (which has a
// key) take that source's 16 half-open slots, and the rest get stateless
// cookies that keep nothing; another GM registers.
func TestMessage1FloodOneSource(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	m1 := mm1(t)
	for i := range 52000 {
		k.srv.HandlePacket(attacker, withCookies(m1, uint64(i+1), 0))
	}
	per := config.LimitDefaults.HalfOpenPerSource
	if mms, open, cached, _, _ := k.state(); mms != per || open != per || cached != 1 {
		t.Errorf("state after the flood: %d exchanges, %d half open, %d SA bodies; want %d, %d, 1", mms, open, cached, per, per)
	}
	for _, c := range []string{"ike_half_open_per_source_limit", "ike_cookie_challenge"} {
		if got := k.count(c); got != uint64(52000-per) {
			t.Errorf("%s %d, want %d", c, got, 52000-per)
		}
	}
	if ev := k.events("IKE_COOKIE_CHALLENGE"); len(ev) != 1 || ev[0]["scope"] != "source" || ev[0]["peer"] != attacker.Addr().String() {
		t.Errorf("IKE_COOKIE_CHALLENGE events %v", ev)
	}
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	if mms, _, _, _, _ := k.state(); mms > per+1 {
		t.Errorf("%d exchanges", mms)
	}
}

// 52,000 message 1s from as many (spoofed) sources: past the cookie
// threshold they get stateless cookies, and a GM still registers, through
// a cookie.
func TestMessage1FloodSpoofed(t *testing.T) {
	c := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, ""), c.Now)
	m1 := mm1(t)
	for i := range 52000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 500)
		k.srv.HandlePacket(src, withCookies(m1, uint64(i+1), 0))
	}
	l := config.LimitDefaults
	mms, open, cached, _, _ := k.state()
	if mms != l.CookieThreshold || open != l.CookieThreshold || cached != 1 {
		t.Errorf("state: %d exchanges, %d half open, %d SA bodies; want %d, %d, 1", mms, open, cached, l.CookieThreshold, l.CookieThreshold)
	}
	if got := k.count("ike_cookie_challenge"); got != uint64(52000-l.CookieThreshold) {
		t.Errorf("ike_cookie_challenge %d", got)
	}
	if ev := k.events("IKE_COOKIE_CHALLENGE"); len(ev) != 1 || ev[0]["scope"] != "KS" {
		t.Errorf("IKE_COOKIE_CHALLENGE events %v", ev)
	}
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	if k.count("ike_cookie_verified") != 1 {
		t.Errorf("ike_cookie_verified %d: the GM did not come through a cookie", k.count("ike_cookie_verified"))
	}
	// A forged message 3 on a cookie that does not verify recreates nothing.
	k.srv.HandlePacket(netip.MustParseAddrPort("10.9.0.5:500"), withCookies(mm3(t), 6, 0x1234))
	if _, open2, _, _, _ := k.state(); open2 != open {
		t.Errorf("half open %d after a forged message 3, want %d", open2, open)
	}
	// The spoofed exchanges time out; the GM's SA body stays cached.
	c.Advance(l.HalfOpenTimeout + time.Second)
	k.srv.Expire()
	if mms, open, cached, _, _ := k.state(); mms != 1 || open != 0 || cached != 1 {
		t.Errorf("after expiry: %d exchanges (the GM's), %d half open, %d SA bodies", mms, open, cached)
	}
}

// Message 3s from a source with a key are bounded by its token bucket;
// another GM registers meanwhile.
func TestMessage3FloodRateLimited(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, "limits: {half_open_per_source: 500}\n"))
	k.flood3(t, attacker, 200, 1)
	burst := uint64(config.LimitDefaults.DHBurst)
	waitFor(t, func() bool { return k.count("ike_dh_computed") == burst })
	if got := k.count("ike_dh_rate_limited"); got != 200-burst {
		t.Errorf("ike_dh_rate_limited %d, want %d", got, 200-burst)
	}
	if len(k.events("IKE_DH_RATE_LIMIT")) == 0 {
		t.Error("no IKE_DH_RATE_LIMIT event")
	}
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	if got := k.count("ike_dh_computed"); got != burst+1 {
		t.Errorf("%d DH, want %d", got, burst+1)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

// Diffie-Hellman runs off the receive loop: while a worker is held in the
// middle of one, the KS answers other peers' message 1s.
func TestDHOffReceiveLoop(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	count := k.srv.p1.IKE().OnDH
	k.srv.p1.IKE().OnDH = func() {
		held <- struct{}{}
		<-release
		count()
	}
	done := make(chan error, 1)
	go func() {
		_, err := k.register(testnet.GM(1), "lab-secret", 19, 1234)
		done <- err
	}()
	<-held // gm1's DH is under way and stays so
	ch := k.peer(testnet.GM(2))
	k.srv.HandlePacket(testnet.GM(2), mm1(t))
	select {
	case r := <-ch:
		if h, _, err := isakmp.ParseHeader(r); err != nil || h.RCookie == ([8]byte{}) {
			t.Errorf("reply to message 1: %x", r)
		}
	default:
		t.Error("no message 2 while a DH was under way")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A GM registering 5,000 times keeps at most limits.ike_sas_per_peer
// phase-1 SAs, and no more main modes or PULLs than those.
func TestRegistrationLoopSACap(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	c := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, ""), c.Now)
	for i := range n {
		if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
			t.Fatalf("registration %d: %v", i, err)
		}
		c.Advance(100 * time.Millisecond) // the GM's DH tokens refill
	}
	per := config.LimitDefaults.IKESAsPerPeer
	mms, open, _, sas, pulls := k.state()
	if sas != per || mms > per || open != 0 || pulls > per {
		t.Errorf("after %d registrations: %d SAs (want %d), %d main modes, %d half open, %d PULLs", n, sas, per, mms, open, pulls)
	}
	if got := k.count("ike_sa_replaced"); got != uint64(n-per) {
		t.Errorf("ike_sa_replaced %d, want %d", got, n-per)
	}
	if n := k.srv.p1.PeerLen(testnet.GM(1).Addr()); n != per {
		t.Errorf("%d SAs indexed by peer, want %d", n, per)
	}
}

// Past limits.ike_sas_global the newest SA replaces the oldest of all.
func TestGlobalSACap(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, "limits: {ike_sas_global: 8}\n"))
	var oldest netip.AddrPort
	for i := range 20 {
		peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 848)
		if i == 0 {
			oldest = peer
		}
		if _, err := k.register(peer, "lab-secret", 19, 1234); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, sas, _ := k.state(); sas != 8 {
		t.Errorf("%d SAs, want 8", sas)
	}
	if k.count("ike_sa_global_limit") != 12 {
		t.Errorf("ike_sa_global_limit %d", k.count("ike_sa_global_limit"))
	}
	if k.srv.p1.PeerLen(oldest.Addr()) != 0 {
		t.Error("the oldest SA was kept")
	}
	ev := k.events("IKE_SA_LIMIT")
	if len(ev) != 12 || ev[0]["peer"] != oldest.Addr().String() || ev[0]["scope"] != "KS" {
		t.Errorf("IKE_SA_LIMIT events %v", ev)
	}
}

// A main mode that does not move on for limits.half_open_timeout is
// dropped; one that does is not.
func TestHalfOpenTimeout(t *testing.T) {
	c := newClock()
	k := newTestKSAt(t, ksConfig(t, 19, "timers: {scale: 0.1}\n"), c.Now)
	k.srv.HandlePacket(attacker, mm1(t))
	c.Advance(time.Second) // 10 s of protocol time
	k.srv.Expire()
	if mms, _, _, _, _ := k.state(); mms != 1 {
		t.Fatalf("%d exchanges after 10 s", mms)
	}
	c.Advance(600 * time.Millisecond)
	k.srv.Expire()
	if mms, open, _, _, _ := k.state(); mms != 0 || open != 0 || k.count("ike_half_open_expired") != 1 {
		t.Errorf("%d exchanges, %d half open after 16 s", mms, open)
	}
}

// BenchmarkRegistrationUnderFlood measures a GM's registration time while
// one source floods the KS: message 1s with distinct cookies (mm1), or
// message 3s from a source without a pre-shared key (mm3-nokey) or with
// a wrong one under a wildcard key (mm3-key); or while an off-path
// attacker sends message 1s in the name of every GM, from the GMs' own
// addresses (mm1-spoof-gm: it cannot see the answers). The GMs register from 256
// addresses in turn, as many GMs would (one GM registering in a tight
// loop runs into its own Diffie-Hellman rate limit). It uses only what
// the KS had before its limits, so it also runs on older versions.
func BenchmarkRegistrationUnderFlood(b *testing.B) {
	var keys strings.Builder
	for i := range 256 {
		fmt.Fprintf(&keys, "    - {peer: %s, key: gm-secret}\n", benchGM(i).Addr())
	}
	wild := func(b *testing.B) *config.Config { return ksConfig(b, 19, "") }
	keyed := func(b *testing.B) *config.Config {
		cfg, err := config.Parse([]byte(strings.Replace(keyedYAML, "    - {peer: 192.0.2.11, key: gm1-secret}\n", keys.String(), 1)), "ks.yaml")
		if err != nil {
			b.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name  string
		cfg   func(*testing.B) *config.Config
		flood string
		gmKey string
	}{
		{"idle", keyed, "", "gm-secret"},
		{"mm1", wild, "mm1", "lab-secret"},
		{"mm3-nokey", keyed, "mm3", "gm-secret"},
		{"mm3-key", wild, "mm3", "lab-secret"},
		{"mm1-spoof-gm", keyed, "spoof-gm", "gm-secret"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			k := newTestKS(b, tc.cfg(b))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			m1, m3 := mm1(b), mm3(b)
			if tc.flood != "" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ch := k.peer(attacker)
					for i := uint64(1); ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						if tc.flood == "spoof-gm" {
							// From another port of the GM's address: its
							// answers go nowhere, as a spoofer's do.
							src := netip.AddrPortFrom(benchGM(int(i)).Addr(), 500)
							k.srv.HandlePacket(src, withCookies(m1, i, 0))
							continue
						}
						k.srv.HandlePacket(attacker, withCookies(m1, i, 0))
						if tc.flood != "mm3" {
							continue
						}
						rcky := uint64(0xdead)
						for len(ch) > 0 {
							if h, _, err := isakmp.ParseHeader(<-ch); err == nil && binary.BigEndian.Uint64(h.ICookie[:]) == i {
								rcky = binary.BigEndian.Uint64(h.RCookie[:])
							}
						}
						k.srv.HandlePacket(attacker, withCookies(m3, i, rcky))
					}
				}()
				time.Sleep(time.Second) // the flood is on
			}
			var took []time.Duration
			failed := 0
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := k.register(benchGM(i), tc.gmKey, 19, 1234); err != nil {
					failed++
					continue
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(failed), "failed")
			if len(took) > 0 {
				sortDurations(took)
				b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
				b.ReportMetric(ms(took[len(took)*9/10]), "p90-ms")
			}
		})
	}
}

func benchGM(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 848)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sortDurations(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}
