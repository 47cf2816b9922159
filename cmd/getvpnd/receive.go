package main

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/events"
)

// receiver reads datagrams from one socket and hands each to a role. Every
// datagram is hostile: a bug one of them hits in the role (a panic) costs
// that datagram, not the daemon; the role releases its locks with defers.
type receiver struct {
	ev       *events.Log
	counters *events.Counters
	worker   string       // in INTERNAL_ERROR: "gdoi", "rekey-multicast"
	received counter.Name // datagrams read
	handle   func(from netip.AddrPort, pkt []byte)
}

// serve reads from conn until ctx is done or conn is closed.
func (r *receiver) serve(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.counters.Inc(counter.ReceiveErrors)
			continue
		}
		r.counters.Inc(r.received)
		pkt := make([]byte, n)
		copy(pkt, buf[:n])
		r.one(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), pkt)
	}
}

// one hands one datagram to the role, recovering from a panic in it
// (counted as internal_error, logged as INTERNAL_ERROR).
func (r *receiver) one(from netip.AddrPort, pkt []byte) {
	defer events.Recover(r.ev, r.internalError, r.worker, from.String(), pkt)
	r.handle(from, pkt)
}

func (r *receiver) internalError() { r.counters.Inc(counter.InternalError) }
