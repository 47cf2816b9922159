package main

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/getlab/getlab/harness/swarmreport"
)

// stats gathers what the members report, for the swarm's report. Its
// methods are safe for concurrent use.
type stats struct {
	now func() time.Time

	mu                     sync.Mutex
	firstStart, lastReg    time.Time
	attempts, ok, failed   int
	tries, retransmissions int
	latencies              []time.Duration
	failures, errors       map[string]int
	stray                  int
	rekeys                 map[uint32]*swarmreport.Rekey
}

func newStats(now func() time.Time) *stats {
	return &stats{now: now, failures: map[string]int{}, errors: map[string]int{}, rekeys: map[uint32]*swarmreport.Rekey{}}
}

func (s *stats) attempted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempts == 0 {
		s.firstStart = s.now()
	}
	s.attempts++
}

func (s *stats) tried()         { s.mu.Lock(); s.tries++; s.mu.Unlock() }
func (s *stats) retransmitted() { s.mu.Lock(); s.retransmissions++; s.mu.Unlock() }
func (s *stats) unexpected()    { s.mu.Lock(); s.stray++; s.mu.Unlock() }

func (s *stats) errored(reason string) {
	s.mu.Lock()
	s.errors[reason]++
	s.mu.Unlock()
}

func (s *stats) gaveUp(reason string) {
	s.mu.Lock()
	s.failed++
	s.failures[reason]++
	s.mu.Unlock()
}

func (s *stats) registered(latency time.Duration) {
	s.mu.Lock()
	s.ok++
	s.lastReg = s.now()
	s.latencies = append(s.latencies, latency)
	s.mu.Unlock()
}

// rekey is seq's entry, made at its first copy.
func (s *stats) rekey(seq uint32) *swarmreport.Rekey {
	r := s.rekeys[seq]
	if r == nil {
		r = &swarmreport.Rekey{Seq: seq, FirstPush: s.now()}
		s.rekeys[seq] = r
	}
	return r
}

// pushCopy counts a verified copy of PUSH seq, taken or refused.
func (s *stats) pushCopy(seq uint32, taken bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rekey(seq)
	r.Copies++
	if !taken {
		r.Rejected++
	}
}

func (s *stats) took(seq uint32, newKEK bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rekey(seq)
	r.GMs++
	r.LastTaken = s.now()
	r.NewKEK = r.NewKEK || newKEK
}

func (s *stats) acked(seq uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rekey(seq)
	r.Acked++
	r.LastAck = s.now()
}

// progress is what the exit condition looks at.
type progress struct {
	attempted, registered, failed int
	// settled are the rekeys every registered GM took, or whose last copy
	// is older than settle.
	settled int
}

func (s *stats) progress(settle time.Duration) progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := progress{attempted: s.attempts, registered: s.ok, failed: s.failed}
	now := s.now()
	for _, r := range s.rekeys {
		if r.GMs >= s.ok || now.Sub(r.LastTaken) > settle && now.Sub(r.FirstPush) > settle {
			p.settled++
		}
	}
	return p
}

// fill writes the figures into r.
func (s *stats) fill(r *swarmreport.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &r.Registrations
	g.Attempted, g.Succeeded, g.Failed = s.attempts, s.ok, s.failed
	g.InFlight = s.attempts - s.ok - s.failed
	g.Tries, g.Retransmissions = s.tries, s.retransmissions
	if s.ok > 0 {
		g.Seconds = s.lastReg.Sub(s.firstStart).Seconds()
		if g.Seconds > 0 {
			g.PerSecond = float64(s.ok) / g.Seconds
		}
	}
	g.Latency = swarmreport.PercentilesOf(slices.Clone(s.latencies))
	r.Failures = maps.Clone(s.failures)
	r.Errors = maps.Clone(s.errors)
	r.Unexpected = s.stray
	r.Rekeys = r.Rekeys[:0]
	for _, k := range s.rekeys {
		c := *k
		end := c.LastAck
		if end.IsZero() {
			end = c.LastTaken
		}
		if !end.IsZero() {
			c.FanOutMS = float64(end.Sub(c.FirstPush).Microseconds()) / 1000
		}
		r.Rekeys = append(r.Rekeys, c)
	}
	slices.SortFunc(r.Rekeys, func(a, b swarmreport.Rekey) int { return cmp.Compare(a.Seq, b.Seq) })
}
