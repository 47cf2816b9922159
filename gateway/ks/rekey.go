package ks

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Rekeys. The KS sends a GROUPKEY-PUSH ahead of every TEK and KEK expiry,
// at the seeds' points (RK-40, RK-35), to every registered GM (unicast)
// or to the group's multicast address. Each transmission, retransmissions
// included, takes the next sequence number (RK-12). When rekey.ack asks
// for them, GMs acknowledge (RFC 8263); unicast retransmissions go only
// to those that did not (RK-30), and a GM that acknowledged none of three
// scheduled rekeys is deleted just before the fourth (KS-51, C-02) —
// provided it has acknowledged at least once: RFC 8263 says a GCKS
// should not consider a GM gone before then, and a GM that never
// acknowledges (one that does not know KEK_ACK_REQUESTED) keeps getting
// every rekey with its retransmissions instead. Multicast rekeys are
// retransmitted blindly; unicast ones without acknowledgements go to
// every GM each time.

// AckWait is how long after a PUSH the KS waits for its acknowledgement
// before it counts it missing, however short the retransmission interval
// (RFC 8263: not before 10 s). Protocol time.
const AckWait = 10 * time.Second

// TEKRekeyLead is how long before a TEK generation expires the KS sends
// the rekey that replaces it (S0 §3.5.3, RK-40):
//
//	MAX(10% of T, 90 s) + retransmissions × interval + 5 s × GMs / 50
func TEKRekeyLead(t time.Duration, count int, interval time.Duration, gms int) time.Duration {
	return max(t/10, 90*time.Second) + time.Duration(count)*interval + time.Duration(gms)*100*time.Millisecond
}

// KEKRekeyLead is how long before the KEK expires the KS sends the KEK
// rekey (S0 §3.6.6.1, RK-35): 200 s + retransmissions × interval, plus
// 5 s × (1 + GMs/50) for unicast rekeys.
func KEKRekeyLead(count int, interval time.Duration, gms int, unicast bool) time.Duration {
	d := 200*time.Second + time.Duration(count)*interval
	if unicast {
		d += 5*time.Second + time.Duration(gms)*100*time.Millisecond
	}
	return d
}

// rekeyState is a group's rekey bookkeeping.
type rekeyState struct {
	// round is the rekey in progress (nil between rounds), last the latest
	// one, in progress or done (status shows it).
	round, last *round
	// scheduled counts scheduled rekeys, kekRekeys those that replaced
	// the KEK, retransmits the retransmissions, acks the acknowledgements
	// that completed a GM's round and deleted the GMs removed for missed
	// acknowledgements.
	scheduled, kekRekeys, retransmits, acks, deleted uint64
	// reminders counts periodic reminder rekeys (RK-31).
	reminders uint64
}

// roundKind is what a rekey round changes, as the events and the control
// API name it.
type roundKind string

// Rekey rounds.
const (
	rekeyTEK       roundKind = "tek"     // new TEKs under the current KEK
	rekeyKEK       roundKind = "kek"     // a new KEK, sent under the old one
	rekeyKEKAndTEK roundKind = "kek+tek" // both at once
)

// round is one scheduled rekey and its retransmissions.
type round struct {
	kind    roundKind
	protect *gdoi.KEK // the KEK the PUSH travels under (the old one for a KEK rekey)
	// current is the SPI of the KEK the PUSH gives GMs (the new one for a
	// KEK rekey): a GM that acknowledges holds it.
	current [16]byte
	body    []isakmp.Payload
	started time.Time
	seqs    []uint32
	nextAt  time.Time
	// lastSent is when the latest transmission went out.
	lastSent time.Time
	// pending are the GMs that have not acknowledged (yet, or ever once
	// the round is over), out of targets; nil without acknowledgements.
	pending map[netip.Addr]*member
	targets int
	// allAckedAfter is the wall time from the first PUSH until the last GM
	// acknowledged; 0 while some GM has not.
	allAckedAfter time.Duration
	// removal: a GM-removal message (removal.go), sent to pending alone —
	// the GMs it was for, no longer members — with or without
	// acknowledgements.
	removal bool
}

// Tick sends the rekeys and retransmissions due by the clock's time.
func (s *Server) Tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick(s.clk.Now())
}

func (s *Server) tick(now time.Time) {
	for _, g := range s.sortedGroups() {
		s.rekeyTick(g, now)
	}
}

