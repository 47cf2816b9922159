package ks

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"

	"github.com/getlab/getlab/gateway/ikev1"
)

// Main mode under a flood: stateless cookies.
//
// A source at its limits.half_open_per_source cap, and every source once
// the KS holds limits.cookie_threshold half-open exchanges, has its
// message 1 answered with a responder cookie from which the KS can
// rebuild the exchange, and nothing kept for it: state is created only
// when message 3 comes back from the same address and port with a CKY-R
// that verifies. A spoofer never sees its cookies, so however many
// message 1s it sends in a GM's name it takes none of the GM's room, and
// the GM's own message 1 always gets an answer it can use. When the
// source is at its cap, the exchange whose cookie came back takes the
// place of the source's oldest exchange still waiting for message 3: of
// that one nothing shows that the source can receive (a spoofer's first
// message 1s are kept like any other until the cap).
//
// Message 3 carries neither the initiator's SA payload, whose body HASH_I
// and HASH_R cover (RFC 2409 §5), nor the transform the responder chose
// from it, and the initiator never sends them again. The chosen
// transform, the DOI and the lifetime follow from the body and the
// configuration; the DPD flag (a vendor ID beside the SA payload) does
// not. So the cookie is
//
//	octet 0       slot: where the SA body is in the SA cache
//	octet 1 bit 7 parity of the time window it was made in
//	octet 1 bit 6 the initiator announced DPD
//	the rest      54 bits of HMAC-SHA256(secret, window | source address
//	              and port | CKY-I | slot | flags | SHA-256(SA body))
//
// and the SA cache is small, global and content-addressed: saCacheSlots
// distinct SA bodies of at most maxCookieSA octets (a GM's proposal of a
// few transforms is some 100), each with what the KS chose from it. GMs
// send the same SA payload on every registration, so a deployment has a
// handful of bodies; a body that has led to an established phase-1 SA is
// pinned (a spoofer never completes main mode, so it cannot pin one), the
// others are replaced least recently used first; the cache takes at most
// saCacheSlots × maxCookieSA octets (128 KiB). At message 3 the KS
// computes one MAC, for the slot and window the cookie names: a forged
// or stale cookie costs that and nothing else, and a valid one gives back
// the body and the choice (ikev1.ResumeResponder). A message 1 whose SA
// body is larger than maxCookieSA is refused while cookies are in use.
// A retransmitted message 1 gets the same message 2 within a window.
//
// What remains:
//   - A spoofer sending many distinct SA bodies churns the unpinned
//     slots: a GM whose body is not yet pinned (its first registration,
//     or a new configuration) finds its body gone at message 3 if more
//     new bodies than there are unpinned slots arrive between its message
//     1 and 3 (ike_cookie_sa_cache_miss counts it): at 1,000 new bodies a
//     second it needs a round trip under a quarter of a second. Once it
//     has registered its body stays. At most
//     maxPinned slots are pinned, the least recently used pinned body
//     losing its pin past that, so GMs with keys cannot pin them all.
//   - A cookie verifies for one to two windows (limits.half_open_timeout
//     each) and may be used more than once: a copy of a GM's message 3,
//     which only an attacker on the path has, recreates the exchange, as
//     such an attacker could by answering message 2 itself. What it then
//     costs is bounded like any message 3 (per-source Diffie-Hellman
//     bucket, worker pool, half-open caps).
//   - A message 1 with another source's address still gets a message 2
//     sent there: the KS reflects, as any IKE responder does, with little
//     amplification (message 2 holds one transform of message 1's
//     proposal, and the DPD vendor ID).

// maxCookieSA bounds the SA payload bodies the cache keeps.
const maxCookieSA = 512

// saCacheSlots is the number of SA bodies the cache keeps: the slot is
// one octet of the cookie.
const saCacheSlots = 256

// maxPinned is how many of them may be pinned, leaving room for new GMs.
const maxPinned = saCacheSlots * 3 / 4

// saEntry is one SA body with what the KS chose from it.
type saEntry struct {
	body   []byte // nil: empty slot
	sum    [32]byte
	doi    uint32
	suite  ikev1.Suite
	pinned bool
	used   uint64 // the jar's clock when last used
	// prev is the SHA-256 of the body the slot held before this one: a
	// cookie that verifies with it was made for a body evicted since.
	prev [32]byte
}

// cookieJar makes and checks the stateless cookies and keeps the SA
// cache. The Server's lock guards it.
type cookieJar struct {
	secret [32]byte
	window time.Duration
	mac    hash.Hash
	slots  [saCacheSlots]saEntry
	bySum  map[[32]byte]int
	clock  uint64
	pinned int
}

func newCookieJar(window time.Duration) *cookieJar {
	j := &cookieJar{window: max(window, time.Millisecond), bySum: map[[32]byte]int{}}
	rand.Read(j.secret[:])
	j.mac = hmac.New(sha256.New, j.secret[:])
	return j
}

func (j *cookieJar) epoch(now time.Time) int64 { return now.UnixNano() / int64(j.window) }

const (
	flagOddWindow = 0x80
	flagDPD       = 0x40
)

