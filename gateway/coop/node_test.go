package coop

import (
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	wire "github.com/getlab/getlab/gateway/wire/coop"
)

// host records what a Node asks of its KS.
type host struct {
	anns     []sent
	events   []string
	promoted []netip.Addr
}

type sent struct {
	to netip.Addr
	f  wire.Flags
}

func (h *host) Announce(to netip.Addr, f wire.Flags) { h.anns = append(h.anns, sent{to, f}) }
func (h *host) Promoted(prev netip.Addr)             { h.promoted = append(h.promoted, prev) }
func (h *host) Emit(name string, kv ...string)       { h.events = append(h.events, name) }

var (
	self  = netip.MustParseAddr("192.0.2.2")
	high  = netip.MustParseAddr("192.0.2.1")
	other = netip.MustParseAddr("192.0.2.3")
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newNode(h *host, pri uint8) *Node {
	return New(Config{Group: "G", Self: self, Priority: pri, Peers: []netip.Addr{high, other},
		Refresh: 20 * time.Second, Periodic: 30 * time.Second, Retransmit: 2}, clock.New(1, nil), h)
}

func ann(pri uint8, f wire.Flags, seq uint64) *wire.ANN {
	return &wire.ANN{Version: wire.Current, Priority: pri, Flags: f, Antireplay: seq}
}

// TestBootElection: alone, a KS asks its peers at 0 and 10 s and becomes
// primary at 20 s, one refresh interval after it started.
func TestBootElection(t *testing.T) {
	h := &host{}
	n := newNode(h, 50)
	n.Start(t0)
	if len(h.anns) != 2 || !h.anns[0].f.Has(wire.FlagReplyRequest) {
		t.Fatalf("start: %v", h.anns)
	}
	n.Timeout(n.Deadline())
	if n.Deadline() != t0.Add(20*time.Second) || len(h.anns) != 4 {
		t.Fatalf("second round: deadline %v, %d ANNs", n.Deadline().Sub(t0), len(h.anns))
	}
	n.Timeout(n.Deadline())
	if !n.Primary() || len(h.promoted) != 1 || h.promoted[0].IsValid() {
		t.Errorf("not primary after the election (promoted %v)", h.promoted)
	}
}

// TestHeardPrimaryIsFollowed: a primary heard during the election is
// followed whatever its priority (no pre-emption), its keys adopted.
func TestHeardPrimaryIsFollowed(t *testing.T) {
	h := &host{}
	n := newNode(h, 200)
	n.Start(t0)
	p := n.Peer(other)
	v, ok := n.Receive(t0.Add(time.Second), p, ann(10, wire.FlagPrimary|wire.FlagPolicy|wire.FlagReply, 1), 100)
	if !ok || !v.AdoptKeys || n.Leader() != other {
		t.Fatalf("verdict %+v ok %v leader %v", v, ok, n.Leader())
	}
	n.Timeout(t0.Add(20 * time.Second))
	if n.Primary() {
		t.Error("pre-empted a primary of lower priority")
	}
}

// TestVersionMismatch: a peer of another minor version is dropped and
// logged once (CO-60).
func TestVersionMismatch(t *testing.T) {
	h := &host{}
	n := newNode(h, 50)
	n.Start(t0)
	a := ann(100, wire.FlagPrimary, 1)
	a.Version = wire.Version{Major: 1, Minor: 1}
	if _, ok := n.Receive(t0, n.Peer(high), a, 100); ok {
		t.Error("accepted an ANN of version 1.1.0")
	}
	a.Antireplay = 2
	n.Receive(t0, n.Peer(high), a, 100)
	count := 0
	for _, e := range h.events {
		if e == "COOP_KS_VER_MISMATCH" {
			count++
		}
	}
	if count != 1 || n.Leader().IsValid() {
		t.Errorf("COOP_KS_VER_MISMATCH logged %d times, leader %v", count, n.Leader())
	}
}

// TestReplyRequestAnswered: an ANN with the reply-request flag gets an
// ANN back, flagged a reply; a replayed one is dropped.
func TestReplyRequestAnswered(t *testing.T) {
	h := &host{}
	n := newNode(h, 50)
	n.Start(t0)
	before := len(h.anns)
	n.Receive(t0, n.Peer(other), ann(10, wire.FlagReplyRequest|wire.FlagElecting, 5), 100)
	if len(h.anns) != before+1 || h.anns[before].to != other || !h.anns[before].f.Has(wire.FlagReply) {
		t.Fatalf("answer: %v", h.anns[before:])
	}
	if _, ok := n.Receive(t0, n.Peer(other), ann(10, wire.FlagReplyRequest, 5), 100); ok {
		t.Error("a replayed ANN was accepted")
	}
}

// TestOutranks: priority first, then address (CO-11).
func TestOutranks(t *testing.T) {
	if !outranks(2, high, 1, other) || outranks(1, other, 2, high) {
		t.Error("priority does not decide")
	}
	if !outranks(5, other, 5, high) || outranks(5, high, 5, other) {
		t.Error("equal priorities: the higher address does not win")
	}
}
