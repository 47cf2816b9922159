// Package ks is the key server role: it authenticates group members with
// IKEv1 main mode, registers them with GROUPKEY-PULL, and keeps each
// group's keys and member database.
package ks

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/phase1"
	wire "github.com/getlab/getlab/gateway/wire/coop"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Options are what a Server needs besides its configuration.
type Options struct {
	phase1.Env
	// OnAllAcked, if set, is called when every GM of a unicast rekey
	// has acknowledged it, with the number of GMs and the wall time since
	// the first PUSH; it runs under the Server's lock and must not call
	// back into it.
	OnAllAcked func(group string, gms int, took time.Duration)
	// LoadConfig rereads the configuration file for Reload (nil: the KS
	// has none, as in tests that build their config in code).
	LoadConfig func() (*config.Config, error)
}

// Server is a key server. Its methods are safe for concurrent use.
type Server struct {
	// Waker: Drive reads the Deadline again when a registration moved it.
	clock.Waker
	mu  sync.Mutex
	cfg *config.Config
	opt Options
	clk clock.Clock
	// housekeepAt is when Timeout next runs Expire.
	housekeepAt time.Time
	// p1 holds the phase-1 SAs, answers DPD and messages on unknown SAs.
	p1     *phase1.Layer
	groups map[uint32]*group
	order  []uint32

	// mainModes are the main-mode exchanges in progress or recently done
	// (kept so that a retransmitted message 5 gets message 6 again), by
	// CKY-I and peer. halfOpen counts those not established, bySource
	// lists them by source address, oldest first.
	mainModes map[mmKey]*mainMode
	halfOpen  int
	bySource  map[netip.Addr][]mmKey
	// cookies makes and checks the stateless cookies (cookie.go);
	// pressure is true while every message 1 gets one.
	cookies  *cookieJar
	pressure bool
	dh       *dhPool
	buckets  map[netip.Addr]*bucket

	// pulls are the GROUPKEY-PULL exchanges by phase-1 SA and message ID.
	pulls map[[16]byte]map[uint32]*pull

	// initiations are the main modes this KS started with cooperating
	// KSs; pendingANN the ANNs waiting for a phase-1 SA with a peer
	// (coop.go).
	initiations map[mmKey]*initiation
	pendingANN  map[netip.Addr]map[*group]wire.Flags
	// stateDirty: the state file is behind (persist.go).
	stateDirty bool
}

type mmKey struct {
	icookie [8]byte
	peer    netip.AddrPort
}

type mainMode struct {
	r       *ikev1.Responder
	started time.Time
	// moved is when the exchange last moved on (the half-open timeout
	// runs from it).
	moved time.Time
	// open: counted in halfOpen (not established).
	open bool
	// busy: a message is being answered outside the server's lock (by
	// a Diffie-Hellman worker for message 3, by the goroutine that
	// received it otherwise), which alone touches r until it clears busy.
	busy bool
	// resumed: recreated from a stateless cookie at message 3.
	resumed bool
	// h is what message 1 determined: its SA body is pinned in the SA
	// cache when the exchange establishes an SA.
	h ikev1.HalfOpen
}

type pull struct {
	r       *gdoi.Responder
	started time.Time
	// busy: a message is being answered outside the server's lock; r is
	// that goroutine's until it clears busy.
	busy bool
}

// maxPullsPerSA bounds the GROUPKEY-PULLs kept per phase-1 SA (a GM makes
// one per registration); a new one replaces the oldest.
const maxPullsPerSA = 4

