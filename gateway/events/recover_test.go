package events

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/counter"
)

// A worker loop whose handler panics on some inputs recovers from each,
// counts it, logs it (rate-limited, the input's hex bounded) and goes on
// with the inputs after it.
func TestRecoverKeepsTheLoopRunning(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "text", "info")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.SetClock(func() time.Time { return now })
	var c Counters
	count := func() { c.Inc(counter.InternalError) }

	var handled []int
	handle := func(pkt []byte) {
		if pkt[0] == 0xff {
			_ = pkt[len(pkt):][1] // the bug: an index past the end
		}
		handled = append(handled, int(pkt[1]))
	}
	worker := func(pkt []byte) {
		defer Recover(l, count, "test", "192.0.2.66:848", pkt)
		handle(pkt)
	}
	const n = 1000
	for i := range n {
		pkt := make([]byte, 1000)
		pkt[1] = byte(i)
		if i%2 == 1 {
			pkt[0] = 0xff
		}
		worker(pkt)
	}
	if len(handled) != n/2 {
		t.Fatalf("handled %d inputs, want %d: the loop stopped", len(handled), n/2)
	}
	if got := c.Get(counter.InternalError); got != n/2 {
		t.Fatalf("internal_error = %d, want %d", got, n/2)
	}
	if got := l.Counts()["INTERNAL_ERROR"]; got != n/2 {
		t.Fatalf("INTERNAL_ERROR counted %d times, want %d", got, n/2)
	}
	evs := l.Since(0)
	if len(evs) == 0 || len(evs) > DefaultBurst {
		t.Fatalf("%d INTERNAL_ERROR events in the ring, want 1 to %d (rate-limited)", len(evs), DefaultBurst)
	}
	e := evs[0]
	if e.Name != "INTERNAL_ERROR" || e.Fields["worker"] != "test" || e.Fields["size"] != "1000" ||
		!strings.Contains(e.Fields["reason"], "index out of range") {
		t.Fatalf("event %+v", e)
	}
	want := make([]byte, MaxHexDump)
	want[0], want[1] = 0xff, 1
	if e.Fields["packet"] != hex.EncodeToString(want) {
		t.Fatalf("packet field %q, want the first %d octets in hex", e.Fields["packet"], MaxHexDump)
	}
	if len(e.Fields["stack"]) > MaxStack || !strings.Contains(e.Fields["stack"], "TestRecoverKeepsTheLoopRunning") {
		t.Fatalf("stack field (%d octets) does not show where it panicked", len(e.Fields["stack"]))
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(evs) || buf.Len() > len(evs)*(2*MaxHexDump+MaxStack+1024) {
		t.Fatalf("%d lines, %d bytes for %d events", lines, buf.Len(), len(evs))
	}
	// The suppressed ones are reported once logging resumes.
	now = now.Add(time.Second)
	worker([]byte{0xff, 0})
	last := l.Since(evs[len(evs)-1].Seq)
	if len(last) != 1 || last[0].Fields[SuppressedField] != strconv.Itoa(n/2-len(evs)) {
		t.Fatalf("after a second: %+v, want suppressed=%d", last, n/2-len(evs))
	}
}

// Without a panic Recover does nothing; nil Log and counter are allowed.
func TestRecoverNoPanic(t *testing.T) {
	l := New(nil, "text", "info")
	calls := 0
	func() {
		defer Recover(l, func() { calls++ }, "test", "", nil)
	}()
	func() {
		defer Recover(nil, nil, "test", "", nil)
		panic("no log, no counter")
	}()
	if calls != 0 || len(l.Since(0)) != 0 {
		t.Fatalf("Recover without a panic: %d calls, %d events", calls, len(l.Since(0)))
	}
}
