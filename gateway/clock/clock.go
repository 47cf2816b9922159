// Package clock is the daemon's one source of time (DESIGN.md: every
// protocol timer comes from one clock with a scale). A Clock reads wall
// time and converts between protocol durations — what the seeds and the
// wire speak of: 10 s retries, 3,600 s lifetimes — and wall durations, at
// the configured timer scale (timers.scale: 0.01 runs protocol time 100
// times faster, for the bench). Roles never read time.Now or arm timers
// of their own: they are told the time (Timeout(now)) and say when they
// next need to be (Deadline); Drive is the one timer that does it for a
// role in the daemon, and tests call Timeout themselves with a Fake's
// time.
package clock

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Clock reads wall time and converts durations at a timer scale. The zero
// value is real time at scale 1.
type Clock struct {
	now   func() time.Time
	scale float64
	// rate is how many seconds now advances per real second (0: 1); a
	// Skew's clock knows it, so that Drive sleeps in real time.
	rate float64
}

// New returns a clock of scale (≤ 0 or NaN means 1) reading now (nil:
// the system's wall clock).
func New(scale float64, now func() time.Time) Clock {
	if scale <= 0 || math.IsNaN(scale) {
		scale = 1
	}
	return Clock{now: now, scale: scale}
}

// Now is the wall time.
func (c Clock) Now() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// Scale is the timer scale: wall seconds per protocol second.
func (c Clock) Scale() float64 {
	if c.scale == 0 {
		return 1
	}
	return c.scale
}

// Wall is the wall duration of protocol duration d, saturating.
func (c Clock) Wall(d time.Duration) time.Duration {
	v := float64(d) * c.Scale()
	if v >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	if v <= math.MinInt64 {
		return time.Duration(math.MinInt64)
	}
	return time.Duration(v)
}

// Protocol is the protocol duration of wall duration d.
func (c Clock) Protocol(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Scale())
}

// After is the wall time protocol duration d after wall time t.
func (c Clock) After(t time.Time, d time.Duration) time.Time { return t.Add(c.Wall(d)) }

// Since is the protocol time elapsed from wall time t until now.
func (c Clock) Since(now, t time.Time) time.Duration { return c.Protocol(now.Sub(t)) }

// Timed is a role driven by one timer: Deadline is when it next needs
// Timeout (zero: nothing scheduled), and Wake signals that its deadline
// moved (a datagram scheduled something).
type Timed interface {
	Deadline() time.Time
	Timeout(now time.Time)
	Wake() <-chan struct{}
}

// Drive is a role's one timer in the daemon: it calls r.Timeout with the
// clock's time whenever r's deadline is reached, until ctx ends.
func Drive(ctx context.Context, c Clock, r Timed) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := time.Hour
		if d := r.Deadline(); !d.IsZero() {
			wait = c.sleep(d.Sub(c.Now()))
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.Wake():
		case <-t.C:
			// A timer that woke before the clock reached the deadline
			// (a drifting clock whose rate Drive was not told, or
			// rounding) sleeps the rest rather than time out early.
			now := c.Now()
			if d := r.Deadline(); !d.IsZero() && now.Before(d) {
				continue
			}
			r.Timeout(now)
		}
	}
}

// sleep is the real time over which the clock's Now advances by d (the
// timer behind Drive runs in real time), rounded up so that it is never
// short.
func (c Clock) sleep(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if c.rate == 0 || c.rate == 1 {
		return d
	}
	v := math.Ceil(float64(d) / c.rate)
	if v >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(v)
}

// Skew is a wall clock that is off by an offset and runs fast or slow by
// a drift: the bench's way (timers.clock) to stage a daemon whose clock is
// wrong — a GM whose clock runs fast, a KS set an hour ahead — without
// touching the host's clock, which every node of a lab shares. At a real
// time e after the Skew was made it reads base + offset + e·drift, so its
// own elapsed time is e·(1 + drift).
type Skew struct {
	base   func() time.Time
	origin time.Time
	offset time.Duration
	ppm    float64
}

// MaxDriftPPM bounds a drift, exclusive: at -1e6 ppm a clock stands still
// and below it runs backwards, and deadlines on such a clock are never
// reached; +1e6 (twice real speed) is the matching bound on the other
// side.
const MaxDriftPPM = 1e6

// NewSkew returns base (nil: the system's wall clock) shifted by offset
// and drifting by driftPPM parts per million (|driftPPM| < MaxDriftPPM).
func NewSkew(base func() time.Time, offset time.Duration, driftPPM float64) (*Skew, error) {
	if !(math.Abs(driftPPM) < MaxDriftPPM) {
		return nil, fmt.Errorf("clock: drift %v ppm: must be between -%v and %v, exclusive (a clock must run forwards)", driftPPM, MaxDriftPPM, MaxDriftPPM)
	}
	if base == nil {
		base = time.Now
	}
	return &Skew{base: base, origin: base(), offset: offset, ppm: driftPPM}, nil
}

// Now is the skewed wall time. It is base's time moved with Add, which
// moves the monotonic reading along with the wall one: Sub and Before
// between two of its times measure the skewed clock's elapsed time, not
// the host's.
func (s *Skew) Now() time.Time {
	b := s.base()
	return b.Add(s.offset + time.Duration(float64(b.Sub(s.origin))*s.ppm/1e6))
}

// Offset is the skew's offset.
func (s *Skew) Offset() time.Duration { return s.offset }

// DriftPPM is the skew's drift in parts per million.
func (s *Skew) DriftPPM() float64 { return s.ppm }

// Rate is how many seconds the skewed clock advances per real second.
func (s *Skew) Rate() float64 { return 1 + s.ppm/1e6 }

// Clock is a clock of scale reading s, which Drive sleeps on in real time.
func (s *Skew) Clock(scale float64) Clock {
	c := New(scale, s.Now)
	c.rate = s.Rate()
	return c
}

// Waker is the Wake half of Timed, for a role to embed: Kick after
// changing a deadline.
type Waker struct {
	once sync.Once
	ch   chan struct{}
}

func (w *Waker) init() { w.once.Do(func() { w.ch = make(chan struct{}, 1) }) }

// Wake is the channel Drive waits on.
func (w *Waker) Wake() <-chan struct{} { w.init(); return w.ch }

// Kick tells Drive to read the deadline again; it never blocks.
func (w *Waker) Kick() {
	w.init()
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Fake is a settable wall clock for tests.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake returns a fake clock at t.
func NewFake(t time.Time) *Fake { return &Fake{t: t} }

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Set moves the fake time to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}

// Advance moves the fake time on by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	return f.t
}