// cookie is the CKY-R for exchange k in window epoch, for the SA body
// with SHA-256 sum in slot.
func (j *cookieJar) cookie(epoch int64, k mmKey, slot int, dpd bool, sum *[32]byte) [8]byte {
	flags := byte(0)
	if epoch&1 != 0 {
		flags |= flagOddWindow
	}
	if dpd {
		flags |= flagDPD
	}
	var b [8 + 16 + 2 + 8 + 2 + 32]byte
	binary.BigEndian.PutUint64(b[:], uint64(epoch))
	a := k.peer.Addr().As16()
	copy(b[8:], a[:])
	binary.BigEndian.PutUint16(b[24:], k.peer.Port())
	copy(b[26:], k.icookie[:])
	b[34], b[35] = byte(slot), flags
	copy(b[36:], sum[:])
	j.mac.Reset()
	j.mac.Write(b[:])
	var m [sha256.Size]byte
	j.mac.Sum(m[:0])
	c := [8]byte{byte(slot), flags | m[0]&^(flagOddWindow|flagDPD)}
	copy(c[2:], m[1:7])
	if c == ([8]byte{}) {
		c[7] = 1 // zero is "no CKY-R"
	}
	return c
}

// make is the cookie for message 1 of exchange k, whose SA body h.SAiB
// it caches; ok is false when the body is too large to cache.
func (j *cookieJar) make(now time.Time, k mmKey, h ikev1.HalfOpen) (c [8]byte, evicted, ok bool) {
	if len(h.SAiB) > maxCookieSA {
		return c, false, false
	}
	slot, evicted := j.cache(h)
	return j.cookie(j.epoch(now), k, slot, h.PeerDPD, &j.slots[slot].sum), evicted, true
}

// Verdicts of open.
const (
	cookieBad  = iota // not a cookie the jar made for k, or too old
	cookieMiss        // made for k, but its SA body has been evicted since
	cookieOK
)

// open checks the CKY-R of a message 3 for exchange k: made in the
// current or the previous window for an SA body still cached. It returns
// what ikev1.ResumeResponder needs.
func (j *cookieJar) open(now time.Time, k mmKey, rcky [8]byte) (h ikev1.HalfOpen, verdict int) {
	slot, flags := int(rcky[0]), rcky[1]&(flagOddWindow|flagDPD)
	e := j.epoch(now)
	if (e&1 != 0) != (flags&flagOddWindow != 0) {
		e-- // made in the previous window (or earlier: then it fails)
	}
	dpd := flags&flagDPD != 0
	ent := &j.slots[slot]
	if ent.body != nil {
		if c := j.cookie(e, k, slot, dpd, &ent.sum); hmac.Equal(c[:], rcky[:]) {
			j.touch(slot)
			return ikev1.HalfOpen{ICookie: k.icookie, RCookie: rcky, DOI: ent.doi, Suite: ent.suite,
				SAiB: ent.body, PeerDPD: dpd}, cookieOK
		}
	}
	if ent.prev != ([32]byte{}) {
		if c := j.cookie(e, k, slot, dpd, &ent.prev); hmac.Equal(c[:], rcky[:]) {
			return ikev1.HalfOpen{}, cookieMiss
		}
	}
	return ikev1.HalfOpen{}, cookieBad
}

func (j *cookieJar) touch(slot int) {
	j.clock++
	j.slots[slot].used = j.clock
}

// cache returns the slot of h's SA body, putting it in the least recently
// used slot that is not pinned if it is not there yet (evicted: that slot
// held another body).
func (j *cookieJar) cache(h ikev1.HalfOpen) (slot int, evicted bool) {
	sum := sha256.Sum256(h.SAiB)
	if i, ok := j.bySum[sum]; ok {
		j.touch(i)
		return i, false
	}
	slot = -1
	for i := range j.slots {
		e := &j.slots[i]
		if e.body == nil {
			slot = i
			break
		}
		if !e.pinned && (slot < 0 || e.used < j.slots[slot].used) {
			slot = i
		}
	}
	// maxPinned < saCacheSlots: some slot is always free or unpinned.
	e := &j.slots[slot]
	prev := e.prev
	if e.body != nil {
		delete(j.bySum, e.sum)
		prev, evicted = e.sum, true
	}
	*e = saEntry{body: bytes.Clone(h.SAiB), sum: sum, doi: h.DOI, suite: h.Suite, prev: prev}
	j.bySum[sum] = slot
	j.touch(slot)
	return slot, evicted
}

// pin keeps h's SA body for good: it has led to an established phase-1
// SA. Past maxPinned pinned bodies, the least recently used one is
// unpinned.
func (j *cookieJar) pin(h ikev1.HalfOpen) {
	if len(h.SAiB) == 0 || len(h.SAiB) > maxCookieSA {
		return
	}
	slot, _ := j.cache(h)
	if j.slots[slot].pinned {
		return
	}
	if j.pinned >= maxPinned {
		old := -1
		for i := range j.slots {
			if e := &j.slots[i]; e.pinned && (old < 0 || e.used < j.slots[old].used) {
				old = i
			}
		}
		j.slots[old].pinned = false
		j.pinned--
	}
	j.slots[slot].pinned = true
	j.pinned++
}

// cached is the number of SA bodies cached.
func (j *cookieJar) cached() int { return len(j.bySum) }
