package gm

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// The GM's schedules on a fake clock: each test starts a Member whose
// datagrams go nowhere, runs its timer by hand (Deadline, then Timeout at
// that time) and compares what it sent, and when, with the seeds' numbers
// written here.

var schedT0 = time.Unix(1_700_000_000, 0)

// sent is one datagram the Member sent: when (protocol seconds after
// start), to which KS, and its main-mode initiator cookie.
type sent struct {
	at      float64
	ks      netip.Addr
	cookie  string
	message []byte
}

type schedule struct {
	t     *testing.T
	m     *Member
	clk   *clock.Fake
	sent  []sent
	ev    *strings.Builder
	ifUp  bool
	scale float64
}

// newSchedule starts a Member of the group GETVPN with ksList, on a fake
// clock at timer scale scale, and opts changed by edit.
func newSchedule(t *testing.T, scale float64, ksList []netip.Addr, edit func(*Options)) *schedule {
	y := testnet.GMYAML(ksList...) + fmt.Sprintf("timers: {scale: %v}\n", scale)
	cfg, err := config.Parse([]byte(y), "gm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &schedule{t: t, clk: clock.NewFake(schedT0), ev: &strings.Builder{}, ifUp: true, scale: scale}
	env := phase1.Env{Events: events.New(s.ev, "text", "info"), Counters: &events.Counters{}, Local: testnet.GM(1),
		Now: s.clk.Now,
		Send: func(to netip.AddrPort, b []byte) {
			h, _, err := isakmp.ParseHeader(b)
			if err != nil {
				t.Fatalf("the GM sent an unparsable datagram: %v", err)
			}
			s.sent = append(s.sent, sent{at: s.protocol(s.clk.Now()), ks: to.Addr(), cookie: fmt.Sprintf("%x", h.ICookie), message: b})
		}}
	opt := Options{Env: env, InterfaceUp: func() bool { return s.ifUp }}
	if edit != nil {
		edit(&opt)
	}
	if s.m, err = New(cfg, opt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.m.Stop)
	return s
}

func (s *schedule) protocol(t time.Time) float64 {
	return float64(t.Sub(schedT0)) / float64(time.Second) / s.scale
}

// runUntil runs the Member's timer until protocol time end: each step at
// its deadline.
func (s *schedule) runUntil(end float64) {
	for range 10000 {
		d := s.m.Deadline()
		if d.IsZero() || s.protocol(d) > end {
			return
		}
		if d.Before(s.clk.Now()) {
			s.t.Fatalf("a deadline in the past: %v before %v", d, s.clk.Now())
		}
		s.clk.Set(d)
		s.m.Timeout(d)
	}
	s.t.Fatal("the Member's timer never got past the end")
}

// attempts groups the datagrams into registration attempts: a new
// main-mode exchange (a new initiator cookie) and its retransmissions.
func (s *schedule) attempts() (starts []sent, tries [][]float64) {
	for _, d := range s.sent {
		if len(starts) == 0 || starts[len(starts)-1].cookie != d.cookie {
			starts = append(starts, d)
			tries = append(tries, nil)
		}
		tries[len(tries)-1] = append(tries[len(tries)-1], d.at)
	}
	return starts, tries
}

// With no KS answering, a GM tries each KS once and three more times 10 s
// apart (the same message 1 again), moves to the next KS 40 s after the
// first try, and after the last KS comes back to the first after the GDOI
// backoff, 70, 140, 280, 480 s, then 480 s again, counted from the first
// try of the last KS (S0 §1.2.6, §3.7.3.4, L4539-4617; GM-20, GM-22).
func TestRegistrationScheduleWithNoKSAnswering(t *testing.T) {
	for _, scale := range []float64{1, 0.01} {
		t.Run(fmt.Sprintf("scale %v", scale), func(t *testing.T) {
			s := newSchedule(t, scale, []netip.Addr{testnet.KS(1).Addr(), testnet.KS(2).Addr()}, nil)
			s.m.Start()
			s.runUntil(2000)
			want := []struct {
				at float64
				ks netip.Addr
			}{
				{0, testnet.KS(1).Addr()}, {40, testnet.KS(2).Addr()},
				{40 + 70, testnet.KS(1).Addr()}, {150, testnet.KS(2).Addr()},
				{150 + 140, testnet.KS(1).Addr()}, {330, testnet.KS(2).Addr()},
				{330 + 280, testnet.KS(1).Addr()}, {650, testnet.KS(2).Addr()},
				{650 + 480, testnet.KS(1).Addr()}, {1170, testnet.KS(2).Addr()},
				{1170 + 480, testnet.KS(1).Addr()}, {1690, testnet.KS(2).Addr()},
			}
			starts, tries := s.attempts()
			if len(starts) != len(want) {
				t.Fatalf("%d attempts, want %d: %v", len(starts), len(want), tries)
			}
			for i, w := range want {
				if starts[i].ks != w.ks || !near(starts[i].at, w.at) {
					t.Errorf("attempt %d: %s at %.3f s, want %s at %v s", i+1, starts[i].ks, starts[i].at, w.ks, w.at)
				}
				wantTries := []float64{w.at, w.at + 10, w.at + 20, w.at + 30}
				if len(tries[i]) != 4 || !all(tries[i], wantTries) {
					t.Errorf("attempt %d: tries at %v, want %v", i+1, tries[i], wantTries)
				}
				for _, d := range s.sent {
					if d.cookie == starts[i].cookie && !slices.Equal(d.message, starts[i].message) {
						t.Errorf("attempt %d: a retry is not the same message 1", i+1)
					}
				}
			}
			if n := strings.Count(s.ev.String(), "GM_CONN_NEXT_SER"); n != len(want)-1 {
				t.Errorf("%d GM_CONN_NEXT_SER events, want %d", n, len(want)-1)
			}
		})
	}
}

// A registration interface that is down: no datagram, GM_REGSTER_IF_DOWN
// and another look every 10 s; registering starts once it is up.
func TestRegistrationWaitsForTheInterface(t *testing.T) {
	s := newSchedule(t, 1, []netip.Addr{testnet.KS(1).Addr()}, nil)
	s.ifUp = false
	s.m.Start()
	s.runUntil(35)
	if len(s.sent) != 0 {
		t.Fatalf("sent %d datagrams with the interface down", len(s.sent))
	}
	if n := strings.Count(s.ev.String(), "GM_REGSTER_IF_DOWN"); n != 4 {
		t.Errorf("%d GM_REGSTER_IF_DOWN events by 35 s, want 4 (0, 10, 20, 30 s)", n)
	}
	s.ifUp = true
	s.runUntil(40)
	if starts, _ := s.attempts(); len(starts) != 1 || !near(starts[0].at, 40) {
		t.Errorf("attempts %v, want the first at 40 s", starts)
	}
}

// Stop cancels the schedule: no deadline, and Timeout sends nothing.
func TestStopCancelsTheSchedule(t *testing.T) {
	s := newSchedule(t, 1, []netip.Addr{testnet.KS(1).Addr()}, nil)
	s.m.Start()
	s.m.Stop()
	if d := s.m.Deadline(); !d.IsZero() {
		t.Errorf("deadline %v after Stop", d)
	}
	n := len(s.sent)
	s.m.Timeout(s.clk.Advance(time.Hour))
	if len(s.sent) != n {
		t.Errorf("sent %d datagrams after Stop", len(s.sent)-n)
	}
}

// reregAfterInstall installs a policy of TEKs of tek and a KEK of kek
// protocol seconds (0: none) with the jitter draw u and returns when the
// re-registration comes (protocol seconds after the install) and for what.
func reregAfterInstall(t *testing.T, jitter string, tek, kek time.Duration, u float64) (float64, string) {
	s := newSchedule(t, 1, []netip.Addr{testnet.KS(1).Addr()}, func(o *Options) { o.Rand = func() float64 { return u } })
	s.m.cfg.Groups[0].Jitter = jitter
	p := &gdoi.Policy{GroupID: 1234, TEKs: []gdoi.TEK{{SPI: 0x1234, Lifetime: tek}}}
	if kek > 0 {
		p.KEK = &gdoi.KEK{SPI: [16]byte{1}, Lifetime: kek}
	}
	s.m.InstallForTest("GETVPN", netip.AddrPortFrom(testnet.KS(1).Addr(), 848), p)
	d := s.m.Deadline()
	if d.IsZero() {
		t.Fatal("no re-registration scheduled")
	}
	g := s.m.GDOI().Groups[0].GM
	return s.protocol(d), g.ReregisterFor
}

// With no rekey, a GM re-registers at T - MAX(5% T, 60 s) - jitter, the
// jitter up to MAX(2% T, 6 s) (new) or ±6 s (legacy); without a KEK
// rekey, between 190 s and 40 s before the KEK expires, whichever comes
// first (S0 §3.6.5.1-2, §3.6.6; GM-31, GM-32, GM-85).
func TestReregistrationPoint(t *testing.T) {
	for _, c := range []struct {
		jitter   string
		tek, kek time.Duration
		u        float64
		want     float64
		what     string
	}{
		{"new", 3600 * time.Second, 0, 0, 3600 - 180, "tek"},
		{"new", 3600 * time.Second, 0, 0.5, 3600 - 180 - 36, "tek"},
		{"new", 900 * time.Second, 0, 0.5, 900 - 60 - 9, "tek"},
		{"new", 86400 * time.Second, 0, 0.25, 86400 - 4320 - 432, "tek"},
		{"legacy", 3600 * time.Second, 0, 0, 3600 - 180 + 6, "tek"},
		{"legacy", 3600 * time.Second, 0, 0.75, 3600 - 180 - 3, "tek"},
		// The KEK's window comes first: 1,500 s - (40 + u × 150 s).
		{"new", 3600 * time.Second, 1500 * time.Second, 0, 1500 - 40, "kek"},
		{"new", 3600 * time.Second, 1500 * time.Second, 0.6, 1500 - 130, "kek"},
		// The TEKs' point comes first: 900 - 60 - 18 × 0.5 s before the
		// KEK's 86,400 - 40 s.
		{"new", 900 * time.Second, 86400 * time.Second, 0.5, 900 - 69, "tek"},
	} {
		at, what := reregAfterInstall(t, c.jitter, c.tek, c.kek, c.u)
		if !near(at, c.want) || what != c.what {
			t.Errorf("%s jitter, TEK %v, KEK %v, u=%v: re-registers at %.3f s for the %s, want %v s for the %s",
				c.jitter, c.tek, c.kek, c.u, at, what, c.want, c.what)
		}
	}
}

// The jitter is spread over its whole window: 2,000 installs with the
// real random source all fall in [3348, 3420] s for T = 3,600 s, and
// every fifth of the window gets some.
func TestReregistrationJitterDistribution(t *testing.T) {
	const n = 2000
	var fifths [5]int
	for range n {
		s := newSchedule(t, 1, []netip.Addr{testnet.KS(1).Addr()}, nil)
		s.m.InstallForTest("GETVPN", netip.AddrPortFrom(testnet.KS(1).Addr(), 848),
			&gdoi.Policy{GroupID: 1234, TEKs: []gdoi.TEK{{SPI: 1, Lifetime: 3600 * time.Second}}})
		at := s.protocol(s.m.Deadline())
		if at < 3348-1e-6 || at > 3420+1e-6 {
			t.Fatalf("re-registration at %.3f s, outside [3348, 3420]", at)
		}
		fifths[min(4, int((at-3348)/72*5))]++
	}
	for i, k := range fifths {
		// Uniform: 400 each; a fifth under 300 is far from it.
		if k < 300 {
			t.Errorf("fifth %d of the jitter window got %d of %d draws: %v", i+1, k, n, fifths)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-3 && b-a < 1e-3 }

func all(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !near(got[i], want[i]) {
			return false
		}
	}
	return true
}