// New creates the key server for cfg (role ks): it makes or loads each
// group's rekey signing key and its first KEK and TEKs.
func New(cfg *config.Config, opt Options) (*Server, error) {
	clk := clock.New(cfg.Timers.Scale, opt.Now)
	l := &cfg.Limits
	if l.HalfOpenPerSource == 0 {
		// A config built in code rather than parsed.
		*l = config.LimitDefaults
	}
	p1, err := phase1.New(cfg, opt.Env, clk, phase1.Role{AnswerUnknownSA: true})
	if err != nil {
		return nil, err
	}
	workers := l.DHWorkers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	counters := opt.Counters
	p1.IKE().OnDH = func() { counters.Inc(counter.IKEDHComputed) }
	s := &Server{
		cfg: cfg, opt: opt, clk: clk, p1: p1,
		housekeepAt: clk.Now().Add(housekeeping),
		groups:      map[uint32]*group{},
		mainModes:   map[mmKey]*mainMode{},
		bySource:    map[netip.Addr][]mmKey{},
		cookies:     newCookieJar(clk.Wall(l.HalfOpenTimeout)),
		dh:          &dhPool{workers: workers, queue: l.DHQueue},
		buckets:     map[netip.Addr]*bucket{},
		pulls:       map[[16]byte]map[uint32]*pull{},
		initiations: map[mmKey]*initiation{},
		pendingANN:  map[netip.Addr]map[*group]wire.Flags{},
	}
	p1.OnDrop = func(sa *ikev1.SA) {
		s.forgetSA(sa)
		s.peerSADropped(sa)
	}
	// A peer that answers none of the R-U-THEREs on this KS's own SA (a
	// cooperating KS) has lost the SAs it initiated too, or will: ANNs on
	// them would be answered INVALID-COOKIE after a split heals. Both
	// sides start main mode afresh.
	p1.OnPeerDead = func(sa *ikev1.SA) { p1.DropPeer(sa.Peer) }
	for i := range cfg.Groups {
		gc := &cfg.Groups[i]
		g, err := newGroup(gc, cfg.Identity)
		if err != nil {
			return nil, err
		}
		// The keys' lifetimes start now, after the signing key (which
		// takes a while to generate) is there. A cooperating KS makes
		// none: it takes the group's from its peers, or makes them when
		// it becomes the primary.

		// Groups are found by the KEY_ID as it travels: under a
		// host-order profile gdoid's group 1234 arrives as d2040000.
		key := g.interop.Wire.KeyIDWire(gc.ID)
		if o := s.groups[key]; o != nil {
			return nil, fmt.Errorf("group %s: its KEY_ID (%08x under profile %s) is also group %s's", gc.Name, key, g.interop.Name, o.cfg.Name)
		}
		s.groups[key] = g
		s.order = append(s.order, key)
		opt.Events.Emit("KS_GROUP_ADD", "group", gc.Name, "group_id", fmt.Sprint(gc.ID))
	}
	s.restoreState()
	for _, g := range s.sortedGroups() {
		if g.cfg.COOP != nil {
			s.startCOOP(g)
			continue
		}
		if g.kek == nil {
			g.epoch = clk.Now()
		}
		if err := s.refresh(g, clk.Now()); err != nil {
			return nil, fmt.Errorf("group %s: %w", g.cfg.Name, err)
		}
		s.saveSoon(g)
	}
	if s.stateDirty {
		s.saveState()
	}
	return s, nil
}

// HandlePacket processes one datagram received from from. It may be
// called from several goroutines at once: the server's lock guards its
// tables, and the cryptography of a main mode's message 5 and of a
// GROUPKEY-PULL, which touches only its own exchange, runs outside it
// (unlocked), so that registrations use every core.
func (s *Server) HandlePacket(from netip.AddrPort, pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		s.p1.Malformed(from, err)
		return
	}
	switch h.Exchange {
	case isakmp.ExchangeMainMode:
		s.mainMode(from, h, pkt)
	case isakmp.ExchangeGroupkeyPull:
		s.pull(from, h, pkt)
	case isakmp.ExchangeInformational:
		s.informational(from, h, pkt)
	case isakmp.ExchangeGroupkeyPushAck:
		s.ack(from, h, pkt)
	case wire.Exchange:
		s.coopReceive(from, h, pkt)
	default:
		s.opt.Counters.Inc(counter.UnsupportedExchange)
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", fmt.Sprintf("unsupported exchange %s", h.Exchange))
	}
}