// Deadline is the wall time the KS next needs Timeout: the earliest of
// its groups' next rekeys and retransmissions and its next housekeeping
// (Expire).
func (s *Server) Deadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.housekeepAt
	if p := s.p1.Deadline(); !p.IsZero() {
		d = earliest(d, p)
	}
	for _, in := range s.initiations {
		d = earliest(d, in.sentAt.Add(s.clk.Wall(initiationRetry)))
	}
	for _, g := range s.groups {
		if g.coop != nil {
			d = earliest(d, g.coop.Deadline())
		}
		if r := g.rekey.round; r != nil && r.nextAt.Before(d) {
			d = r.nextAt
		}
		if len(g.gens) == 0 || !g.makesKeys() {
			continue
		}
		kek, tek := s.rekeyDue(g)
		d = earliest(d, kek, tek)
	}
	return d
}

// Timeout sends the rekeys and retransmissions due at now (wall time)
// and runs the housekeeping when it is due.
func (s *Server) Timeout(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.sortedGroups() {
		if g.coop != nil {
			g.coop.Timeout(now)
		}
	}
	s.retryInitiations(now)
	s.tick(now)
	switch {
	case !now.Before(s.housekeepAt):
		s.expire(now)
		s.housekeepAt = now.Add(housekeeping)
	case !s.p1.Deadline().IsZero() && !now.Before(s.p1.Deadline()):
		s.p1.Timeout(now) // an R-U-THERE due between housekeeping runs
	}
}

func earliest(d time.Time, ts ...time.Time) time.Time {
	for _, t := range ts {
		if t.Before(d) {
			d = t
		}
	}
	return d
}

func (s *Server) rekeyTick(g *group, now time.Time) {
	s.kekRekeyAtExpiry(g, now, g.kekLife())
	if err := s.refresh(g, now); err != nil || !g.makesKeys() {
		return
	}
	if r := g.rekey.round; r != nil && !now.Before(r.nextAt) {
		s.retransmit(g, r, now)
	}
	kekDue, tekDue := s.rekeyDue(g)
	newKEK, newTEK := !now.Before(kekDue), !now.Before(tekDue) || g.rekeyNow
	g.rekeyNow = false
	if newKEK || newTEK {
		s.startRound(g, now, newKEK, newTEK)
	}
}

// kekAtExpiryGrace is how long after the KEK's expiry a KS of old
// (rekey.kek_at_expiry) sends the KEK rekey: lifetimes travel in whole
// seconds, rounded up, and a GM's timer fires a moment after the KS's, so
// its count of the expiry may end a little after the KS's. At the GM's
// expiry, then, as the seeds describe it (GM-86): the GM has deleted the
// KEK and registers again. A GM that registers meanwhile gets the new KEK
// (kekRekeyAtExpiry from the registration).
const kekAtExpiryGrace = 5 * time.Second

// kekRekeyAtExpiry is a KS of old's KEK rekey (GM-86): once the KEK has
// lived life, the PUSH with a new KEK under the old one.
func (s *Server) kekRekeyAtExpiry(g *group, now time.Time, life time.Duration) {
	if g.cfg.Rekey.KEKAtExpiry && g.makesKeys() && g.kek != nil && len(g.gens) > 0 &&
		!now.Before(g.kekCreated.Add(s.clk.Wall(life))) {
		s.startRound(g, now, true, false)
	}
}

// kekLife is how long the group's KEK lives on this KS: its lifetime,
// and under rekey.kek_at_expiry the grace until the KEK rekey.
func (g *group) kekLife() time.Duration {
	if g.cfg.Rekey.KEKAtExpiry {
		return g.cfg.KEKLifetime + kekAtExpiryGrace
	}
	return g.cfg.KEKLifetime
}

// rekeyDue returns when the next KEK and TEK rekeys are due.
func (s *Server) rekeyDue(g *group) (kek, tek time.Time) {
	rk := g.cfg.Rekey
	n := len(g.members)
	kek = g.kekCreated.Add(s.clk.Wall(leadPoint(g.cfg.KEKLifetime, KEKRekeyLead(rk.RetransmitCount, rk.RetransmitInterval, n, g.unicast()))))
	if rk.KEKAtExpiry {
		kek = g.kekCreated.Add(s.clk.Wall(g.kekLife()))
	}
	tek = g.newest().created.Add(s.clk.Wall(leadPoint(g.cfg.TEKLifetime, TEKRekeyLead(g.cfg.TEKLifetime, rk.RetransmitCount, rk.RetransmitInterval, n))))
	return kek, tek
}

