package phase1

import (
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A KS that restarts forgets its phase-1 SAs; its GMs do not, and
// re-register over them (Role.AnswerUnknownSA). Dropping their PULLs in silence leaves each GM
// retransmitting to a KS that will never answer until its attempt runs
// out; answering INVALID-COOKIE lets it start a main mode at once.
//
// The answer is unauthenticated and goes to a source address nobody
// verified, so it must not make the KS a reflector: it is never larger
// than the message it answers, and each source address gets at most one
// per invalidCookieInterval, from a table of at most invalidCookieSources
// addresses (when the table is full of recent sources, nobody new gets
// one until they age out).
const (
	invalidCookieInterval = time.Second
	invalidCookieSources  = 4096
)

// invalidCookies is the rate limiter's state: when each source last got
// an INVALID-COOKIE, and when the table was last pruned.
type invalidCookies struct {
	sent   map[netip.Addr]time.Time
	pruned time.Time
}

// UnknownSA answers a message on an ISAKMP SA the layer does not know (a
// GROUPKEY-PULL, a protected Informational) with INVALID-COOKIE, within the
// limits above, if the role does that.
func (l *Layer) UnknownSA(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	if !l.answerUnknown {
		return
	}
	reply := ikev1.InvalidCookie(h)
	if reply == nil || len(reply) > len(pkt) {
		l.env.Counters.Inc(counter.InvalidCookieTooLarge)
		return
	}
	if !l.invalidCookie.allow(from.Addr(), l.clk.Now()) {
		l.env.Counters.Inc(counter.InvalidCookieRateLimited)
		return
	}
	l.env.Counters.Inc(counter.InvalidCookieSent)
	l.env.Send(from, reply)
}

func (l *invalidCookies) allow(a netip.Addr, now time.Time) bool {
	if l.sent == nil {
		l.sent = map[netip.Addr]time.Time{}
	}
	if t, ok := l.sent[a]; ok && now.Sub(t) < invalidCookieInterval {
		return false
	}
	if _, ok := l.sent[a]; !ok && len(l.sent) >= invalidCookieSources {
		if now.Sub(l.pruned) < invalidCookieInterval {
			return false
		}
		l.pruned = now
		for b, t := range l.sent {
			if now.Sub(t) >= invalidCookieInterval {
				delete(l.sent, b)
			}
		}
		if len(l.sent) >= invalidCookieSources {
			return false
		}
	}
	l.sent[a] = now
	return true
}
