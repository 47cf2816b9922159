package gdoi

import (
	"testing"
	"time"
)

func TestTEKShortened(t *testing.T) {
	for _, tc := range []struct{ rlt, clt, want time.Duration }{
		{3000 * time.Second, 7200 * time.Second, 360 * time.Second}, // the seeds' example: max(90, 5% of 7200)
		{3000 * time.Second, 900 * time.Second, 90 * time.Second},   // at least 90 s
		{60 * time.Second, 7200 * time.Second, 60 * time.Second},    // never longer than what remains
		{80000 * time.Second, 86400 * time.Second, time.Hour},       // at most an hour
	} {
		if got := TEKShortened(tc.rlt, tc.clt); got != tc.want {
			t.Errorf("TEK_SLT(RLT %v, CLT %v) = %v, want %v", tc.rlt, tc.clt, got, tc.want)
		}
	}
}

func TestImmediateReregistrationBound(t *testing.T) {
	for _, tc := range []struct{ rlt, clt, want time.Duration }{
		{3000 * time.Second, 7200 * time.Second, 144 * time.Second}, // the seeds' example: 2% of 7200
		{100 * time.Second, 7200 * time.Second, 100 * time.Second},  // never longer than what remains
		{86400 * time.Second, 86400 * 3 * time.Second, time.Hour},   // at most an hour
	} {
		if got := ImmediateReregistrationBound(tc.rlt, tc.clt); got != tc.want {
			t.Errorf("bound(RLT %v, CLT %v) = %v, want %v", tc.rlt, tc.clt, got, tc.want)
		}
	}
}