// nextRekeys is rekeyDue in protocol seconds from now.
func (s *Server) nextRekeys(g *group) (kek, tek float64) {
	if len(g.gens) == 0 {
		return 0, 0
	}
	k, t := s.rekeyDue(g)
	now := s.clk.Now()
	return max(0, s.clk.Protocol(k.Sub(now)).Seconds()), max(0, s.clk.Protocol(t.Sub(now)).Seconds())
}

// leadPoint is when, after the start of a lifetime t, a rekey with the
// given lead is due: t - lead, but not before half the lifetime (lab
// lifetimes shorter than the lead would otherwise rekey at once, forever).
func leadPoint(t, lead time.Duration) time.Duration {
	return max(t-lead, t/2)
}

// startRound begins a scheduled rekey: GMs that missed three are deleted
// first; then the new keys are made and the first PUSH goes out.
func (s *Server) startRound(g *group, now time.Time, newKEK, newTEK bool) {
	if r := g.rekey.round; r != nil {
		s.closeRound(g, r, now)
	}
	if g.unicast() && g.acks() {
		s.deleteSilentMembers(g)
	}
	r := &round{protect: g.kek, started: now, kind: rekeyTEK}
	if newKEK {
		// The new KEK travels under the old one; every later PUSH, and
		// every registration from now on, uses the new one (RK-35).
		g.kek, g.kekCreated = g.newKEK(s.cfg.Identity), now
		g.rekey.kekRekeys++
		r.kind = rekeyKEK
	}
	if newTEK || len(g.gens) == 0 {
		if err := g.addTEKs(now); err != nil {
			s.opt.Counters.Inc(counter.RekeyFailures)
			return
		}
		if n := len(g.gens); n >= 2 && len(g.gens[n-1].teks) > 0 && len(g.gens[n-2].teks) > 0 &&
			g.gens[n-1].teks[0].Direction != g.gens[n-2].teks[0].Direction {
			// sa receive-only set or removed by a reload (GM-62).
			s.opt.Events.Emit(directionEvent(g.gens[n-1].teks[0].Direction), "group", g.cfg.Name)
		}
		if newKEK {
			r.kind = rekeyKEKAndTEK
		}
	}
	// Unicast PUSHes go to every GM with the same bytes, signed once: the
	// SAK's destination is "any" and each GM keeps its own address as the
	// rekey destination.
	dst := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if !g.unicast() {
		dst = g.rekeyDst(netip.Addr{})
	}
	p := g.groupPolicy(s.elapsed, dst)
	if r.kind == rekeyKEK && g.interop.KEKRekeyAlone {
		p.TEKs = nil
	}
	var protect *gdoi.KEK
	if newKEK {
		protect = r.protect // gdoid: the new KEK's key packet under the old SPI
	}
	r.body = []isakmp.Payload{p.SAPayloadFor(g.interop), p.KDPayloadFor(g.interop, protect)}
	if len(g.deleted) > 0 {
		// RFC 6407 §4.2: HDR*, SEQ, [D,] SA, KD, ... (replace-now).
		r.body = append([]isakmp.Payload{deletePayload(g.deleted)}, r.body...)
	}
	if g.triggered != "" {
		r.kind += roundKind(" " + g.triggered)
	}
	if g.acks() {
		r.pending = make(map[netip.Addr]*member, len(g.members))
		for a, m := range g.members {
			r.pending[a] = m
		}
		r.targets = len(r.pending)
	}
	r.current = g.kek.SPI
	g.rekey.round, g.rekey.last = r, r
	g.rekey.scheduled++
	s.opt.KeyLog.Policy(g.cfg.Name, p)
	s.transmit(g, r, now)
	if g.coop != nil {
		// Secondaries must hold the new keys before a GM registers there.
		g.coop.KeysChanged()
	}
	if s.persisted(g) {
		// At once: the state must never hold a sequence number below one
		// a GM has seen.
		s.saveState()
	}
}

// deleteSilentMembers removes the GMs that acknowledged none of the last
// three scheduled rekeys (KS-51: "just before the fourth rekey"), among
// those that have acknowledged one before (RFC 8263).
func (s *Server) deleteSilentMembers(g *group) {
	for a, m := range g.members {
		if m.missedInARow < 3 || m.acksReceived == 0 {
			continue
		}
		delete(g.members, a)
		g.rekey.deleted++
		s.opt.Counters.Inc(counter.GMDeleted)
		s.opt.Events.Emit("KS_NACK_GM_EJECT", "group", g.cfg.Name, "gm", a.String())
		s.opt.Events.Emit("GM_DELETE", "group", g.cfg.Name, "gm", a.String(), "ks", s.cfg.Identity.String())
	}
}

