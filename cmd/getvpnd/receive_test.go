package main

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/events"
)

// A role whose handler panics on some datagrams does not take the receive
// loop down: each panic is counted (internal_error) and logged
// (INTERNAL_ERROR), and the datagrams after it are handled.
func TestReceiverSurvivesAPanickingHandler(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var handled []string
	ev := events.New(nil, "text", "info")
	counters := &events.Counters{}
	rx := &receiver{ev: ev, counters: counters, worker: "gdoi", received: counter.PacketsReceived,
		handle: func(from netip.AddrPort, pkt []byte) {
			if string(pkt) == "boom" {
				var m map[string]int
				m["role state"]++ // the bug: a nil map
			}
			mu.Lock()
			handled = append(handled, string(pkt))
			mu.Unlock()
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rx.serve(ctx, conn); close(done) }()

	c, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"a", "boom", "b", "boom", "c"} {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(handled)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %v after the panics, want a b c (counters %v)", handled, counters.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := counters.Get(counter.InternalError); got != 2 {
		t.Fatalf("internal_error = %d, want 2", got)
	}
	if got := counters.Get(counter.PacketsReceived); got != 5 {
		t.Fatalf("packets_received = %d, want 5", got)
	}
	evs := ev.Since(0)
	if len(evs) != 2 || evs[0].Name != "INTERNAL_ERROR" || evs[0].Fields["worker"] != "gdoi" ||
		evs[0].Fields["packet"] != "626f6f6d" || evs[0].Fields["peer"] != c.LocalAddr().String() {
		t.Fatalf("events %+v", evs)
	}
	cancel()
	conn.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return once its socket was closed")
	}
}
