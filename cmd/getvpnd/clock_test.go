package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
)

// TestDaemonClock: timers.clock gives the daemon a clock off the host's
// by its offset, at its scale, said in the log at start; without it the
// clock is the host's and nothing is said.
func TestDaemonClock(t *testing.T) {
	var log bytes.Buffer
	cfg := &config.Config{Timers: config.Timers{Scale: 0.01, Clock: config.ClockSkew{Offset: -time.Hour, DriftPPM: 250}}}
	clk, err := daemonClock(cfg, events.New(&log, "text", "info"))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Now().Sub(clk.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("the skewed clock is %v behind the host's, want an hour", d)
	}
	if clk.Scale() != 0.01 {
		t.Errorf("scale %v, want 0.01", clk.Scale())
	}
	if !strings.Contains(log.String(), "clock: skewed by timers.clock: offset -1h0m0s, drift 250 ppm") {
		t.Errorf("log %q does not say the skew", log.String())
	}

	log.Reset()
	cfg.Timers.Clock = config.ClockSkew{}
	if clk, err = daemonClock(cfg, events.New(&log, "text", "info")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(clk.Now()); d < -time.Second || d > time.Second {
		t.Errorf("the unskewed clock is %v off the host's", d)
	}
	if log.Len() != 0 {
		t.Errorf("an unskewed clock logged %q", log.String())
	}

	cfg.Timers.Clock = config.ClockSkew{DriftPPM: -1e6}
	if _, err := daemonClock(cfg, events.New(&log, "text", "info")); err == nil || !strings.Contains(err.Error(), "timers.clock") {
		t.Errorf("a clock that stands still: %v", err)
	}
}
