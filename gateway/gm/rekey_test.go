package gm_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/gm"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/ks"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/transport"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A KS and a GM in process, joined by an in-memory network
// (transport.Net) that delivers datagrams one at a time (each side sends
// under its own lock, so delivery must not be synchronous). The KS's clock
// is the test's; the GM's timer is driven on the wall clock, or by the
// test on its clock.

var ksYAML = testnet.KSYAML(19) + `    tek_lifetime: 900
    kek_lifetime: 1500
    transforms: [aes128gcm16]
    acl:
      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}
    rekey: {transport: unicast, retransmit: {interval: 10, count: 2}, signing_key: {bits: 1024}}
`

var gmYAML = testnet.GMYAML(testnet.KS(1).Addr())

type datagram = transport.Datagram

// withProfile puts interop_profile in the group of a lab configuration.
func withProfile(y, profile string) string {
	if profile == "" {
		return y
	}
	return strings.Replace(y, "    id: 1234\n", "    id: 1234\n    interop_profile: "+profile+"\n", 1)
}

type lab struct {
	t       testing.TB
	profile string
	net     *transport.Net
	ks      *ks.Server
	gm      *gm.Member
	clk     time.Time
	clkMu   sync.Mutex
	mu      sync.Mutex
	pushes  [][]byte // every GROUPKEY-PUSH sent to the GM
	acks    int
	// ackDst are the destinations of the GM's acknowledgements.
	ackDst []netip.AddrPort
	inst   int // OnInstall calls
	// pulls are the headers of the GROUPKEY-PULL messages the GM sent.
	pulls []isakmp.Header
	// panicNextSend makes the GM's next send panic (under its lock); the
	// network recovers as the daemon's receive loop does and counts the
	// panic (net.Panics).
	panicNextSend atomic.Bool
}

func newLab(t testing.TB) *lab { return newLabScaled(t, 1) }

// newLabScaled is newLab with the GM's timers at scale (1: they never fire
// during a test).
func newLabScaled(t testing.TB, scale float64) *lab {
	return newLabWith(t, scale, ksYAML, false, "rfc")
}

// newLabProfile is newLabScaled with both groups under an interop profile.
func newLabProfile(t testing.TB, scale float64, profile string) *lab {
	return newLabWith(t, scale, ksYAML, false, profile)
}

// newLabWith is newLabScaled with the KS configuration kyaml and both
// groups under an interop profile; fakeClock puts the GM on the KS's (the
// test's) clock too.
func newLabWith(t testing.TB, scale float64, kyaml string, fakeClock bool, profile string) *lab {
	l := startLab(t, scale, kyaml, withProfile(gmYAML, profile), fakeClock, profile, io.Discard)
	l.wait("registration", func(st snap) bool { return st.State == "registered" })
	return l
}

// startLab starts a KS of kyaml and a GM of gyaml (its events to gmLog)
// and the GM's registration, without waiting for it.
func startLab(t testing.TB, scale float64, kyaml, gyaml string, fakeClock bool, profile string, gmLog io.Writer) *lab {
	l := &lab{t: t, net: transport.NewNet(), clk: time.Unix(1_700_000_000, 0), profile: profile}
	l.ks = l.newKS(kyaml)
	l.attach()
	var now func() time.Time
	if fakeClock {
		now = l.now
	}
	gcfg, err := config.Parse([]byte(gyaml+fmt.Sprintf("timers: {scale: %v}\n", scale)), "gm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l.gm, err = gm.New(gcfg, gm.Options{Env: phase1.Env{Events: events.New(gmLog, "text", "info"), Counters: &events.Counters{}, Local: testnet.GM(1),
		Send: func(to netip.AddrPort, b []byte) {
			if l.panicNextSend.Swap(false) {
				panic("injected: a send under the Member's lock")
			}
			l.net.From(testnet.GM(1))(to, b)
		}, Now: now},
		OnInstall: func(string, *gdoi.Policy) { l.mu.Lock(); l.inst++; l.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.gm.Stop(); l.net.Close() })
	if !fakeClock {
		// The GM's timer runs on the wall clock, as in the daemon; on the
		// test's clock the test runs Timeout itself.
		ctx, cancel := context.WithCancel(context.Background())
		driven := make(chan struct{})
		go func() { defer close(driven); clock.Drive(ctx, clock.Clock{}, l.gm) }()
		t.Cleanup(func() { cancel(); <-driven })
	}
	l.gm.Start()
	return l
}