func (s *Server) mainMode(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	k := mmKey{h.ICookie, from}
	if in := s.initiations[k]; in != nil && h.RCookie != ([8]byte{}) {
		s.initiatorStep(k, in, pkt)
		return
	}
	mm := s.mainModes[k]
	if mm == nil {
		if h.RCookie == ([8]byte{}) {
			s.message1(k, pkt)
			return
		}
		if mm = s.resume(k, h.RCookie); mm == nil {
			return
		}
	}
	if mm.busy {
		// A retransmission of message 3 while a worker answers it.
		return
	}
	if mm.resumed && h.RCookie == ([8]byte{}) {
		// A late copy of message 1 of an exchange recreated from its
		// cookie: the initiator has message 2 (it sent message 3), and
		// the responder no longer has it to send again.
		return
	}
	if mm.r.AwaitsMessage3() && h.RCookie != ([8]byte{}) {
		s.message3(k, mm, pkt)
		return
	}
	mm.busy = true
	var reply []byte
	var err error
	s.unlocked(func() { reply, err = mm.r.Handle(pkt) })
	mm.busy = false
	if reply == nil && err == nil {
		return // a late copy of an earlier message: the exchange did not move
	}
	if s.mainModes[k] == mm {
		s.stepDone(k, mm, reply, err)
	}
}

// unlocked runs f without the server's lock, which the caller holds: the
// cryptography of one exchange, which the exchange's busy flag keeps to
// one goroutine. The tables may change meanwhile; the caller looks again.
func (s *Server) unlocked(f func()) {
	s.mu.Unlock()
	defer s.mu.Lock()
	f()
}

// message1 starts a main mode: a whole exchange in the half-open table,
// or, for a source at its half-open cap and for every source past
// limits.cookie_threshold, a stateless cookie (cookie.go).
func (s *Server) message1(k mmKey, pkt []byte) {
	l := &s.cfg.Limits
	if under := s.halfOpen >= l.CookieThreshold; under != s.pressure {
		s.pressure = under
		if under {
			s.opt.Events.Emit("IKE_COOKIE_CHALLENGE", "limit", fmt.Sprint(l.CookieThreshold), "scope", "KS")
		}
	}
	atCap := len(s.bySource[k.peer.Addr()]) >= l.HalfOpenPerSource
	if atCap {
		s.opt.Counters.Inc(counter.IKEHalfOpenPerSourceLimit)
	}
	if atCap || s.pressure {
		s.cookieMessage1(k, pkt)
		return
	}
	now := s.clk.Now()
	mm := &mainMode{r: ikev1.NewResponder(s.p1.IKE(), s.opt.Local, k.peer), started: now, moved: now}
	reply, err := mm.r.Handle(pkt)
	if err != nil {
		s.p1.Failed(k.peer, err)
		s.send(k.peer, reply)
		return
	}
	mm.h, _ = mm.r.HalfOpen()
	s.addHalfOpen(k, mm)
	s.send(k.peer, reply)
}

// cookieMessage1 answers message 1 with a stateless cookie and keeps
// nothing but its SA body in the SA cache.
func (s *Server) cookieMessage1(k mmKey, pkt []byte) {
	now := s.clk.Now()
	tooLarge, evicted := false, false
	r := ikev1.NewResponder(s.p1.IKE(), s.opt.Local, k.peer)
	r.SetResponderCookieFunc(func(h ikev1.HalfOpen) [8]byte {
		c, ev, ok := s.cookies.make(now, k, h)
		tooLarge, evicted = !ok, ev
		if !ok {
			return [8]byte{0xff} // not sent
		}
		return c
	})
	reply, err := r.Handle(pkt)
	if err != nil {
		s.p1.Failed(k.peer, err)
		s.send(k.peer, reply)
		return
	}
	if tooLarge {
		h, _ := r.HalfOpen()
		s.opt.Counters.Inc(counter.IKECookieSATooLarge)
		s.p1.Malformed(k.peer, fmt.Errorf("main mode msg 1: SA payload of %d octets, more than the %d a stateless cookie can stand for", len(h.SAiB), maxCookieSA))
		return
	}
	if evicted {
		s.opt.Counters.Inc(counter.IKECookieSAEvicted)
	}
	s.opt.Counters.Inc(counter.IKECookieChallenge)
	s.send(k.peer, reply)
}

