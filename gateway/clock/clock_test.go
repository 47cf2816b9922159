package clock

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConversions(t *testing.T) {
	c := New(0.01, nil)
	if got := c.Wall(10 * time.Second); got != 100*time.Millisecond {
		t.Errorf("Wall(10s) at 0.01 = %v", got)
	}
	if got := c.Protocol(100 * time.Millisecond); got != 10*time.Second {
		t.Errorf("Protocol(100ms) at 0.01 = %v", got)
	}
	if got := New(0.05, nil).Protocol(New(0.05, nil).Wall(3600 * time.Second)); got != 3600*time.Second {
		t.Errorf("Protocol(Wall(3600s)) = %v", got)
	}
	t0 := time.Unix(1000, 0)
	if got := c.Since(t0.Add(time.Second), t0); got != 100*time.Second {
		t.Errorf("Since 1 s of wall time = %v of protocol time", got)
	}
	if got := c.After(t0, 3600*time.Second); !got.Equal(t0.Add(36 * time.Second)) {
		t.Errorf("After(t0, 1h) = %v", got)
	}
	for _, s := range []float64{0, -1} {
		if New(s, nil).Scale() != 1 {
			t.Errorf("scale %v is not taken as 1", s)
		}
	}
	if (Clock{}).Wall(time.Second) != time.Second {
		t.Error("the zero Clock is not scale 1")
	}
	if New(1e12, nil).Wall(time.Hour) != time.Duration(1<<63-1) {
		t.Error("Wall does not saturate")
	}
	f := NewFake(t0)
	if New(1, f.Now).Now() != t0 || !f.Advance(time.Second).Equal(t0.Add(time.Second)) {
		t.Error("the fake clock")
	}
}

// timed is a role with one deadline, recording every Timeout call (an
// early one included) and whether it found its deadline due.
type timed struct {
	Waker
	mu       sync.Mutex
	deadline time.Time
	calls    []time.Time
	fired    []time.Time
}

func (r *timed) Deadline() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.deadline }
func (r *timed) Timeout(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, now)
	if !r.deadline.IsZero() && !now.Before(r.deadline) {
		r.fired = append(r.fired, now)
		r.deadline = time.Time{}
	}
}
func (r *timed) set(d time.Time) { r.mu.Lock(); r.deadline = d; r.mu.Unlock(); r.Kick() }
func (r *timed) count() int      { r.mu.Lock(); defer r.mu.Unlock(); return len(r.fired) }