// newKS makes the lab's KS, with keys and phase-1 SAs of its own.
func (l *lab) newKS(kyaml string) *ks.Server {
	kcfg, err := config.Parse([]byte(withProfile(kyaml, l.profile)), "ks.yaml")
	if err != nil {
		l.t.Fatal(err)
	}
	srv, err := ks.New(kcfg, ks.Options{Env: phase1.Env{Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{}, Local: testnet.KS(1), Now: l.now,
		Send: l.net.From(testnet.KS(1))}})
	if err != nil {
		l.t.Fatal(err)
	}
	return srv
}

// attach puts the lab's KS and GM on its network, each datagram taken by
// the current KS (restartKS replaces it) or the GM, and recorded: the
// GROUPKEY-PUSHes that reach the GM, the acknowledgements and PULLs that
// reach the KS, and where every acknowledgement was sent.
func (l *lab) attach() {
	l.net.Tap(func(d datagram) {
		if h, _, _ := isakmp.ParseHeader(d.B); h.Exchange == isakmp.ExchangeGroupkeyPushAck {
			l.mu.Lock()
			l.ackDst = append(l.ackDst, d.To)
			l.mu.Unlock()
		}
	})
	l.net.Attach(testnet.KS(1), func(from netip.AddrPort, b []byte) {
		h, _, _ := isakmp.ParseHeader(b)
		l.mu.Lock()
		switch h.Exchange {
		case isakmp.ExchangeGroupkeyPushAck:
			l.acks++
		case isakmp.ExchangeGroupkeyPull:
			l.pulls = append(l.pulls, h)
		}
		srv := l.ks
		l.mu.Unlock()
		srv.HandlePacket(from, b)
	})
	l.net.Attach(testnet.GM(1), func(from netip.AddrPort, b []byte) {
		if h, _, _ := isakmp.ParseHeader(b); h.Exchange == isakmp.ExchangeGroupkeyPush {
			l.mu.Lock()
			l.pushes = append(l.pushes, b)
			l.mu.Unlock()
		}
		l.gm.HandlePacket(from, b)
	})
}

func (l *lab) now() time.Time {
	l.clkMu.Lock()
	defer l.clkMu.Unlock()
	return l.clk
}

// nextRekey moves the KS's clock in 1 s ticks until it sends a rekey
// (at most limit), then lets the GM acknowledge it before the KS's clock
// moves on: the fake clock must not outrun the queue. It returns the time
// advanced.
func (l *lab) nextRekey(limit time.Duration) time.Duration {
	l.t.Helper()
	sent := func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.pushes) }
	before := sent()
	for d := time.Second; d <= limit; d += time.Second {
		l.clkMu.Lock()
		l.clk = l.clk.Add(time.Second)
		l.clkMu.Unlock()
		l.ks.Tick()
		l.settle()
		if sent() > before {
			return d
		}
	}
	l.t.Fatalf("no rekey within %v", limit)
	return 0
}

func (l *lab) wait(what string, cond func(snap) bool) snap {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := l.status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("no %s: %+v", what, st)
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *lab) status() snap {
	g := l.gm.GDOI().Groups[0]
	st := snap{State: g.GM.State, Seq: g.GM.Seq, Received: g.GM.RekeysReceived, Acks: g.GM.AcksSent,
		Rejected: g.GM.RekeysRejected, PreviousKEK: g.GM.PreviousKEK}
	if g.KEK != nil {
		st.KEK = g.KEK.SPI
	}
	for _, t := range g.TEKs {
		st.TEKs = append(st.TEKs, t.SPI)
	}
	return st
}

// snap is the GM's state the test looks at.
type snap struct {
	State                    string
	Seq                      uint32
	Received, Acks, Rejected uint64
	KEK, PreviousKEK         string
	TEKs                     []string
}