// transmit sends the round's PUSH once more with the next sequence number:
// to every GM that has not acknowledged (unicast) or to the group address.
func (s *Server) transmit(g *group, r *round, now time.Time) {
	g.seq++
	seq := g.seq
	pkt, err := gdoi.SealPush(r.protect, g.signer, seq, r.body, g.interop.PushOptions())
	if err != nil {
		s.opt.Counters.Inc(counter.RekeyFailures)
		s.opt.Events.Logf("error", "group %s: GROUPKEY-PUSH seq %d: %v", g.cfg.Name, seq, err)
		return
	}
	retransmit := len(r.seqs) > 0
	reminder := len(r.seqs) > g.cfg.Rekey.RetransmitCount
	r.seqs = append(r.seqs, seq)
	r.nextAt = now.Add(s.clk.Wall(g.cfg.Rekey.RetransmitInterval))
	r.lastSent = now
	switch {
	case reminder:
		s.opt.Counters.Inc(counter.RekeyReminders)
		if s.persisted(g) {
			// Past what the round reserved: the state file must not
			// hold a sequence number below this one.
			s.saveState()
		}
	case retransmit:
		g.rekey.retransmits++
		s.opt.Counters.Inc(counter.RekeyRetransmits)
	}
	s.opt.Counters.Inc(counter.RekeysSent)
	ks := s.cfg.Identity.String()
	kind := string(r.kind)
	switch {
	case reminder:
		kind += " reminder"
	case retransmit:
		kind += " retransmit"
	}
	if !g.unicast() {
		dst := g.rekeyDst(netip.Addr{})
		s.opt.Send(dst, pkt)
		s.opt.Events.Emit("KS_SEND_MCAST_REKEY", "group", g.cfg.Name, "ks", ks, "dst", dst.Addr().String(), "seq", fmt.Sprint(seq), "kind", kind,
			"policy_replace", fmt.Sprint(strings.HasSuffix(string(r.kind), " "+ReplacePolicy)))
		return
	}
	to := r.pending
	if !g.acks() && !r.removal {
		to = g.members
	}
	for a, m := range to {
		if retransmit {
			m.rekeyRetries++
		} else {
			m.rekeysSent++
		}
		m.sentSeq = appendLast4(m.sentSeq, seq)
		s.opt.Send(g.rekeyDst(a), pkt)
	}
	s.opt.Events.Emit("KS_SEND_UNICAST_REKEY", "group", g.cfg.Name, "ks", ks, "seq", fmt.Sprint(seq),
		"kind", kind, "gms", fmt.Sprint(len(to)), "policy_replace", fmt.Sprint(strings.HasSuffix(string(r.kind), " "+ReplacePolicy)))
}

// retransmit runs at every retransmission interval of a round: another
// copy while retransmissions are left (and, unicast, GMs have not
// acknowledged), else the round ends.
func (s *Server) retransmit(g *group, r *round, now time.Time) {
	acked := r.pending != nil && len(r.pending) == 0
	if !acked && len(r.seqs) > g.cfg.Rekey.RetransmitCount && g.cfg.Rekey.RetransmitPeriodic && len(r.pending) > 0 {
		// A reminder (RK-31): the round stays open, and its PUSH goes
		// to the GMs still pending every interval, with the next
		// sequence number, until they acknowledge or the next scheduled
		// rekey closes the round.
		g.rekey.reminders++
		s.transmit(g, r, now)
		return
	}
	if acked || len(r.seqs) > g.cfg.Rekey.RetransmitCount {
		if wait := r.lastSent.Add(s.clk.Wall(AckWait)); len(r.pending) > 0 && now.Before(wait) {
			// Out of retransmissions, but the last one may still be
			// acknowledged.
			r.nextAt = wait
			return
		}
		s.closeRound(g, r, now)
		return
	}
	s.transmit(g, r, now)
}

