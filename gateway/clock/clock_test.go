package clock

import (
	"context"
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