// resume creates, from its stateless cookie, the exchange a message 3
// with an unknown CKY-R belongs to, once the cookie verifies; nil drops
// the message.
func (s *Server) resume(k mmKey, rcky [8]byte) *mainMode {
	l := &s.cfg.Limits
	now := s.clk.Now()
	h, verdict := s.cookies.open(now, k, rcky)
	switch verdict {
	case cookieMiss:
		s.opt.Counters.Inc(counter.IKECookieSACacheMiss)
		return nil
	case cookieBad:
		s.opt.Counters.Inc(counter.IKEUnknownCookies)
		return nil
	}
	src := k.peer.Addr()
	if len(s.bySource[src]) >= l.HalfOpenPerSource && !s.replaceUnverified(src) {
		s.limitHit(counter.IKEHalfOpenPerSourceLimit, "IKE_HALF_OPEN_LIMIT", k.peer, l.HalfOpenPerSource, "scope", "source")
		return nil
	}
	if s.halfOpen >= l.HalfOpenGlobal {
		s.limitHit(counter.IKEHalfOpenGlobalLimit, "IKE_HALF_OPEN_LIMIT", k.peer, l.HalfOpenGlobal, "scope", "KS")
		return nil
	}
	mm := &mainMode{r: ikev1.ResumeResponder(s.p1.IKE(), s.opt.Local, k.peer, h), started: now, moved: now, resumed: true, h: h}
	s.addHalfOpen(k, mm)
	s.opt.Counters.Inc(counter.IKECookieVerified)
	return mm
}

// replaceUnverified drops src's oldest exchange that still waits for its
// message 3, to make room for one whose cookie has come back: that the
// source can receive is known of the new one only (a spoofer's message 1s
// take the cap, never a GM's place).
func (s *Server) replaceUnverified(src netip.Addr) bool {
	for _, k := range s.bySource[src] {
		if mm := s.mainModes[k]; mm != nil && !mm.resumed && !mm.busy && mm.r.AwaitsMessage3() {
			s.dropMainMode(k)
			s.opt.Counters.Inc(counter.IKEHalfOpenReplaced)
			return true
		}
	}
	return false
}

// message3 hands message 3 to a Diffie-Hellman worker, once the peer is
// known to have a pre-shared key and has a token left. A peer without a
// key is refused right here, without any Diffie-Hellman.
func (s *Server) message3(k mmKey, mm *mainMode, pkt []byte) {
	if err := mm.r.CheckPeer(); err != nil {
		reply, err := mm.r.Handle(pkt) // refuses it before computing anything
		s.stepDone(k, mm, reply, err)
		return
	}
	if !s.takeDH(k.peer.Addr(), s.clk.Now()) {
		s.limitHit(counter.IKEDHRateLimited, "IKE_DH_RATE_LIMIT", k.peer, s.cfg.Limits.DHRate, "reason", "per-source rate")
		return
	}
	mm.busy = true
	r := mm.r
	ok := s.dh.submit(func() {
		reply, err := r.Handle(pkt)
		s.mu.Lock()
		defer s.mu.Unlock()
		mm.busy = false
		if s.mainModes[k] == mm {
			s.stepDone(k, mm, reply, err)
		}
	})
	if !ok {
		mm.busy = false
		s.limitHit(counter.IKEDHQueueFull, "IKE_DH_RATE_LIMIT", k.peer, s.cfg.Limits.DHQueue, "reason", "all workers busy")
	}
}

