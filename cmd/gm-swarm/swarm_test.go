package main

import (
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	daemonconfig "github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ks"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/transport"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/swarmreport"
)

// A swarm against getvpnd's key server in process, joined by an in-memory
// network (gateway/transport): every member's registration is a real main
// mode and GROUPKEY-PULL, every rekey a real PUSH the members verify and
// acknowledge.

var ksAddr = netip.MustParseAddrPort("192.0.2.1:848")

const ksYAML = `
role: ks
identity: 192.0.2.1
state_file: ""
ike:
  policies: [{encryption: aes128, hash: sha256, dh_group: 19, lifetime: 86400}]
  pre_shared_keys: [{peer: "*", key: swarm-secret}]
groups:
  - name: GETVPN
    id: 1234
    tek_lifetime: 3600
    kek_lifetime: 86400
    transforms: [aes256gcm16]
    authorization: [198.18.0.0/18]
    acl:
      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}
    rekey: {transport: unicast, ack: ACK, retransmit: {interval: 10, count: 2}, signing_key: {bits: 1024}}
`

type lab struct {
	net   *transport.Net
	ks    *ks.Server
	acks  atomic.Int64
	pulls atomic.Int64
}

func startKS(t *testing.T, ack string) *lab {
	t.Helper()
	cfg, err := daemonconfig.Parse([]byte(strings.Replace(ksYAML, "ACK", ack, 1)), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{net: transport.NewNet()}
	t.Cleanup(l.net.Close)
	l.ks, err = ks.New(cfg, ks.Options{Env: phase1.Env{
		Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{},
		Local: ksAddr, Send: l.net.From(ksAddr)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	driven := make(chan struct{})
	go func() { defer close(driven); clock.Drive(ctx, clock.Clock{}, l.ks) }()
	t.Cleanup(func() { cancel(); <-driven })
	l.net.Attach(ksAddr, func(from netip.AddrPort, b []byte) {
		if h, _, err := isakmp.ParseHeader(b); err == nil {
			switch h.Exchange {
			case isakmp.ExchangeGroupkeyPushAck:
				l.acks.Add(1)
			case isakmp.ExchangeGroupkeyPull:
				l.pulls.Add(1)
			}
		}
		l.ks.HandlePacket(from, b)
	})
	return l
}

func testConfig(n int) config {
	return config{
		ks: []netip.AddrPort{ksAddr}, group: 1234, psk: "swarm-secret", count: n,
		prefix:     netip.MustParsePrefix("198.18.0.0/18"),
		encryption: "aes128", hash: "sha256", dhGroup: 19, lifetime: 1200 * time.Second,
		interop: gdoi.InteropRFC, gdoiVersion: gdoiwire.Version{Major: 1, Minor: 0, Mini: 3},
		concurrency: 16, retryInterval: 2 * time.Second, tries: 3,
		exitAfterRekeys: -1, settle: time.Second, reportEvery: time.Hour,
	}
}

// attach puts every member of s on l's network.
func (l *lab) attach(s *swarm) {
	for _, m := range s.members {
		l.net.Attach(m.addr, func(from netip.AddrPort, b []byte) { s.deliver(from, m.addr, b) })
	}
}

func newTestSwarm(t *testing.T, l *lab, cfg config) *swarm {
	t.Helper()
	s, err := newSwarm(cfg, func(from, to netip.AddrPort, b []byte) { l.net.From(from)(to, b) })
	if err != nil {
		t.Fatal(err)
	}
	l.attach(s)
	return s
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRegisterAndRekey: every member registers, takes the triggered rekey
// and acknowledges it once; the report says so, and the swarm stops on its
// exit condition.
func TestRegisterAndRekey(t *testing.T) {
	const n = 40
	l := startKS(t, "rfc8263-sha256")
	cfg := testConfig(n)
	cfg.exitAfterRekeys = 1
	cfg.reportPath = filepath.Join(t.TempDir(), "report.json")
	cfg.reportEvery = 20 * time.Millisecond
	s := newTestSwarm(t, l, cfg)
	done := make(chan *swarmreport.Report, 1)
	go func() {
		r, err := s.run(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitFor(t, "every registration in the report", 20*time.Second, func() bool {
		r, err := swarmreport.Read(cfg.reportPath)
		return err == nil && r.Registrations.Succeeded == n
	})
	if _, err := l.ks.Rekey("", ks.ReplacePolicy); err != nil {
		t.Fatal(err)
	}
	var r *swarmreport.Report
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the swarm did not stop after the rekey")
	}
	if !r.Final || !strings.Contains(r.Stopped, "1 rekey(s) settled") {
		t.Errorf("final %v, stopped %q", r.Final, r.Stopped)
	}
	g := r.Registrations
	if g.Attempted != n || g.Succeeded != n || g.Failed != 0 || g.InFlight != 0 || g.Latency.N != n || g.PerSecond <= 0 {
		t.Errorf("registrations %+v", g)
	}
	if g.Latency.P50 <= 0 || g.Latency.P50 > g.Latency.P99 || g.Latency.P99 > g.Latency.Max {
		t.Errorf("latency %+v", g.Latency)
	}
	if got := l.pulls.Load(); got != 2*n {
		t.Errorf("the KS got %d PULL messages, want %d (no retransmission)", got, 2*n)
	}
	if len(r.Rekeys) != 1 {
		t.Fatalf("rekeys %+v", r.Rekeys)
	}
	rk := r.Rekeys[0]
	if rk.GMs != n || rk.Acked != n || rk.Rejected != 0 || rk.FanOutMS <= 0 || rk.LastAck.Before(rk.FirstPush) {
		t.Errorf("rekey %+v", rk)
	}
	waitFor(t, "every acknowledgement at the KS", 5*time.Second, func() bool { return l.acks.Load() == n })
	if st := l.ks.GDOI().Groups[0].KS; st.LastRekey.Acked != n {
		t.Errorf("the KS saw %d acknowledgements of its last rekey, want %d", st.LastRekey.Acked, n)
	}
	if len(r.Failures) != 0 || r.Unexpected != 0 {
		t.Errorf("failures %v, errors %v, unexpected %d", r.Failures, r.Errors, r.Unexpected)
	}
}

// TestNoAcksAsked: with a KEK that asks for no acknowledgement, members
// take the rekey and send nothing.
func TestNoAcksAsked(t *testing.T) {
	const n = 8
	l := startKS(t, "none")
	cfg := testConfig(n)
	s := newTestSwarm(t, l, cfg)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan *swarmreport.Report, 1)
	go func() { r, _ := s.run(ctx); done <- r }()
	waitFor(t, "registrations", 20*time.Second, func() bool { return s.st.progress(0).registered == n })
	if _, err := l.ks.Rekey("", ks.ReplacePolicy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rekey taken", 5*time.Second, func() bool { return s.st.progress(time.Hour).settled == 1 })
	cancel(errBecause("SIGTERM"))
	r := <-done
	if r.Stopped != "SIGTERM" || !r.Final {
		t.Errorf("stopped %q", r.Stopped)
	}
	if rk := r.Rekeys[0]; rk.GMs != n || rk.Acked != 0 || !rk.LastAck.IsZero() || rk.FanOutMS < 0 {
		t.Errorf("rekey %+v", rk)
	}
	if l.acks.Load() != 0 {
		t.Errorf("%d acknowledgements sent, none asked for", l.acks.Load())
	}
}

type errBecause string

func (e errBecause) Error() string { return string(e) }

// TestWrongKey: a swarm whose key the KS does not hold gives up on every
// member with the reason main mode gave.
func TestWrongKey(t *testing.T) {
	const n = 3
	l := startKS(t, "rfc8263-sha256")
	cfg := testConfig(n)
	cfg.psk = "not-the-key"
	cfg.retryInterval = 50 * time.Millisecond
	cfg.tries = 2
	cfg.exitAfterRekeys = 0
	s := newTestSwarm(t, l, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := s.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Registrations.Failed != n || r.Registrations.Succeeded != 0 || r.Stopped != "every GM registered or gave up" {
		t.Fatalf("registrations %+v, stopped %q", r.Registrations, r.Stopped)
	}
	total := 0
	for reason, k := range r.Failures {
		total += k
		if !strings.HasPrefix(reason, "main mode") && !strings.HasPrefix(reason, "timeout") {
			t.Errorf("failure reason %q", reason)
		}
	}
	if total != n {
		t.Errorf("failures %v", r.Failures)
	}
}

// TestUnresponsiveKS: with nobody at the KS address, every member tries
// each KS of its list cfg.tries times and gives up on a timeout.
func TestUnresponsiveKS(t *testing.T) {
	net := transport.NewNet()
	defer net.Close()
	cfg := testConfig(2)
	cfg.ks = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.7:848"), netip.MustParseAddrPort("192.0.2.8:848")}
	cfg.retryInterval = 20 * time.Millisecond
	cfg.tries = 3
	cfg.exitAfterRekeys = 0
	var sent atomic.Int64
	s, err := newSwarm(cfg, func(_, _ netip.AddrPort, _ []byte) { sent.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Registrations.Failed != 2 || r.Failures["timeout: no main mode msg 2"] != 2 {
		t.Fatalf("registrations %+v, failures %v", r.Registrations, r.Failures)
	}
	// Per member and KS: main mode message 1 and two retransmissions.
	if sent.Load() != 2*2*3 || r.Registrations.Tries != 2*2 || r.Registrations.Retransmissions != 2*2*2 {
		t.Errorf("%d datagrams sent, %d tries, %d retransmissions", sent.Load(), r.Registrations.Tries, r.Registrations.Retransmissions)
	}
}

func TestAddresses(t *testing.T) {
	a, err := addresses(netip.MustParsePrefix("198.18.0.0/30"), 2)
	if err != nil || len(a) != 2 || a[0].String() != "198.18.0.1" || a[1].String() != "198.18.0.2" {
		t.Errorf("%v %v", a, err)
	}
	if _, err := addresses(netip.MustParsePrefix("198.18.0.0/30"), 3); err == nil {
		t.Error("a /30 gave 3 host addresses (the broadcast address)")
	}
	if a, err := addresses(netip.MustParsePrefix("198.18.0.0/18"), 8000); err != nil || a[7999].String() != "198.18.31.64" {
		t.Errorf("8000th address: %v", err)
	}
}

func TestParseKSList(t *testing.T) {
	got, err := parseKSList("192.0.2.1, 192.0.2.2:1848")
	if err != nil || len(got) != 2 || got[0].String() != "192.0.2.1:848" || got[1].String() != "192.0.2.2:1848" {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "ks1", "192.0.2.1,"} {
		if _, err := parseKSList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errb strings.Builder
	if rc := run([]string{"--help"}, &out, &errb); rc != 0 || !strings.Contains(errb.String(), "--exit-after-rekeys") {
		t.Errorf("--help: %d %q", rc, errb.String())
	}
	for _, args := range [][]string{
		{"--psk", "k", "--prefix", "198.18.0.0/18"},
		{"--ks", "192.0.2.1", "--prefix", "198.18.0.0/18"},
		{"--ks", "192.0.2.1", "--psk", "k"},
		{"--ks", "192.0.2.1", "--psk", "k", "--prefix", "198.18.0.0/18", "--profile", "x"},
	} {
		errb.Reset()
		if rc := run(args, &out, &errb); rc != 2 {
			t.Errorf("%v: exit %d (%s)", args, rc, errb.String())
		}
	}
}
