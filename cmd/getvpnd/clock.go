package main

import (
	"fmt"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
)

// daemonClock is the daemon's one clock, at the configured timer scale:
// the host's, or the skewed one timers.clock stages. Every part of the
// daemon — the role, its phase 1, its timer and the data plane — reads
// this one, so that a skewed daemon is consistently wrong, as a box whose
// clock is wrong would be, rather than at odds with itself.
func daemonClock(cfg *config.Config, ev *events.Log) (clock.Clock, error) {
	sk := cfg.Timers.Clock
	if !sk.Skewed() {
		return clock.New(cfg.Timers.Scale, nil), nil
	}
	s, err := clock.NewSkew(nil, sk.Offset, sk.DriftPPM)
	if err != nil {
		return clock.Clock{}, fmt.Errorf("timers.clock: %w", err)
	}
	// Every time the daemon then reports or sends is off by the skew;
	// its log says why.
	ev.Logf("info", "clock: skewed by timers.clock: offset %v, drift %g ppm (now %s, host %s)",
		sk.Offset, sk.DriftPPM, s.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
	return s.Clock(cfg.Timers.Scale), nil
}
