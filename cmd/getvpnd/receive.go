package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

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

// serveSharded reads conn on one goroutine and hands each datagram to one
// of n workers, chosen by its source address: one peer's datagrams are
// handled in the order they came (a cooperating KS's announcements carry
// sequence numbers that a reordering would make look replayed), different
// peers' side by side, on every core. n ≤ 1 handles them on the reader.
func (r *receiver) serveSharded(ctx context.Context, conn *net.UDPConn, n int) {
	if n <= 1 {
		r.serve(ctx, conn)
		return
	}
	type datagram struct {
		from netip.AddrPort
		pkt  []byte
	}
	queues := make([]chan datagram, n)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan datagram, shardQueue)
		wg.Go(func() {
			for d := range queues[i] {
				r.one(d.from, d.pkt)
			}
		})
	}
	defer wg.Wait()
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	reader := *r
	reader.handle = func(from netip.AddrPort, pkt []byte) {
		q := queues[shard(from.Addr(), n)]
		select {
		case q <- datagram{from, pkt}:
		default:
			// That worker is behind: the datagram is dropped as a full
			// socket buffer would drop it, and counted.
			r.counters.Inc(counter.ReceiveErrors)
		}
	}
	reader.serve(ctx, conn)
}

// shard is the worker of n for datagrams from a: FNV-1a of the address,
// computed in place (a hash.Hash per datagram would be allocated on the
// path every acknowledgement of a rekey fan-out takes).
func shard(a netip.Addr, n int) int {
	h := uint32(2166136261)
	for _, b := range a.As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	return int(h % uint32(n))
}

// shardQueue is how many datagrams wait for one worker of serveSharded.
const shardQueue = 1024

// one hands one datagram to the role, recovering from a panic in it
// (counted as internal_error, logged as INTERNAL_ERROR).
func (r *receiver) one(from netip.AddrPort, pkt []byte) {
	defer events.Recover(r.ev, r.internalError, r.worker, from.String(), pkt)
	r.handle(from, pkt)
}

func (r *receiver) internalError() { r.counters.Inc(counter.InternalError) }