// stepDone sends what a step of main mode produced and records its
// outcome.
func (s *Server) stepDone(k mmKey, mm *mainMode, reply []byte, err error) {
	if err != nil {
		// Logged before the reply goes, so that whoever gets the reply
		// finds the event.
		s.p1.Failed(k.peer, err)
		s.dropMainMode(k)
		s.send(k.peer, reply)
		return
	}
	mm.moved = s.clk.Now()
	sa := mm.r.SA()
	up := sa != nil && mm.open
	if up {
		s.closeHalfOpen(k, mm)
		s.cookies.pin(mm.h)
		s.p1.Established(sa)
	}
	s.send(k.peer, reply)
	if up {
		// After message 6: the peer must hold the SA before an ANN on it
		// arrives.
		s.peerSAUp(sa)
	}
}

func (s *Server) send(to netip.AddrPort, pkt []byte) {
	if pkt != nil {
		s.opt.Send(to, pkt)
	}
}

func (s *Server) pull(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	sa := s.p1.Get(h.Cookies())
	if sa == nil {
		s.opt.Counters.Inc(counter.PullUnknownSA)
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", fmt.Sprintf("GROUPKEY-PULL for unknown phase-1 SA %x", h.Cookies()))
		s.p1.UnknownSA(from, h, pkt)
		return
	}
	c := h.Cookies()
	ps := s.pulls[c]
	p := ps[h.MessageID]
	if p == nil {
		if ps == nil {
			ps = map[uint32]*pull{}
			s.pulls[c] = ps
		}
		if len(ps) >= maxPullsPerSA {
			var oldest *pull
			var oldestID uint32
			for id, q := range ps {
				if oldest == nil || q.started.Before(oldest.started) {
					oldest, oldestID = q, id
				}
			}
			delete(ps, oldestID)
		}
		p = &pull{started: s.clk.Now()}
		// Called by p.r.Handle, which runs unlocked.
		p.r = gdoi.NewResponder(sa, h.MessageID, func(group uint32, sa *ikev1.SA) (*gdoi.Policy, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if g := s.groups[group]; g != nil {
				p.r.Interop = g.interop
			}
			return s.policyFor(group, sa, from)
		})
		ps[h.MessageID] = p
	}
	if p.busy {
		// A retransmission while its answer is being made: the GM sends
		// it again if the answer does not come.
		return
	}
	wasDone := p.r.Done()
	p.busy = true
	var reply []byte
	var err error
	s.unlocked(func() { reply, err = p.r.Handle(pkt) })
	p.busy = false
	if s.p1.Get(c) != sa || s.pulls[c][h.MessageID] != p {
		// The SA went, or the exchange was dropped, meanwhile.
		return
	}
	if err != nil {
		s.pullFailed(from, sa, p.r, err)
		delete(ps, h.MessageID)
		if len(ps) == 0 {
			delete(s.pulls, c)
		}
		return
	}
	s.opt.Send(from, reply)
	if p.r.Done() && !wasDone {
		s.registered(from, sa, p.r)
	}
}

// pullFailed answers a refused registration with a notification and logs
// it; a message that does not verify is dropped and counted.
func (s *Server) pullFailed(from netip.AddrPort, sa *ikev1.SA, r *gdoi.Responder, err error) {
	var rej *gdoi.Reject
	switch {
	case errors.As(err, &rej):
		s.opt.Counters.Inc(counter.RegistrationsRejected)
		c := sa.Cookies()
		s.opt.Send(from, sa.Notify(rej.Notify, c[:], []byte(rej.Reason)))
		g := s.groupName(r.Group())
		s.opt.Events.Emit(rej.Event, "group", g, "ip", from.Addr().String(), "peer", from.Addr().String(),
			"reason", rej.Reason, "notify", rej.Notify.String(), "ks", s.cfg.Identity.String())
	case errors.Is(err, gdoi.ErrHash):
		s.opt.Counters.Inc(counter.KSHashFail)
		s.opt.Events.Emit("KS_HASH_FAIL", "peer", from.Addr().String(), "reason", err.Error())
	default:
		s.p1.Malformed(from, err)
	}
}

