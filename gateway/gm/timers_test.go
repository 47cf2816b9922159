package gm

import (
	"testing"
	"time"
)

func TestGDOIBackoffDoublesUpTo480(t *testing.T) {
	// S0 L4539-4617: 70, 140, 280, 480, then 480 for pass 5 and later.
	want := []time.Duration{70, 140, 280, 480, 480, 480}
	for pass, w := range want {
		if got := gdoiBackoff(pass); got != w*time.Second {
			t.Errorf("pass %d: %v, want %v", pass+1, got, w*time.Second)
		}
	}
}

func TestReregistrationWindows(t *testing.T) {
	// S0 §3.6.5.1-2 worked examples: the lead before expiry is R plus a
	// jitter in [0, J] (new) or [-6 s, +6 s] (legacy).
	for _, tc := range []struct {
		life     time.Duration
		jitter   string
		min, max time.Duration
	}{
		{3600 * time.Second, "new", 180 * time.Second, 252 * time.Second},
		{200 * time.Second, "new", 60 * time.Second, 66 * time.Second},
		{3600 * time.Second, "legacy", 174 * time.Second, 186 * time.Second},
		{800 * time.Second, "legacy", 54 * time.Second, 66 * time.Second},
	} {
		lo := ReregistrationLead(tc.life, tc.jitter, 0)
		hi := ReregistrationLead(tc.life, tc.jitter, 0.999999)
		if lo < tc.min || lo > tc.min+time.Millisecond || hi > tc.max || hi < tc.max-time.Millisecond {
			t.Errorf("T=%v %s: lead spans [%v, %v], want [%v, %v]", tc.life, tc.jitter, lo, hi, tc.min, tc.max)
		}
	}
}