// Drive sleeps while nothing is scheduled, wakes when a deadline is set,
// and calls Timeout once it is reached, not before.
func TestDrive(t *testing.T) {
	r := &timed{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Drive(ctx, Clock{}, r) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	idle := len(r.calls)
	r.mu.Unlock()
	if idle != 0 {
		t.Fatal("Timeout with nothing scheduled")
	}
	at := time.Now().Add(30 * time.Millisecond)
	r.set(at)
	deadline := time.Now().Add(5 * time.Second)
	for r.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.count() != 1 {
		t.Fatal("Timeout did not run at the deadline")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Drive calls Timeout when the deadline is reached: once, not before.
	if len(r.calls) != 1 || r.calls[0].Before(at) {
		t.Errorf("Timeout called at %v, the deadline %v", r.calls, at)
	}
}

// A Skew reads its base plus the offset plus drift·(real time since it
// was made): offset alone, drift alone (fast and slow), both.
func TestSkew(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		offset  time.Duration
		ppm     float64
		elapsed time.Duration // real
		want    time.Duration // skewed reading minus t0
	}{
		{"none", 0, 0, time.Hour, time.Hour},
		{"offset ahead", time.Hour, 0, 10 * time.Second, time.Hour + 10*time.Second},
		{"offset behind", -90 * time.Second, 0, 0, -90 * time.Second},
		{"drift fast", 0, 100, 10_000 * time.Second, 10_001 * time.Second},
		{"drift slow", 0, -250_000, 4 * time.Second, 3 * time.Second},
		{"both", time.Hour, 500_000, 2 * time.Second, time.Hour + 3*time.Second},
	} {
		f := NewFake(t0)
		s, err := NewSkew(f.Now, tc.offset, tc.ppm)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.Now().Sub(t0); got != tc.offset {
			t.Errorf("%s: at start %v off, want the offset %v", tc.name, got, tc.offset)
		}
		f.Advance(tc.elapsed)
		if got := s.Now().Sub(t0); got != tc.want {
			t.Errorf("%s: after %v of real time %v off t0, want %v", tc.name, tc.elapsed, got, tc.want)
		}
	}
}

// A drift of ±1e6 ppm or more (a clock that stands still or runs
// backwards, or twice as fast) is refused, as is one that is not a number.
func TestSkewBounds(t *testing.T) {
	for _, ppm := range []float64{1e6, -1e6, 2e6, -5e6, math.NaN(), math.Inf(1)} {
		if _, err := NewSkew(nil, 0, ppm); err == nil {
			t.Errorf("drift %v ppm accepted", ppm)
		}
	}
	for _, ppm := range []float64{999_999, -999_999, 0, 50} {
		if _, err := NewSkew(nil, 0, ppm); err != nil {
			t.Errorf("drift %v ppm: %v", ppm, err)
		}
	}
}

// On the system clock, a Skew's times keep their monotonic reading, and
// it is skewed with the wall one: Drive and the roles compare times with
// Sub and Before, which use it.
func TestSkewMonotonic(t *testing.T) {
	s, err := NewSkew(nil, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := s.Now()
	if !strings.Contains(now.String(), " m=") {
		t.Fatalf("%v has no monotonic reading", now)
	}
	if d := now.Sub(time.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("skewed minus real time %v, want an hour", d)
	}
	if d := now.Round(0).Sub(time.Now().Round(0)); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("skewed minus real wall time %v, want an hour", d)
	}
}

// Drive's timer runs in real time: a wait on a drifting clock is
// divided by its rate, rounded up.
func TestSleep(t *testing.T) {
	skew := func(ppm float64) Clock {
		s, err := NewSkew(nil, time.Hour, ppm)
		if err != nil {
			t.Fatal(err)
		}
		return s.Clock(0.01)
	}
	for _, tc := range []struct {
		name      string
		c         Clock
		d, want   time.Duration
		wantScale float64
	}{
		{"real", Clock{}, time.Second, time.Second, 1},
		{"offset only", skew(0), time.Second, time.Second, 0.01},
		{"fast", skew(500_000), 3 * time.Second, 2 * time.Second, 0.01},
		{"slow", skew(-500_000), time.Second, 2 * time.Second, 0.01},
		{"past", skew(500_000), -time.Second, 0, 0.01},
		{"rounded up", skew(-999_999), time.Nanosecond, time.Millisecond, 0.01},
	} {
		if got := tc.c.sleep(tc.d); got != tc.want {
			t.Errorf("%s: sleep(%v) = %v, want %v", tc.name, tc.d, got, tc.want)
		}
		if tc.c.Scale() != tc.wantScale {
			t.Errorf("%s: scale %v", tc.name, tc.c.Scale())
		}
	}
}

// Drive on a drifting clock times out when the skewed clock reaches the
// deadline: on a fast clock well before the same wait in real time, on a
// slow one never before the deadline.
func TestDriveSkewed(t *testing.T) {
	run := func(ppm float64, wait time.Duration) (r *timed, at time.Time, took time.Duration) {
		s, err := NewSkew(nil, -time.Hour, ppm)
		if err != nil {
			t.Fatal(err)
		}
		c := s.Clock(1)
		r = &timed{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); Drive(ctx, c, r) }()
		defer func() { cancel(); <-done }()
		start := time.Now()
		at = c.Now().Add(wait)
		r.set(at)
		for r.count() == 0 && time.Since(start) < 10*time.Second {
			time.Sleep(time.Millisecond)
		}
		took = time.Since(start)
		if r.count() != 1 {
			t.Fatalf("drift %v ppm: Timeout did not run", ppm)
		}
		return r, at, took
	}
	// 1.9 times real speed: a second of its time is 0.53 s of real time.
	r, at, took := run(900_000, time.Second)
	if took >= time.Second {
		t.Errorf("fast clock: Timeout after %v of real time for a second of its own", took)
	}
	if r.calls[0].Before(at) {
		t.Errorf("fast clock: Timeout at %v, before the deadline %v", r.calls[0], at)
	}
	// Half speed: 100 ms of its time is 200 ms of real time.
	r, at, took = run(-500_000, 100*time.Millisecond)
	if len(r.calls) != 1 || r.calls[0].Before(at) {
		t.Errorf("slow clock: Timeout at %v, the deadline %v", r.calls, at)
	}
	if took < 190*time.Millisecond {
		t.Errorf("slow clock: Timeout after %v of real time for 100 ms of its own", took)
	}
}
