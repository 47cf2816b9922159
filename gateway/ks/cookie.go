package ks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/ikev1"
)

// Main mode under a flood.
//
// Past limits.cookie_threshold half-open exchanges the KS answers message 1
// with a responder cookie that is a keyed MAC, CKY-R = HMAC-SHA256(secret,
// time window | source address and port | CKY-I) truncated to 8 octets,
// and keeps no exchange: message 3 must come back from the same address
// and port with a CKY-R that verifies in the current or the previous
// window before anything is recreated, so a source that cannot receive
// (a spoofed one) never gets state into the half-open table, and a
// retransmitted message 1 gets the same message 2 again.
//
// IKEv1 main mode cannot be fully stateless: message 3 carries neither
// the initiator's SA payload, whose body HASH_I and HASH_R cover (RFC 2409
// §5), nor the transform the responder chose from it, and the initiator
// never sends them again. So each cookie has a small record, an
// ikev1.HalfOpen: the chosen suite, the DOI, the DPD flag and the SA body,
// at most maxCookieSA octets (a GM's proposal of a few transforms is some
// 100; a larger one is refused under pressure). The records are strictly
// bounded: limits.half_open_per_source per source address, and
// limits.half_open_global in all, beyond which the oldest record makes
// room (a flood evicts records, it cannot block new ones), so the memory
// they take is capped at about limits.half_open_global × 700 octets. A
// record lives at most two windows. When message 3 verifies, the record
// becomes an ordinary half-open exchange (ikev1.ResumeResponder), subject
// to the table's per-source and global caps, and message 3 goes on to the
// Diffie-Hellman workers like any other.

// maxCookieSA bounds the SA payload body a cookie record keeps.
const maxCookieSA = 512

type cookieRecord struct {
	h  ikev1.HalfOpen
	at time.Time
}

// cookieJar holds the cookie records. The Server's lock guards it.
type cookieJar struct {
	secret    [32]byte
	window    time.Duration
	max       int
	perSource int
	recs      map[mmKey]*cookieRecord
	bySource  map[netip.Addr]int
	// order is the records' keys, oldest first; keys of records already
	// taken are skipped when it is read.
	order []mmKey
}

func newCookieJar(window time.Duration, capacity, perSource int) *cookieJar {
	j := &cookieJar{window: max(window, time.Millisecond), max: capacity, perSource: perSource,
		recs: map[mmKey]*cookieRecord{}, bySource: map[netip.Addr]int{}}
	rand.Read(j.secret[:])
	return j
}

func (j *cookieJar) epoch(now time.Time) int64 { return now.UnixNano() / int64(j.window) }

// cookie is the CKY-R for an exchange k in the window epoch.
func (j *cookieJar) cookie(epoch int64, k mmKey) [8]byte {
	m := hmac.New(sha256.New, j.secret[:])
	var b [8 + 16 + 2 + 8]byte
	binary.BigEndian.PutUint64(b[:], uint64(epoch))
	a := k.peer.Addr().As16()
	copy(b[8:], a[:])
	binary.BigEndian.PutUint16(b[24:], k.peer.Port())
	copy(b[26:], k.icookie[:])
	m.Write(b[:])
	var c [8]byte
	copy(c[:], m.Sum(nil))
	if c == ([8]byte{}) {
		c[7] = 1 // zero is "no CKY-R"
	}
	return c
}

// valid reports whether rcky is the cookie of k in the current or the
// previous window.
func (j *cookieJar) valid(now time.Time, k mmKey, rcky [8]byte) bool {
	e := j.epoch(now)
	a, b := j.cookie(e, k), j.cookie(e-1, k)
	return hmac.Equal(a[:], rcky[:]) || hmac.Equal(b[:], rcky[:])
}

// put keeps h for k, evicting the oldest record when the jar is full; it
// refuses (false) when k's source has its share of records already.
func (j *cookieJar) put(k mmKey, h ikev1.HalfOpen, now time.Time) (ok bool, evicted int) {
	if r := j.recs[k]; r != nil {
		r.h, r.at = h, now
		return true, 0
	}
	src := k.peer.Addr()
	if j.bySource[src] >= j.perSource {
		return false, 0
	}
	for len(j.recs) >= j.max && len(j.order) > 0 {
		old := j.order[0]
		j.order = j.order[1:]
		if j.recs[old] != nil {
			j.remove(old)
			evicted++
		}
	}
	j.recs[k] = &cookieRecord{h: h, at: now}
	j.bySource[src]++
	j.order = append(j.order, k)
	// Keys of records taken at message 3 stay in order until they reach
	// its front; compact when they outnumber the records.
	if len(j.order) > 2*len(j.recs)+64 {
		live := j.order[:0]
		for _, o := range j.order {
			if j.recs[o] != nil {
				live = append(live, o)
			}
		}
		j.order = live
	}
	return true, evicted
}

func (j *cookieJar) remove(k mmKey) {
	if j.recs[k] == nil {
		return
	}
	delete(j.recs, k)
	src := k.peer.Addr()
	if j.bySource[src]--; j.bySource[src] <= 0 {
		delete(j.bySource, src)
	}
}

// expire drops the records older than two windows (their cookies no
// longer verify).
func (j *cookieJar) expire(now time.Time) {
	for len(j.order) > 0 {
		k := j.order[0]
		r := j.recs[k]
		if r != nil && now.Sub(r.at) < 2*j.window {
			return
		}
		j.order = j.order[1:]
		j.remove(k)
	}
}
