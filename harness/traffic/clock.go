package traffic

import (
	"time"

	"golang.org/x/sys/unix"
)

// Probe times are CLOCK_MONOTONIC nanoseconds: shared by every network
// namespace of a host and immune to wall-clock steps. They are read through
// Go's monotonic clock (itself CLOCK_MONOTONIC on Linux) from one reference
// taken at start-up, which is cheaper than a clock_gettime system call per
// packet.
var monoStart, monoBase = func() (time.Time, int64) {
	start := time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return start, 0
	}
	return start, ts.Nano()
}()

func monoNow() int64 { return monoBase + int64(time.Since(monoStart)) }
