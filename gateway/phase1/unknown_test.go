package phase1

import (
	"net/netip"
	"testing"
	"time"
)

func TestInvalidCookieLimiterIsBounded(t *testing.T) {
	var l invalidCookies
	t0 := time.Unix(1_700_000_000, 0)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range invalidCookieSources {
		if !l.allow(addr(i), t0) {
			t.Fatalf("source %d refused", i)
		}
	}
	if l.allow(addr(invalidCookieSources), t0) {
		t.Error("a new source allowed with the table full of recent ones")
	}
	if !l.allow(addr(invalidCookieSources), t0.Add(invalidCookieInterval)) || len(l.sent) != 1 {
		t.Errorf("the table was not pruned: %d entries", len(l.sent))
	}
}
