package ks

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/ikev1"
)

// What a KS spends on a peer, bounded (config.Limits):
//
//   - half-open main modes: limits.half_open_per_source per source address
//     and limits.half_open_global in all; at its source's cap, and for
//     every source past limits.cookie_threshold, message 1 gets a
//     stateless cookie instead, and state waits for message 3 to bring it
//     back (cookie.go); one that goes limits.half_open_timeout without
//     moving on is dropped;
//   - Diffie-Hellman (message 3): only for a source with a pre-shared key,
//     limits.dh_rate_per_source per second per source (a token bucket),
//     computed by a bounded pool of workers off the receive loop;
//   - phase-1 SAs: limits.ike_sas_per_peer per peer address and
//     limits.ike_sas_global in all, the newest replacing the oldest
//     (gateway/phase1).

// dhPool runs message-3 jobs on at most workers goroutines, with at most
// queue jobs waiting. It starts goroutines as jobs come and keeps none
// when idle, so a Server needs no Close.
type dhPool struct {
	mu      sync.Mutex
	workers int
	queue   int
	running int
	waiting []func()
}

// submit runs f on a worker, now or when one is free; false when the
// queue is full.
func (p *dhPool) submit(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running < p.workers {
		p.running++
		go p.run(f)
		return true
	}
	if len(p.waiting) >= p.queue {
		return false
	}
	p.waiting = append(p.waiting, f)
	return true
}

func (p *dhPool) run(f func()) {
	for f != nil {
		f()
		p.mu.Lock()
		f = nil
		if len(p.waiting) > 0 {
			f = p.waiting[0]
			p.waiting[0] = nil
			p.waiting = p.waiting[1:]
		} else {
			p.running--
		}
		p.mu.Unlock()
	}
}

// bucket is a source's Diffie-Hellman token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// takeDH takes a Diffie-Hellman token for src; false when it has none.
// The buckets run on wall time: they bound CPU, which the time scale does
// not speed up.
func (s *Server) takeDH(src netip.Addr, now time.Time) bool {
	rate, burst := float64(s.cfg.Limits.DHRate), float64(s.cfg.Limits.DHBurst)
	b := s.buckets[src]
	if b == nil {
		b = &bucket{tokens: burst, at: now}
		s.buckets[src] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// addHalfOpen enters a new exchange in the half-open table.
func (s *Server) addHalfOpen(k mmKey, mm *mainMode) {
	mm.open = true
	s.mainModes[k] = mm
	s.halfOpen++
	src := k.peer.Addr()
	s.bySource[src] = append(s.bySource[src], k)
	if n := s.cfg.Limits.HalfOpenPerSource; len(s.bySource[src]) == n {
		s.opt.Events.Emit("IKE_COOKIE_CHALLENGE", "limit", fmt.Sprint(n), "scope", "source", "peer", src.String())
	}
}

// closeHalfOpen takes mm out of the half-open count (it is established,
// or gone).
func (s *Server) closeHalfOpen(k mmKey, mm *mainMode) {
	if !mm.open {
		return
	}
	mm.open = false
	s.halfOpen--
	src := k.peer.Addr()
	list := s.bySource[src]
	for i, o := range list {
		if o == k {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.bySource, src)
	} else {
		s.bySource[src] = list
	}
}

func (s *Server) dropMainMode(k mmKey) {
	if mm := s.mainModes[k]; mm != nil {
		s.closeHalfOpen(k, mm)
		delete(s.mainModes, k)
	}
}

// limitHit counts and logs a datagram dropped by a limit.
func (s *Server) limitHit(c counter.Name, event string, peer netip.AddrPort, limit int, fields ...string) {
	s.opt.Counters.Inc(c)
	s.opt.Events.Emit(event, append([]string{"peer", peer.Addr().String(), "limit", fmt.Sprint(limit)}, fields...)...)
}

// forgetSA forgets, when the phase-1 layer drops an SA, its GROUPKEY-PULLs
// and the main mode kept for retransmissions of its message 5.
func (s *Server) forgetSA(sa *ikev1.SA) {
	delete(s.pulls, sa.Cookies())
	k := mmKey{sa.ICookie, sa.Peer}
	if mm := s.mainModes[k]; mm != nil && !mm.busy && mm.r.SA() == sa {
		s.dropMainMode(k)
	}
}