func (s *Server) groupName(id uint32) string {
	if g := s.groups[id]; g != nil {
		return g.cfg.Name
	}
	return fmt.Sprint(id)
}

// policyFor is called when a verified message 1 asks for a group: unknown
// groups and unauthorized GMs are refused (S0 §3.5.12, KS-63).
func (s *Server) policyFor(id uint32, sa *ikev1.SA, from netip.AddrPort) (*gdoi.Policy, error) {
	g := s.groups[id]
	if g == nil {
		return nil, &gdoi.Reject{Notify: isakmp.NotifyInvalidIDInformation, Event: "KS_BAD_ID",
			Reason: fmt.Sprintf("group %d is not configured on this KS", id)}
	}
	identity := gmIdentity(sa, from)
	if len(g.cfg.Authorization) > 0 && !authorized(g.cfg.Authorization, identity) {
		// IKEv1 has no "authorization failed" notification; the
		// closest, AUTHENTICATION-FAILED, tells the GM its identity was
		// refused, and the data says why.
		return nil, &gdoi.Reject{Notify: isakmp.NotifyAuthenticationFailed, Event: "UNAUTHORIZED_IPADDR",
			Reason: fmt.Sprintf("identity %s is not authorized for group %s", identity, g.cfg.Name)}
	}
	now := s.clk.Now()
	if g.coop != nil && !g.coop.CanRegister() {
		// KS-42: a secondary that holds no keys from a primary would give
		// the GM keys nobody rekeys; the GM tries its next KS.
		s.opt.Counters.Inc(counter.COOPRegistrationsBlocked)
		return nil, &gdoi.Reject{Notify: isakmp.NotifyNoProposalChosen, Event: "COOP_KS_BLOCK_NEW_GM_REGISTER",
			Reason: fmt.Sprintf("group %s: this cooperative KS holds no keys from a primary yet (election in progress)", g.cfg.Name)}
	}
	if v := peerVersion(sa); v != nil && v.Version.Major != s.cfg.GDOI.Major {
		// PV-01: every KS and GM shares the major version; "if a KS and
		// GM are not compatible, GM registration does not succeed".
		s.opt.Counters.Inc(counter.RegistrationsVersionMismatch)
		return nil, &gdoi.Reject{Notify: isakmp.NotifyNoProposalChosen, Event: "KS_GM_VERSION_MISMATCH",
			Reason: fmt.Sprintf("GM version %s is not compatible with the KS's %s (another major version)", v.Version, s.cfg.GDOI)}
	}
	// A KS of old whose KEK has expired, its rekey not sent yet: sent
	// now, so that the GM registering gets the new KEK.
	s.kekRekeyAtExpiry(g, now, g.cfg.KEKLifetime)
	if err := s.refresh(g, now); err != nil {
		return nil, &gdoi.Reject{Notify: isakmp.NotifyNoProposalChosen, Event: "KS_NO_RSA_KEYS", Reason: err.Error()}
	}
	return g.policy(s.elapsed, from.Addr()), nil
}

// elapsed is the protocol time since t.
func (s *Server) elapsed(t time.Time) time.Duration {
	return s.clk.Protocol(s.clk.Now().Sub(t))
}

// gmIdentity is the GM's phase-1 identity address, or its source address
// when the ID is not an address. Main mode has checked that the identity
// is one the GM's pre-shared key is bound to (ikev1.BoundIdentity), so a
// GM cannot be authorized under another's identity.
func gmIdentity(sa *ikev1.SA, from netip.AddrPort) netip.Addr {
	if sa.PeerID != nil {
		if a, err := sa.PeerID.Addr(); err == nil {
			return a
		}
	}
	return from.Addr()
}

