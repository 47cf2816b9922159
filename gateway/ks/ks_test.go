package ks

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/transport"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// ksGroupYAML is the rest of the test KS's group: AES-GCM, both
// directions between the two sites, unicast rekeys.
const ksGroupYAML = `    transforms: [aes128gcm16]
    acl:
      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}
      - {action: permit, protocol: ip, source: 10.2.0.0/16, destination: 10.1.0.0/16}
    rekey: {transport: unicast, signing_key: {bits: 1024}}
`

// ksConfig is the test KS with Diffie-Hellman group dh and the extra
// top-level YAML.
func ksConfig(t testing.TB, dh int, extra string) *config.Config {
	t.Helper()
	y := testnet.KSYAML(dh) + ksGroupYAML + extra
	cfg, err := config.Parse([]byte(y), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testKS is a KS whose replies are handed back to the caller by peer:
// the test plays the GMs, on a synchronous in-memory network.
type testKS struct {
	srv *Server
	ev  *events.Log
	net *transport.Net
	// interleave, if set, runs before each datagram register sends.
	interleave func()
	// vendorIDs are what the GMs register sends in main mode message 3.
	vendorIDs [][]byte
}

func newTestKS(t testing.TB, cfg *config.Config) *testKS { return newTestKSAt(t, cfg, nil) }

// newTestKSAt is newTestKS with a clock (nil: time.Now).
func newTestKSAt(t testing.TB, cfg *config.Config, now func() time.Time) *testKS {
	t.Helper()
	k := &testKS{net: transport.NewSyncNet(), ev: events.New(io.Discard, "text", "error")}
	srv, err := New(cfg, Options{Env: phase1.Env{
		Events: k.ev, Counters: &events.Counters{}, Local: testnet.KS(1), Now: now, Send: k.net.From(testnet.KS(1)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	k.srv = srv
	return k
}

// peer is what the KS sends p, from now on.
func (k *testKS) peer(p netip.AddrPort) <-chan []byte { return k.net.Inbox(p) }

// register runs one GM's whole registration (main mode and PULL) against
// the KS in process and returns the policy the GM received.
func (k *testKS) register(peer netip.AddrPort, psk string, dh int, group uint32) (*gdoi.Policy, error) {
	return k.registerAs(peer, isakmp.NewAddrID(peer.Addr()), psk, dh, group)
}

// registerAs is register with the phase-1 identity id.
func (k *testKS) registerAs(peer netip.AddrPort, id *isakmp.ID, psk string, dh int, group uint32) (*gdoi.Policy, error) {
	// A few datagrams wait at most: the GM reads each answer before it
	// sends again.
	ch := k.net.InboxSize(peer, 8)
	suite, _ := ikev1.ParseSuite("aes128", "sha256", dh, 1200*time.Second)
	cfg := &ikev1.Config{
		Suites: []ikev1.Suite{suite}, DOI: isakmp.DOIGDOI, LocalID: id,
		Auth:      ikev1.PSKAuth(func(netip.Addr) ([]byte, bool) { return []byte(psk), true }),
		VendorIDs: k.vendorIDs,
	}
	ini, err := ikev1.NewInitiator(cfg, peer, testnet.KS(1))
	if err != nil {
		return nil, err
	}
	pkt, err := ini.Start()
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(0) // one for the whole registration
	defer timer.Stop()
	recv := func() ([]byte, error) {
		timer.Reset(5 * time.Second)
		for {
			select {
			case r := <-ch:
				// A GM ignores what is not its exchange's: the KS's
				// answers to message 1s others sent in its name.
				if h, _, err := isakmp.ParseHeader(r); err == nil && h.ICookie != ini.ICookie() {
					continue
				}
				return r, nil
			case <-timer.C:
				return nil, errors.New("no reply")
			}
		}
	}
	// exchange sends pkt to the KS and returns its answer.
	exchange := func(pkt []byte) ([]byte, error) {
		if k.interleave != nil {
			k.interleave()
		}
		k.srv.HandlePacket(peer, pkt)
		return recv()
	}
	for ini.SA() == nil {
		r, err := exchange(pkt)
		if err != nil {
			return nil, err
		}
		if pkt, err = ini.Handle(r); err != nil {
			return nil, err
		}
	}
	pull := gdoi.NewInitiator(ini.SA(), group)
	pkt = pull.Start()
	for pull.Policy() == nil {
		r, err := exchange(pkt)
		if err != nil {
			return nil, err
		}
		h, _, _ := isakmp.ParseHeader(r)
		if h.Exchange == isakmp.ExchangeInformational {
			n, err := ini.SA().OpenInformational(r)
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("KS refused: %s %s", n.MessageType, n.Data)
		}
		if pkt, err = pull.Handle(r); err != nil {
			return nil, err
		}
	}
	return pull.Policy(), nil
}

// Registrations from many goroutines at once (as the daemon's readers
// give them, and with the exchanges' cryptography outside the server's
// lock) all complete with the same keys; run under -race, it checks that
// nothing an exchange does unlocked is shared.
func TestConcurrentRegistrations(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	const gms = 40
	policies := make([]*gdoi.Policy, gms)
	errs := make([]error, gms)
	var wg sync.WaitGroup
	for i := range gms {
		wg.Go(func() { policies[i], errs[i] = k.register(testnet.GM(i+1), "lab-secret", 19, 1234) })
	}
	wg.Wait()
	for i := range gms {
		if errs[i] != nil {
			t.Fatalf("GM %d: %v", i+1, errs[i])
		}
		if policies[i].TEKs[0].SPI != policies[0].TEKs[0].SPI || !bytes.Equal(policies[i].TEKs[0].EncKey, policies[0].TEKs[0].EncKey) {
			t.Errorf("GM %d got other keys", i+1)
		}
	}
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	if n := len(k.srv.groups[1234].members); n != gms {
		t.Errorf("%d members, want %d", n, gms)
	}
}

func TestRegistrationInProcess(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	p1, err := k.register(testnet.GM(1), "lab-secret", 19, 1234)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := k.register(testnet.GM(2), "lab-secret", 19, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.TEKs) != 2 || p1.KEK == nil {
		t.Fatalf("policy: %d TEKs, KEK %v", len(p1.TEKs), p1.KEK)
	}
	for i := range p1.TEKs {
		if p1.TEKs[i].SPI != p2.TEKs[i].SPI || !bytes.Equal(p1.TEKs[i].EncKey, p2.TEKs[i].EncKey) {
			t.Errorf("TEK %d differs between GMs", i)
		}
	}
	if p1.KEK.Dst.Addr() != testnet.GM(1).Addr() || p2.KEK.Dst.Addr() != testnet.GM(2).Addr() {
		t.Errorf("unicast rekey destinations %v %v", p1.KEK.Dst, p2.KEK.Dst)
	}
	if len(p1.SIDs) != 1 || len(p2.SIDs) != 1 || p1.SIDs[0] == p2.SIDs[0] {
		t.Errorf("each GM needs a Sender-ID of its own for GCM: %v %v", p1.SIDs, p2.SIDs)
	}
	if m := k.srv.Members(); len(m) != 2 {
		t.Errorf("members: %+v", m)
	}
	names := map[string]int{}
	for _, e := range k.ev.Since(0) {
		names[e.Name]++
	}
	if names["KS_FIRST_GM"] != 1 || names["KS_REGS_COMPL"] != 2 {
		t.Errorf("events: %v", names)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	cfg := ksConfig(t, 19, "")
	cfg.Groups[0].Authorization = []netip.Prefix{netip.MustParsePrefix("192.0.2.12/32")}
	strict := newTestKS(t, cfg)
	for _, tc := range []struct {
		name  string
		ks    *testKS
		psk   string
		dh    int
		group uint32
		want  string
		event string
	}{
		{"wrong PSK", k, "wrong", 19, 1234, "", "IKE_AUTH_FAILED"},
		{"no proposal", k, "lab-secret", 14, 1234, "NO-PROPOSAL-CHOSEN", "IKE_AUTH_FAILED"},
		{"unknown group", k, "lab-secret", 19, 9999, "INVALID-ID-INFORMATION", "KS_BAD_ID"},
		{"unauthorized", strict, "lab-secret", 19, 1234, "AUTHENTICATION-FAILED", "UNAUTHORIZED_IPADDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.ks.ev.Since(0))
			_, err := tc.ks.register(testnet.GM(1), tc.psk, tc.dh, tc.group)
			if err == nil {
				t.Fatal("registered")
			}
			if tc.want != "" && !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			found := false
			for _, e := range tc.ks.ev.Since(0)[before:] {
				found = found || e.Name == tc.event
			}
			if !found {
				t.Errorf("no %s event", tc.event)
			}
		})
	}
	// The KS keeps serving.
	if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRegistration measures full registrations (main mode with PSK,
// then GROUPKEY-PULL) against one KS in process, from concurrent
// initiators; it reports registrations/s (the GMs' side of the work is
// included in the same process, so the KS alone is faster).
func BenchmarkRegistration(b *testing.B) {
	for _, dh := range []int{19, 14} {
		// The ceiling: the Diffie-Hellman work of one registration in
		// this benchmark — a key pair and a shared secret for the KS, and
		// the same for the in-process GM — on every core. No registration
		// can go faster; the rest of a registration's cost is what the
		// ratio below shows.
		var ceiling float64
		b.Run(fmt.Sprintf("group%d/dh-ceiling", dh), func(b *testing.B) {
			g, err := ikev1.LookupGroup(dh)
			if err != nil {
				b.Fatal(err)
			}
			peer, err := g.GenerateKey(rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					for range 2 { // the KS's and the GM's
						k, err := g.GenerateKey(rand.Reader)
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := k.SharedSecret(peer.Public); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			ceiling = float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(ceiling, "registrations/s")
		})
		b.Run(fmt.Sprintf("group%d", dh), func(b *testing.B) {
			k := newTestKS(b, ksConfig(b, dh, ""))
			var next atomic.Uint32
			b.ResetTimer()
			b.SetParallelism(inFlightPerCPU)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 848)
					if _, err := k.register(peer, "lab-secret", dh, 1234); err != nil {
						b.Error(err)
						return
					}
					k.net.CloseInbox(peer)
				}
			})
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "registrations/s")
			if ceiling > 0 {
				b.ReportMetric(ceiling/rate, "×-below-dh-ceiling")
			}
		})
	}
}

// inFlightPerCPU is how many registrations BenchmarkRegistration keeps in
// flight per CPU, as a KS serving many GMs has: a registration is four
// round trips between the GM's and the KS's goroutines, and with one in
// flight per CPU a CPU waits on every hand-over.
const inFlightPerCPU = 8

// Rekeys faster than TEKs expire keep at most maxTEKGenerations, the
// newest: a PUSH of an operator's rekey loop stays a datagram.
func TestTEKGenerationsBounded(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	k.srv.mu.Lock()
	defer k.srv.mu.Unlock()
	g := k.srv.groups[1234]
	var newest []uint32
	for range 10 {
		if err := g.addTEKs(time.Now()); err != nil {
			t.Fatal(err)
		}
		newest = append(newest, g.newest().teks[0].SPI)
	}
	if len(g.gens) != maxTEKGenerations {
		t.Fatalf("%d generations after 10 rekeys, want %d", len(g.gens), maxTEKGenerations)
	}
	for i, gen := range g.gens {
		if want := newest[len(newest)-maxTEKGenerations+i]; gen.teks[0].SPI != want {
			t.Errorf("generation %d: SPI %#x, want %#x (the newest kept, oldest first)", i, gen.teks[0].SPI, want)
		}
	}
}
