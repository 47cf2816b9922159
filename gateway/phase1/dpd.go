package phase1

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Dead peer detection (RFC 3706) as the layer sends it: on the SAs this
// daemon initiated whose peer announced DPD, when ike.keepalive is set.
// An R-U-THERE goes every interval (periodic) or after interval without
// hearing from the peer (on demand); one without an answer is followed by
// another every retry, each with the next sequence number; any of them
// answered, or any authenticated message from the peer, proves it alive.
//
// deadAfter R-U-THEREs in a row without an answer, each given retry, make
// the peer dead: S2's "five aggressive DPD retry messages can be missed
// before the key server is marked as down", which CO-03 reads as dead
// interval + 5 × retry after the last proof of life (25 s with the seeds'
// 15 s and 2 s): the R-U-THERE due at the interval and four retries.
const deadAfter = 5

// probe is one SA's dead peer detection state (wall time).
type probe struct {
	// at is when step next has something to do.
	at time.Time
	// last is the latest proof of life; round is when the first
	// R-U-THERE of the current run went.
	last, round time.Time
	// seq is the last R-U-THERE's sequence number, first the first of
	// the run without an answer; unanswered is the run's length.
	seq, first uint32
	unanswered int
}

// probeTimes are the keepalive settings in wall time.
type probeTimes struct {
	interval, retry time.Duration
	periodic        bool
}

func (l *Layer) probeTimes() probeTimes {
	k := l.keepalive
	return probeTimes{interval: l.clk.Wall(k.Interval), retry: l.clk.Wall(k.Retry), periodic: k.Periodic}
}

// newProbe starts probing an SA established at now. The sequence numbers
// start at a random value (RFC 3706 §7) so that a peer cannot take an old
// answer for a new R-U-THERE.
func newProbe(now time.Time, interval time.Duration) *probe {
	return &probe{at: now.Add(interval), last: now, seq: rand.Uint32()}
}

type probeAction int

const (
	probeWait probeAction = iota
	probeSend             // send an R-U-THERE with seq
	probeDead             // the peer answered none of deadAfter
)

// step says what is due at now.
func (p *probe) step(now time.Time, t probeTimes) probeAction {
	if now.Before(p.at) {
		return probeWait
	}
	if p.unanswered >= deadAfter {
		return probeDead
	}
	if p.unanswered == 0 {
		if !t.periodic && now.Sub(p.last) < t.interval {
			p.at = p.last.Add(t.interval) // the peer spoke since
			return probeWait
		}
		p.round = now
	}
	p.seq++
	if p.unanswered == 0 {
		p.first = p.seq
	}
	p.unanswered++
	p.at = now.Add(t.retry)
	return probeSend
}

// alive takes a proof of life at now and schedules the next R-U-THERE.
func (p *probe) alive(now time.Time, t probeTimes) {
	p.last = now
	switch {
	case !t.periodic:
		p.at = now.Add(t.interval)
	case p.unanswered > 0:
		// Periodic: the next one an interval after this run's first, or
		// at once if retries took longer than that.
		p.at = p.round.Add(t.interval)
	}
	p.unanswered = 0
}

// answers reports whether seq is the sequence number of an R-U-THERE of
// the current run (any of them: an answer to a retry's predecessor may
// come late).
func (p *probe) answers(seq uint32) bool {
	return p.unanswered > 0 && seq-p.first <= p.seq-p.first
}

// heard is a proof of life other than an R-U-THERE-ACK.
func (p *probe) heard(now time.Time, t probeTimes) {
	if p.unanswered > 0 || !t.periodic {
		p.alive(now, t)
		return
	}
	p.last = now
}

func (l *Layer) sendProbe(e *entry) {
	l.env.Counters.Inc(counter.DPDSent)
	l.env.Send(e.sa.Peer, e.sa.RUThere(e.dpd.seq))
}

func (l *Layer) peerDead(c [16]byte, e *entry) {
	l.drop(c)
	l.env.Counters.Inc(counter.DPDPeerDead)
	k := l.keepalive
	l.env.Events.Emit("IKE_PEER_DEAD", "peer", e.sa.Peer.Addr().String(), "unanswered", fmt.Sprint(e.dpd.unanswered),
		"interval", k.Interval.String(), "retry", k.Retry.String())
	if l.OnPeerDead != nil {
		l.OnPeerDead(e.sa)
	}
}

// dpdReceived answers an R-U-THERE about e's SA (SPI = its cookies, RFC
// 3706 §5.2) and takes an R-U-THERE-ACK of one of e's probes; anything
// else (another SA's cookies, an answer nobody asked for) is counted and
// dropped.
func (l *Layer) dpdReceived(from netip.AddrPort, e *entry, n *isakmp.Notification, t isakmp.NotifyType, seq uint32) {
	if t == isakmp.NotifyDPDRUThere {
		if reply := ikev1.AnswerDPD(e.sa, n); reply != nil {
			l.env.Counters.Inc(counter.DPDAnswered)
			l.env.Send(from, reply)
			return
		}
	} else if e.dpd != nil && e.dpd.answers(seq) {
		e.dpd.alive(l.clk.Now(), l.probeTimes())
		l.lower(e.due())
		l.env.Counters.Inc(counter.DPDAcked)
		return
	}
	l.env.Counters.Inc(counter.DPDUnexpected)
}