func authorized(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func (s *Server) registered(from netip.AddrPort, sa *ikev1.SA, r *gdoi.Responder) {
	policy, _ := r.Result()
	g := s.groups[r.Group()]
	if g == nil || policy == nil {
		return
	}
	addr := from.Addr()
	first := len(g.members) == 0
	m := g.members[addr]
	if m == nil {
		m = &member{address: addr}
		g.members[addr] = m
	}
	m.identity = gmIdentity(sa, from).String()
	m.local = true
	m.version = peerVersion(sa)
	if policy.KEK != nil {
		m.kek = policy.KEK.SPI
	}
	if g.coop != nil {
		g.coop.MembersChanged(s.clk.Now())
	}
	s.saveSoon(g)
	// A GM that registers has the current keys: the rekey in progress no
	// longer waits for it, and its missed rekeys are forgiven.
	m.missedInARow = 0
	if r := g.rekey.round; r != nil {
		delete(r.pending, addr)
	}
	m.registeredAt = s.clk.Now()
	// One more GM moves the rekey points (5 s × N / 50) and may follow a
	// refresh of the keys: Drive reads the deadline again.
	s.Kick()
	m.registrations++
	g.registrations++
	s.opt.Counters.Inc(counter.Registrations)
	s.opt.KeyLog.Policy(g.cfg.Name, policy)
	s.opt.Events.Emit("KS_REGS_COMPL", "group", g.cfg.Name, "gm", addr.String(), "ks", s.cfg.Identity.String())
	if first {
		s.opt.Events.Emit("KS_FIRST_GM", "group", g.cfg.Name, "gm", addr.String(), "ks", s.cfg.Identity.String())
	}
}

// peerVersion is the GDOI version the peer announced in main mode (nil
// when it announced none or a malformed one).
func peerVersion(sa *ikev1.SA) *gdoiwire.VersionVID {
	for _, d := range sa.PeerVendorIDs {
		if v, ok, err := gdoiwire.ParseVersionVID(d); ok && err == nil {
			return v
		}
	}
	return nil
}

// informational is phase 1's business (DPD, notifications): a KS acts
// on no notification a GM sends it.
func (s *Server) informational(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	s.p1.Informational(from, h, pkt)
}

// housekeeping is how often, in wall time, Timeout runs Expire.
const housekeeping = time.Second

// Expire drops phase-1 SAs whose lifetime has run out (and sends the
// R-U-THEREs due), exchanges that were left half done and idle Diffie-Hellman buckets: Timeout runs it
// every second.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.clk.Now())
}

func (s *Server) expire(now time.Time) {
	stale := s.clk.Wall(120 * time.Second) // gdoid's Exchange-max-time
	halfOpen := s.clk.Wall(s.cfg.Limits.HalfOpenTimeout)
	for k, mm := range s.mainModes {
		if (mm.open && now.Sub(mm.moved) > halfOpen) || now.Sub(mm.started) > stale {
			if mm.open {
				s.opt.Counters.Inc(counter.IKEHalfOpenExpired)
			}
			s.dropMainMode(k)
		}
	}
	for c, ps := range s.pulls {
		for id, p := range ps {
			if now.Sub(p.started) > stale {
				delete(ps, id)
			}
		}
		if len(ps) == 0 {
			delete(s.pulls, c)
		}
	}
	s.p1.Timeout(now)
	if s.stateDirty {
		s.saveState()
	}
	rate, burst := float64(s.cfg.Limits.DHRate), float64(s.cfg.Limits.DHBurst)
	for src, b := range s.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*rate >= burst {
			delete(s.buckets, src)
		}
	}
}

// sortedGroups returns the groups in configuration order.
func (s *Server) sortedGroups() []*group {
	gs := make([]*group, 0, len(s.order))
	for _, id := range s.order {
		gs = append(gs, s.groups[id])
	}
	return gs
}