func (l *lab) counter(name string) uint64 { return l.gm.Counters()[name] }

func TestGMTakesRekeysAndRefusesTheRest(t *testing.T) {
	l := newLab(t)
	reg := l.status()
	if len(reg.TEKs) != 1 {
		t.Fatalf("registration: %+v", reg)
	}
	// The TEK rekey: T - (90 + 2x10 + 5x1/50) = 789.9 s.
	if d := l.nextRekey(900 * time.Second); d != 790*time.Second {
		t.Fatalf("first rekey after %v", d)
	}
	st := l.wait("rekey", func(st snap) bool { return st.Received == 1 })
	if st.Seq != 1 || st.Acks != 1 || len(st.TEKs) != 2 || st.TEKs[0] != reg.TEKs[0] {
		t.Fatalf("after the rekey: %+v", st)
	}
	l.wait("ack at the KS", func(snap) bool { l.mu.Lock(); defer l.mu.Unlock(); return l.acks == 1 })
	if ms := l.ks.Members(); len(ms) != 1 || ms[0].AcksReceived != 1 {
		t.Fatalf("KS members %+v", ms)
	}
	if l.inst != 2 {
		t.Fatalf("data plane fed %d times, want registration + rekey", l.inst)
	}

	// The same PUSH again: a replay.
	l.mu.Lock()
	first := bytes.Clone(l.pushes[0])
	l.mu.Unlock()
	l.gm.HandlePacket(testnet.KS(1), first)
	if l.counter("rekey_replayed") != 1 {
		t.Fatalf("replay not counted: %v", l.gm.Counters())
	}
	// A PUSH with a fresh sequence number and a broken signature.
	l.gm.HandlePacket(testnet.KS(1), forge(t, first, l.gm, 99))
	if l.counter("rekey_bad_signature") != 1 {
		t.Fatalf("forgery not counted: %v", l.gm.Counters())
	}
	// Another KEK's PUSH.
	other := bytes.Clone(first)
	other[0] ^= 0xff
	l.gm.HandlePacket(testnet.KS(1), other)
	if l.counter("rekey_unknown_kek") != 1 {
		t.Fatalf("unknown KEK not counted: %v", l.gm.Counters())
	}
	if after := l.status(); after.Seq != 1 || after.Rejected != 2 || after.Acks != 1 || len(after.TEKs) != 2 || after.TEKs[1] != st.TEKs[1] {
		t.Fatalf("the GM's keys changed: %+v", after)
	}

	// The KEK rekey (1500 - 225.02 = 1274.98 s after the start) under the
	// old KEK; the next TEK rekey under the new one.
	if d := l.nextRekey(900 * time.Second); d != 485*time.Second {
		t.Fatalf("KEK rekey %v after the first", d)
	}
	kek := l.wait("KEK rekey", func(st snap) bool { return st.Received == 2 })
	if kek.PreviousKEK != reg.KEK || kek.KEK == reg.KEK {
		t.Fatalf("after the KEK rekey: %+v (registered with %s)", kek, reg.KEK)
	}
	l.nextRekey(900 * time.Second)
	next := l.wait("TEK rekey under the new KEK", func(st snap) bool { return st.Received == 3 })
	if next.Acks != 3 || next.KEK != kek.KEK {
		t.Fatalf("after the third rekey: %+v", next)
	}
}

// forge re-encrypts a PUSH with a new sequence number and a corrupted
// signature, with the KEK the GM holds.
func forge(t *testing.T, push []byte, m *gm.Member, seq uint32) []byte {
	t.Helper()
	kek := m.Policies()["GETVPN"].KEK
	blk, _ := aes.NewCipher(kek.Key)
	body := bytes.Clone(push[isakmp.HeaderLen:])
	cipher.NewCBCDecrypter(blk, kek.IV).CryptBlocks(body, body)
	body[4], body[5], body[6], body[7] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	body[len(body)-40] ^= 1 // the signature's last block, before padding
	cipher.NewCBCEncrypter(blk, kek.IV).CryptBlocks(body, body)
	return append(bytes.Clone(push[:isakmp.HeaderLen]), body...)
}
