package suitekit

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/netns"
	. "github.com/onsi/ginkgo/v2"
	"golang.org/x/sys/unix"
)

// A RegistrationWatch sees each registration a key server completes with
// a group member as it happens, from the GM's side of the wire: the KS's
// second distinct GROUPKEY-PULL message of one exchange (PULL 4) reaching
// the GM, as Registrations reads it from a capture. It needs no key and
// nothing of the implementations, and, unlike reading the capture, costs
// the same however much else crosses the wire (a flood).
type RegistrationWatch struct {
	done chan time.Time
	mu   sync.Mutex
	err  error
}

// WatchRegistrations starts watching, in gm's network namespace, the
// registrations key server ks completes with it, until the spec ends.
func WatchRegistrations(ctx context.Context, lab *netns.Lab, gm string, ks netip.Addr) *RegistrationWatch {
	ns := NetNS(lab, gm)
	wctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	w := &RegistrationWatch{done: make(chan time.Time, 256)}
	pulls := newPullWatcher(ks)
	go func() {
		defer close(w.done)
		err := attack.Watch(wctx, ns, "", func(pkt []byte, at time.Time) bool {
			if pulls.completes(pkt) {
				select {
				case w.done <- at:
				default: // nobody waits for that many: drop the news
				}
			}
			return false
		})
		if err != nil && wctx.Err() == nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}()
	return w
}

// pullWatcher tells, packet by packet, when a key server completes a
// registration: its second distinct GROUPKEY-PULL message of one exchange
// (a retransmission repeats one).
type pullWatcher struct {
	ks   netip.Addr
	seen map[uint32]map[string]bool // by message ID, the KS's distinct messages
}

func newPullWatcher(ks netip.Addr) *pullWatcher {
	return &pullWatcher{ks: ks, seen: map[uint32]map[string]bool{}}
}

// completes reports whether the IPv4 packet pkt is the KS's PULL message
// that completes a registration. pkt is whatever crossed the wire.
func (p *pullWatcher) completes(pkt []byte) bool {
	from, proto, udp, ok := attack.IPv4Payload(pkt)
	if !ok || proto != unix.IPPROTO_UDP || netip.AddrFrom4(from) != p.ks || len(udp) < 8+28 {
		return false
	}
	msg := udp[8:] // the ISAKMP header is 28 octets
	if msg[18] != uint8(isakmp.ExchangeGroupkeyPull) {
		return false
	}
	id := binary.BigEndian.Uint32(msg[20:24])
	if p.seen[id] == nil {
		p.seen[id] = map[string]bool{}
	}
	if p.seen[id][string(msg)] {
		return false
	}
	p.seen[id][string(msg)] = true
	return len(p.seen[id]) == 2
}

// Next waits up to within for a registration completed at or after
// after and returns when it reached the GM; ok is false when none came
// (or the watch failed: see Err).
func (w *RegistrationWatch) Next(after time.Time, within time.Duration) (at time.Time, ok bool) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case t, open := <-w.done:
			if !open {
				return time.Time{}, false
			}
			if !t.Before(after) {
				return t, true
			}
		case <-timer.C:
			return time.Time{}, false
		}
	}
}

// Err is why the watch stopped early (its raw socket failed), or nil.
func (w *RegistrationWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
