// Package transport is where the roles meet the network. A role sends
// with a Send (ks.Options.Send, gm.Options.Send) and takes datagrams in
// with a Handler (its HandlePacket); the daemon binds both to its UDP
// socket (cmd/getvpnd), and tests bind them to a Net: an in-memory
// network of endpoints by address, so that a KS and GMs — and later
// cooperating KSs — talk to each other in one process, with datagrams
// lost, watched or delayed as a test says, and no socket or root needed.
package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Datagram is one UDP payload from one endpoint to another.
type Datagram struct {
	From, To netip.AddrPort
	B        []byte
}

// Send sends b to to from a role's endpoint.
type Send func(to netip.AddrPort, b []byte)

// Handler takes a datagram that arrived from from.
type Handler func(from netip.AddrPort, b []byte)

// Net is an in-memory network. Datagrams are handed to their receivers by
// one goroutine, in the order sent, each after the one before returned
// (as a daemon's receive loop does); a datagram to an address nobody
// attached is lost. A Handler that panics is recovered and counted, as the
// daemon's receive loop recovers, and the network goes on.
type Net struct {
	// sync delivers in the sender's goroutine (NewSyncNet).
	sync     bool
	q        chan Datagram
	inFlight atomic.Int64
	panics   atomic.Int64
	done     chan struct{}
	closing  sync.Once

	mu       sync.Mutex
	handlers map[netip.AddrPort]Handler
	inboxes  map[netip.AddrPort]chan []byte
	drop     func(Datagram) bool
	taps     []func(Datagram)
}

// NewNet starts an in-memory network; Close stops it.
func NewNet() *Net {
	n := &Net{q: make(chan Datagram, 4096), done: make(chan struct{}),
		handlers: map[netip.AddrPort]Handler{}, inboxes: map[netip.AddrPort]chan []byte{}}
	go n.run()
	return n
}

// NewSyncNet is a network that delivers each datagram in the sender's
// goroutine before Send returns: what a role sends is in its receiver's
// Inbox when the call that sent it returns. Only for receivers that are
// inboxes or handlers that never send back under a lock the sender holds.
func NewSyncNet() *Net {
	n := &Net{sync: true, done: make(chan struct{}),
		handlers: map[netip.AddrPort]Handler{}, inboxes: map[netip.AddrPort]chan []byte{}}
	close(n.done)
	return n
}

// Attach gives addr the handler h and returns the Send of its endpoint.
func (n *Net) Attach(addr netip.AddrPort, h Handler) Send {
	n.mu.Lock()
	n.handlers[addr] = h
	n.mu.Unlock()
	return n.From(addr)
}

// From is the Send of endpoint addr, for a role whose handler is attached
// later or not at all.
func (n *Net) From(addr netip.AddrPort) Send {
	return func(to netip.AddrPort, b []byte) {
		d := Datagram{From: addr, To: to, B: bytes.Clone(b)}
		if n.sync {
			n.deliver(d)
			return
		}
		n.inFlight.Add(1)
		n.q <- d
	}
}

// Inbox makes addr an endpoint the test reads itself: what arrives for it
// goes to the returned channel (up to 256 waiting; more are lost).
func (n *Net) Inbox(addr netip.AddrPort) <-chan []byte { return n.InboxSize(addr, 256) }

// InboxSize is Inbox with room for size datagrams: a benchmark's GM that
// waits for each answer needs few, and a channel of 256 is 6 KB to make
// per registration.
func (n *Net) InboxSize(addr netip.AddrPort, size int) <-chan []byte {
	ch := make(chan []byte, size)
	n.mu.Lock()
	n.inboxes[addr] = ch
	n.mu.Unlock()
	return ch
}

// CloseInbox forgets addr's Inbox: what arrives for it from now on is
// lost (a benchmark's GM that has registered).
func (n *Net) CloseInbox(addr netip.AddrPort) {
	n.mu.Lock()
	delete(n.inboxes, addr)
	n.mu.Unlock()
}

// Waiting is how many datagrams wait in addr's Inbox (0 without one).
func (n *Net) Waiting(addr netip.AddrPort) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.inboxes[addr])
}

// Drain discards what waits in addr's Inbox.
func (n *Net) Drain(addr netip.AddrPort) {
	n.mu.Lock()
	ch := n.inboxes[addr]
	n.mu.Unlock()
	for ch != nil && len(ch) > 0 {
		<-ch
	}
}

// Drop loses every datagram f returns true for (nil: none), from now on.
func (n *Net) Drop(f func(Datagram) bool) {
	n.mu.Lock()
	n.drop = f
	n.mu.Unlock()
}

// Tap calls f with every datagram sent, lost ones included, before it is
// delivered.
func (n *Net) Tap(f func(Datagram)) {
	n.mu.Lock()
	n.taps = append(n.taps, f)
	n.mu.Unlock()
}

// Panics is how many deliveries a handler panicked on.
func (n *Net) Panics() int64 { return n.panics.Load() }

// Settle waits until every datagram sent has been handled (and what the
// handlers sent in turn), at most within.
func (n *Net) Settle(within time.Duration) error {
	deadline := time.Now().Add(within)
	for n.inFlight.Load() > 0 {
		if time.Now().After(deadline) {
			return errors.New("transport: datagrams still in flight")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// Close stops the network once the datagrams sent so far are handled;
// sending after Close panics.
func (n *Net) Close() {
	if n.sync {
		return
	}
	n.closing.Do(func() { close(n.q) })
	<-n.done
}

func (n *Net) run() {
	defer close(n.done)
	for d := range n.q {
		n.deliver(d)
		n.inFlight.Add(-1)
	}
}

func (n *Net) deliver(d Datagram) {
	defer func() {
		if recover() != nil {
			n.panics.Add(1)
		}
	}()
	n.mu.Lock()
	taps, drop := n.taps, n.drop != nil && n.drop(d)
	h, inbox := n.handlers[d.To], n.inboxes[d.To]
	n.mu.Unlock()
	for _, tap := range taps {
		tap(d)
	}
	switch {
	case drop:
	case h != nil:
		h(d.From, d.B)
	case inbox != nil:
		select {
		case inbox <- d.B:
		default:
		}
	}
}
