package transport

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/internal/testnet"
)

// The endpoints: the lab's KS and its two GMs.
var a, b, c = testnet.KS(1), testnet.GM(1), testnet.GM(2)

// Two handlers play ping-pong through the network; every datagram is
// tapped, the lost one included, and delivered in order after the one
// before; Settle waits for the whole exchange.
func TestNetDeliversInOrderAndSettles(t *testing.T) {
	n := NewNet()
	defer n.Close()
	var mu sync.Mutex
	var got []string
	var fromA, fromB Send
	fromA = n.Attach(a, func(from netip.AddrPort, p []byte) {
		mu.Lock()
		got = append(got, "a<-"+string(p))
		mu.Unlock()
		if len(p) < 5 {
			fromA(from, append(p, 'a'))
		}
	})
	fromB = n.Attach(b, func(from netip.AddrPort, p []byte) {
		mu.Lock()
		got = append(got, "b<-"+string(p))
		mu.Unlock()
		fromB(from, append(p, 'b'))
	})
	var tapped int
	n.Tap(func(Datagram) { mu.Lock(); tapped++; mu.Unlock() })
	n.Drop(func(d Datagram) bool { return d.To == c })
	n.From(b)(a, []byte("x"))
	n.From(a)(c, []byte("lost"))
	if err := n.Settle(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a<-x", "b<-xa", "a<-xab", "b<-xaba", "a<-xabab"}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	if tapped != 6 {
		t.Errorf("%d datagrams tapped, want 6 (5 delivered, 1 lost)", tapped)
	}
}

// A handler that panics is recovered and counted; the network goes on.
func TestNetSurvivesAPanickingHandler(t *testing.T) {
	n := NewNet()
	defer n.Close()
	var ok int
	n.Attach(a, func(_ netip.AddrPort, p []byte) {
		if string(p) == "boom" {
			panic("boom")
		}
		ok++
	})
	send := n.From(b)
	send(a, []byte("boom"))
	send(a, []byte("fine"))
	if err := n.Settle(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n.Panics() != 1 || ok != 1 {
		t.Errorf("%d panics, %d delivered after it", n.Panics(), ok)
	}
}

// A synchronous network has what was sent in the receiver's inbox when
// the send returns; Drain empties it; the sender's buffer may be reused.
func TestSyncNetInbox(t *testing.T) {
	n := NewSyncNet()
	defer n.Close()
	in := n.Inbox(b)
	buf := []byte("one")
	n.From(a)(b, buf)
	copy(buf, "XXX")
	if n.Waiting(b) != 1 {
		t.Fatalf("%d waiting right after the send", n.Waiting(b))
	}
	if got := string(<-in); got != "one" {
		t.Errorf("inbox got %q: the datagram was not copied", got)
	}
	n.From(a)(b, []byte("two"))
	n.From(a)(c, []byte("nobody"))
	n.Drain(b)
	if n.Waiting(b) != 0 || n.Waiting(c) != 0 {
		t.Error("Drain left datagrams, or an address without an inbox has some")
	}
}