// closeRound ends a round: the GMs still pending missed it, unless the
// next round starts within AckWait of the last transmission (lifetimes
// too short for the retransmissions): then they are neither acknowledged
// nor missing.
func (s *Server) closeRound(g *group, r *round, now time.Time) {
	if !now.Before(r.lastSent.Add(s.clk.Wall(AckWait))) {
		for _, m := range r.pending {
			m.acksMissed++
			m.missedInARow++
			s.opt.Counters.Inc(counter.RekeyAcksMissed)
		}
	}
	if g.rekey.round == r {
		g.rekey.round = nil
	}
}

// ack handles a GROUPKEY-PUSH acknowledgement (RFC 8263): parsed
// without cryptography first, so that acknowledgements nobody asked for,
// for unknown GMs and duplicates cost no HMAC; then its HASH is checked
// with the KEK it names.
func (s *Server) ack(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	g, kek := s.kekFor(h.Cookies())
	if g == nil {
		s.opt.Counters.Inc(counter.AckUnknownKEK)
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", fmt.Sprintf("GROUPKEY-PUSH-ACK for unknown KEK %x", h.Cookies()))
		return
	}
	a, err := gdoi.ParseAck(pkt)
	if err != nil {
		s.opt.Counters.Inc(counter.AckInvalid)
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", err.Error())
		return
	}
	if kek.Ack == 0 {
		// RFC 8263: a GCKS that asked for none discards them.
		s.opt.Counters.Inc(counter.AckUnrequested)
		s.opt.Events.Emit("KS_UNSOL_ACK", "group", g.cfg.Name, "ip", a.GM.String(), "seq", fmt.Sprint(a.Seq), "reason", "no acknowledgement requested")
		return
	}
	m := g.members[a.GM]
	if r := g.rekey.round; m == nil && r != nil && r.removal && r.protect.SPI == kek.SPI {
		// A GM removed a moment ago acknowledging its removal: no
		// member any more, but the round stops retransmitting to it.
		m = r.pending[a.GM]
	}
	if m == nil {
		s.opt.Counters.Inc(counter.AckUnsolicited)
		s.opt.Events.Emit("KS_UNSOL_ACK", "group", g.cfg.Name, "ip", a.GM.String(), "seq", fmt.Sprint(a.Seq), "reason", "not a registered GM")
		return
	}
	if slices.Contains(m.receivedSeq, a.Seq) {
		// The recent acknowledgements (verified ones only, so a forgery
		// cannot block the real one): a duplicate costs no HMAC.
		s.opt.Counters.Inc(counter.AcksDuplicate)
		return
	}
	if err := a.Verify(kek); err != nil {
		s.opt.Counters.Inc(counter.AckBadHash)
		s.opt.Events.Emit("KS_ACK_HASH_FAIL", "group", g.cfg.Name, "peer", from.String(), "ip", a.GM.String(), "seq", fmt.Sprint(a.Seq), "reason", err.Error())
		return
	}
	m.receivedSeq = appendLast4(m.receivedSeq, a.Seq)
	r := g.rekey.round
	if r == nil || !slices.Contains(r.seqs, a.Seq) {
		s.opt.Counters.Inc(counter.AcksLate)
		return
	}
	if _, ok := r.pending[a.GM]; !ok {
		// Acknowledged another transmission of this round already.
		s.opt.Counters.Inc(counter.AcksDuplicate)
		return
	}
	delete(r.pending, a.GM)
	m.kek = r.current
	m.acksReceived++
	m.missedInARow = 0
	g.rekey.acks++
	s.opt.Counters.Inc(counter.RekeyAcksReceived)
	if len(r.pending) == 0 {
		r.allAckedAfter = s.clk.Now().Sub(r.started)
		if s.opt.OnAllAcked != nil {
			s.opt.OnAllAcked(g.cfg.Name, r.targets, r.allAckedAfter)
		}
	}
}

// kekFor finds the group and KEK an acknowledgement names: the current
// KEK, or the one the round in progress travels under.
func (s *Server) kekFor(cookies [16]byte) (*group, *gdoi.KEK) {
	for _, g := range s.groups {
		if g.kek != nil && g.kek.SPI == cookies {
			return g, g.kek
		}
		if r := g.rekey.round; r != nil && r.protect.SPI == cookies {
			return g, r.protect
		}
	}
	return nil, nil
}

// appendLast4 keeps the last four sequence numbers (the seeds' "Sent seq
// num" / "Rcvd seq num" columns).
func appendLast4(s []uint32, v uint32) []uint32 {
	s = append(s, v)
	if len(s) > 4 {
		s = s[len(s)-4:]
	}
	return s
}
