// Package gm is the group member role: it registers to its groups' key
// servers (IKEv1 main mode, then GROUPKEY-PULL), fails over along the
// ordered KS list with the seeds' timers, re-registers before its keys
// expire, and keeps the downloaded policy for the data plane.
package gm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/phase1"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Options are what a Member needs besides its configuration.
type Options struct {
	phase1.Env
	// InterfaceUp reports whether the registration interface is up; nil
	// means always (GM_REGSTER_IF_DOWN otherwise).
	InterfaceUp func() bool
	// OnInstall is called (outside the Member's lock) with every policy
	// installed by a registration: the data plane's SA database feed.
	OnInstall func(group string, p *gdoi.Policy)
	// OnDirection is called (outside the lock) with a group's SA
	// direction mode (config.Direction*) whenever it may have changed.
	OnDirection func(group, dir string)
	// OnWithdraw is called (outside the lock) when a group's keys and
	// policy are deleted (clear, immediate GM removal): the data plane
	// forgets them.
	OnWithdraw func(group string)
	// JoinGroup is called (outside the lock) when a policy names a
	// multicast rekey destination: the daemon joins the group on the
	// registration interface and passes what arrives to HandlePacket.
	JoinGroup func(group netip.AddrPort) error
	// Rand draws the re-registration jitter, uniform in [0, 1) (nil:
	// math/rand/v2).
	Rand func() float64
}

// Registration timers (protocol time; S0 §1.2.6, §3.7.3.4, §3.6.5.3).
const (
	// retryInterval: IKE retransmits "3x 10 sec", one try plus three
	// retries per KS.
	retryInterval = 10 * time.Second
	triesPerKS    = 4
)

// Member is a group member. Its methods are safe for concurrent use. It
// keeps no timer of its own: Deadline says when it next needs Timeout
// (clock.Drive calls it in the daemon; tests call it with a fake time).
type Member struct {
	clock.Waker
	mu  sync.Mutex
	cfg *config.Config
	opt Options
	clk clock.Clock
	// p1 holds the phase-1 SAs this GM established and answers DPD.
	p1      *phase1.Layer
	groups  []*group
	stopped bool
}

// New creates the group member for cfg (role gm).
func New(cfg *config.Config, opt Options) (*Member, error) {
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	clk := clock.New(cfg.Timers.Scale, opt.Now)
	p1, err := phase1.New(cfg, opt.Env, clk, phase1.Role{})
	if err != nil {
		return nil, err
	}
	m := &Member{cfg: cfg, opt: opt, clk: clk, p1: p1}
	for i := range cfg.Groups {
		ip, ok := gdoi.InteropByName(cfg.Groups[i].InteropProfile)
		if !ok {
			return nil, fmt.Errorf("group %s: unknown interop profile %q", cfg.Groups[i].Name, cfg.Groups[i].InteropProfile)
		}
		m.groups = append(m.groups, &group{cfg: &cfg.Groups[i], state: stateIdle, interop: ip})
	}
	return m, nil
}

// Start begins registration of every group.
func (m *Member) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if len(g.cfg.KSList) == 0 {
			g.state = stateFailed
			g.lastErr = "no key server configured"
			m.opt.Events.Emit("GM_INCOMPLETE_CFG", "group", g.cfg.Name)
			continue
		}
		m.startAttempt(g, 0)
	}
}

// Stop cancels every scheduled step: Timeout does nothing after it.
func (m *Member) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	for _, g := range m.groups {
		g.stopTimer()
	}
}

// state is a group's registration state, as the control API shows it.
type state string

// Registration states.
const (
	stateIdle        state = "idle"        // not started
	stateRegistering state = "registering" // the first registration is under way
	stateRegistered  state = "registered"  // keys installed (a re-registration may be under way)
	stateFailed      state = "failed"      // every KS of the list failed; the next pass is scheduled
)

// group is one group's registration state.
type group struct {
	cfg *config.Group
	// interop is the group's interop profile (config interop_profile).
	interop gdoi.Interop
	state   state
	// ksIdx is the KS of the current (or last) attempt; pass counts the
	// complete passes over the KS list that failed, for the GDOI backoff.
	ksIdx int
	pass  int
	a     *attempt
	// due is the group's next scheduled step, at deadline (wall time);
	// nil when none is.
	due      func()
	deadline time.Time

	policy        *gdoi.Policy
	installedAt   time.Time
	ks            netip.Addr
	registrations uint64
	attempts      uint64
	lastErr       string
	lastReg       time.Time
	reregAt       time.Time
	// attemptAt is when the latest registration attempt started: the next
	// scheduled one comes a retry interval later at the earliest.
	attemptAt time.Time
	// reregKEK: the scheduled re-registration is the KEK's (GM-85), not
	// the TEKs'. oldKS: the last registration marked the KS as one that
	// rekeys the KEK only at its expiry (GM-86).
	reregKEK, oldKS bool
	// kekFirstLife is the lifetime the current KEK had when it was first
	// installed.
	kekFirstLife time.Duration

	// Rekeys: PUSHes taken, acknowledgements sent, PUSHes refused (bad
	// signature, replay, unparsable, uninstallable), when the last was
	// taken and the KEK a KEK rekey replaced.
	rekeysReceived, acksSent, rekeysRejected uint64
	lastRekey                                time.Time
	previousKEK                              *gdoi.KEK
	// ksDir is the SA direction the KS's TEKs gave (followKS), localDir
	// the operator's override until the next rekey ("" when none).
	ksDir, localDir string
	// tekCLT is the TEKs' configured lifetime as this GM knows it: the
	// longest lifetime a TEK arrived with (a new TEK comes with all of
	// it), for the removal formulas.
	tekCLT time.Duration
	// ackRefused is the KEK whose unsupported KEK_ACK_REQUESTED type was
	// logged (once per KEK).
	ackRefused [16]byte
}

// attempt is the registration to one KS: up to triesPerKS tries, each a
// main mode plus PULL (or a retransmission of the message in flight).
type attempt struct {
	ks      netip.AddrPort
	started time.Time
	tries   int
	mm      *ikev1.Initiator
	sa      *ikev1.SA
	pull    *gdoi.Initiator
	// failed: the exchange in flight ended with an error; the next try
	// starts afresh instead of retransmitting.
	failed   bool
	lastSent []byte
	// reused: the PULL runs on a phase-1 SA of an earlier registration,
	// which the KS may have lost (a restart); answered: the KS answered
	// the PULL, so it has the SA; hinted: an INVALID-COOKIE already made
	// this attempt start a main mode.
	reused, answered, hinted bool
}

func (g *group) stopTimer() { g.due, g.deadline = nil, time.Time{} }

// after schedules fn, under the lock, the protocol time d from now,
// replacing the group's step scheduled before.
func (m *Member) after(g *group, d time.Duration, fn func()) {
	g.due, g.deadline = fn, m.clk.After(m.clk.Now(), d)
	m.Kick()
}

// Deadline is the wall time of the earliest scheduled step of any group or
// of the phase-1 layer (an expiry, an R-U-THERE); zero when none is, or
// after Stop.
func (m *Member) Deadline() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return time.Time{}
	}
	d := m.p1.Deadline()
	for _, g := range m.groups {
		if g.due != nil && (d.IsZero() || g.deadline.Before(d)) {
			d = g.deadline
		}
	}
	return d
}

// Timeout runs every step due at now (wall time), and those they schedule
// that are due at once.
func (m *Member) Timeout(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.p1.Deadline(); !m.stopped && !p.IsZero() && !now.Before(p) {
		m.p1.Timeout(now)
	}
	for range 64 { // a step schedules its next one at least a retry interval on, or at once a few times
		ran := false
		for _, g := range m.groups {
			if m.stopped || g.due == nil || g.deadline.After(now) {
				continue
			}
			fn := g.due
			g.due = nil
			fn()
			ran = true
		}
		if !ran {
			return
		}
	}
}

// startAttempt starts registering group g with KS number idx of its list.
func (m *Member) startAttempt(g *group, idx int) {
	if m.opt.InterfaceUp != nil && !m.opt.InterfaceUp() {
		m.opt.Events.Emit("GM_REGSTER_IF_DOWN", "group", g.cfg.Name, "if", g.cfg.RegistrationInterface)
		g.lastErr = "registration interface is down"
		m.after(g, retryInterval, func() { m.startAttempt(g, idx) })
		return
	}
	ks := g.cfg.KSList[idx]
	g.ksIdx = idx
	if g.state != stateRegistered {
		g.state = stateRegistering
	}
	g.a = &attempt{ks: netip.AddrPortFrom(ks, m.cfg.Listen.Port), started: m.clk.Now()}
	g.attemptAt = g.a.started
	m.opt.Events.Emit("GM_REGSTER", "ks", ks.String(), "group", g.cfg.Name, "gm", m.opt.Local.Addr().String())
	m.try(g)
}

// try sends the next try of the current attempt: a fresh exchange if none
// is in flight (or the last one failed), else the message in flight again.
func (m *Member) try(g *group) {
	a := g.a
	a.tries++
	g.attempts++
	if a.lastSent != nil && !a.failed && a.reused && !a.answered {
		// A KS that lost the SA drops PULLs on it in silence (or its
		// INVALID-COOKIE was lost): a main mode recovers from that and
		// from a lost PULL alike, a retransmission only from the second.
		m.staleSA(g, "no answer to GROUPKEY-PULL")
	}
	switch {
	case a.lastSent != nil && !a.failed:
		m.opt.Counters.Inc(counter.Retransmits)
		m.opt.Send(a.ks, a.lastSent)
	default:
		a.failed, a.mm, a.sa, a.pull = false, nil, nil, nil
		a.reused, a.answered = false, false
		if sa := m.p1.Live(a.ks); sa != nil {
			a.sa, a.reused = sa, true
			m.startPull(g)
		} else {
			mm, err := ikev1.NewInitiator(m.p1.IKE(), m.opt.Local, a.ks)
			if err == nil {
				var pkt []byte
				if pkt, err = mm.Start(); err == nil {
					a.mm = mm
					m.send(a, pkt)
				}
			}
			if err != nil {
				m.attemptFailed(g, "REG_FAILED", err)
			}
		}
	}
	m.after(g, retryInterval, func() { m.tick(g) })
}

// tick runs every retry interval during an attempt.
func (m *Member) tick(g *group) {
	a := g.a
	if a == nil {
		return
	}
	if a.tries < triesPerKS {
		m.try(g)
		return
	}
	// This KS had its tries: the next KS in the list 40 s after this one's
	// first try (IKE backoff); after the last, back to the first after the
	// GDOI backoff (70, 140, 280, 480 s), counted the same way.
	g.a = nil
	if g.state != stateRegistered {
		g.state = stateFailed
	}
	next := g.ksIdx + 1
	wait := config.IKEBackoff
	if next == len(g.cfg.KSList) {
		next = 0
		wait = gdoiBackoff(g.pass)
		g.pass++
	}
	elapsed := m.protocolSince(a.started)
	m.after(g, max(0, wait-elapsed), func() {
		if next != 0 || len(g.cfg.KSList) > 1 {
			m.opt.Events.Emit("GM_CONN_NEXT_SER", "group", g.cfg.Name, "ks", g.cfg.KSList[next].String())
		}
		m.startAttempt(g, next)
	})
}

// gdoiBackoff is the wait after pass number pass (0-based) over the KS
// list failed: 70 s doubling up to 480 s (S0 L4539-4617).
func gdoiBackoff(pass int) time.Duration {
	d := config.GDOIBackoffMin
	for i := 0; i < pass && d < config.GDOIBackoffMax; i++ {
		d *= 2
	}
	return min(d, config.GDOIBackoffMax)
}

func (m *Member) protocolSince(t time.Time) time.Duration {
	return m.clk.Since(m.clk.Now(), t)
}

func (m *Member) send(a *attempt, pkt []byte) {
	a.lastSent = pkt
	m.opt.Send(a.ks, pkt)
}

func (m *Member) startPull(g *group) {
	a := g.a
	a.pull = gdoi.NewInitiator(a.sa, g.cfg.ID)
	a.pull.Wire = g.interop.Wire
	m.send(a, a.pull.Start())
}

// attemptFailed records a failed try; the next tick tries again.
func (m *Member) attemptFailed(g *group, event string, err error) {
	if g.a != nil {
		g.a.failed = true
	}
	g.lastErr = err.Error()
	m.opt.Counters.Inc(counter.RegistrationFailures)
	ks := ""
	if g.a != nil {
		ks = g.a.ks.Addr().String()
	}
	m.opt.Events.Emit(event, "ks", ks, "group", g.cfg.Name, "gm", m.opt.Local.Addr().String(), "reason", err.Error())
}

// HandlePacket processes one datagram received from from.
func (m *Member) HandlePacket(from netip.AddrPort, pkt []byte) {
	if installed := m.handleLocked(from, pkt); installed != nil {
		installed()
	}
}

// handleLocked is handle under the lock, released by a defer: the daemon
// recovers from a panic on a datagram outside the Member, which must not
// stay locked.
func (m *Member) handleLocked(from netip.AddrPort, pkt []byte) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.handle(from, pkt)
}

func (m *Member) handle(from netip.AddrPort, pkt []byte) func() {
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		m.p1.Malformed(from, err)
		return nil
	}
	if h.Exchange == isakmp.ExchangeGroupkeyPush {
		return m.rekey(from, h, pkt)
	}
	if m.p1.Get(h.Cookies()) != nil && h.Exchange == isakmp.ExchangeInformational && h.Flags&isakmp.FlagEncryption == 0 {
		if n, ok := ikev1.ParseNotify(pkt); ok && n.MessageType == isakmp.NotifyInvalidCookie {
			m.invalidCookie(from, h)
			return nil
		}
	}
	g := m.groupFor(h)
	if g == nil {
		if h.Exchange == isakmp.ExchangeInformational {
			m.p1.Informational(from, h, pkt) // DPD or a notification on an established SA
			return nil
		}
		m.opt.Counters.Inc(counter.UnexpectedPackets)
		return nil
	}
	a := g.a
	switch {
	case h.Exchange == isakmp.ExchangeMainMode || (h.Exchange == isakmp.ExchangeInformational && a.sa == nil):
		if a.mm == nil || a.failed {
			return nil
		}
		reply, err := a.mm.Handle(pkt)
		if err != nil {
			m.ikeFailed(g, err)
			return nil
		}
		if reply != nil {
			m.send(a, reply)
		}
		if sa := a.mm.SA(); sa != nil && a.sa == nil {
			a.sa = sa
			m.p1.Established(sa)
			m.Kick() // the SA's expiry or first R-U-THERE may be the earliest deadline now
			m.startPull(g)
		}
	case h.Exchange == isakmp.ExchangeInformational:
		n := m.p1.Informational(from, h, pkt)
		if n == nil {
			return nil
		}
		a.answered = true // protected on the SA: the KS has it
		if a.pull != nil && a.pull.Policy() == nil {
			m.attemptFailed(g, "REG_FAILED", fmt.Errorf("KS %s refused the registration: %s %s", from.Addr(), n.MessageType, printable(n.Data)))
		}
	case h.Exchange == isakmp.ExchangeGroupkeyPull:
		if a.pull == nil || a.failed || h.MessageID != a.pull.MessageID() {
			m.opt.Counters.Inc(counter.UnexpectedPackets)
			return nil
		}
		reply, err := a.pull.Handle(pkt)
		if err == nil || errors.Is(err, gdoi.ErrPolicy) {
			a.answered = true // verified on the SA: the KS has it
			m.p1.Heard(a.sa.Cookies())
		}
		switch {
		case errors.Is(err, gdoi.ErrHash):
			m.attemptFailed(g, "GM_HASH_FAIL", err)
			return nil
		case errors.Is(err, gdoi.ErrPolicy):
			m.attemptFailed(g, "GM_REJECTING_SA_PAYLOAD", err)
			return nil
		case err != nil:
			m.attemptFailed(g, "REG_FAILED", err)
			return nil
		}
		if reply != nil {
			m.send(a, reply)
			return nil
		}
		if p := a.pull.Policy(); p != nil {
			return m.install(g, p)
		}
	default:
		m.opt.Counters.Inc(counter.UnexpectedPackets)
	}
	return nil
}

// groupFor finds the group whose registration in flight the message
// belongs to, by its cookies.
func (m *Member) groupFor(h isakmp.Header) *group {
	for _, g := range m.groups {
		a := g.a
		if a == nil {
			continue
		}
		if a.sa != nil && a.sa.Cookies() == h.Cookies() {
			return g
		}
		if a.mm != nil && a.mm.ICookie() == h.ICookie {
			return g
		}
	}
	return nil
}

func (m *Member) ikeFailed(g *group, err error) {
	m.p1.Failed(g.a.ks, err)
	m.attemptFailed(g, "REG_FAILED", err)
}

// invalidCookie takes a KS's INVALID-COOKIE for one of the GM's phase-1
// SAs as what it can only be, unauthenticated: a hint that the KS lost the
// SA (a restart). It acts on it only from the KS of a registration under
// way whose PULL on that SA has had no answer, once per attempt, and only
// by dropping the SA and starting a main mode at once; the group's keys
// and the data plane are not touched, whoever sent it.
func (m *Member) invalidCookie(from netip.AddrPort, h isakmp.Header) {
	m.opt.Counters.Inc(counter.InvalidCookieReceived)
	for _, g := range m.groups {
		a := g.a
		if a == nil || a.sa == nil || a.sa.Cookies() != h.Cookies() || from.Addr() != a.ks.Addr() ||
			a.pull == nil || a.answered || a.hinted || a.failed {
			continue
		}
		a.hinted = true
		m.opt.Events.Emit("IKE_NOTIFY_RECV", "peer", from.Addr().String(), "notify", isakmp.NotifyInvalidCookie.String())
		m.staleSA(g, "KS answered INVALID-COOKIE")
		m.try(g)
		return
	}
	m.opt.Counters.Inc(counter.InvalidCookieIgnored)
}

// staleSA drops the phase-1 SAs with the KS of g's attempt and makes the
// next try a main mode.
func (m *Member) staleSA(g *group, reason string) {
	a := g.a
	m.p1.DropPeer(a.ks)
	a.failed = true
	m.opt.Counters.Inc(counter.IKESAStale)
	m.opt.Events.Emit("IKE_SA_STALE", "peer", a.ks.Addr().String(), "group", g.cfg.Name, "reason", reason)
}

// install makes a downloaded policy current, logs the seeds' event
// sequence (S0 §3.6.6.3: GM_REKEY_TRANS_2_UNI, SA_KEK_UPDATED,
// SA_TEK_UPDATED, GM_REGS_COMPL, GM_INSTALL_POLICIES_SUCCESS) and schedules
// the re-registration. It returns the OnInstall call to make outside the
// lock.
func (m *Member) install(g *group, p *gdoi.Policy) func() {
	a := g.a
	now := m.clk.Now()
	ks := a.ks.Addr().String()
	me := m.opt.Local.Addr().String()
	prev := g.policy
	g.policy, g.installedAt, g.ks, g.lastReg = p, now, a.ks.Addr(), now
	g.state, g.lastErr, g.pass, g.a = stateRegistered, "", 0, nil
	g.registrations++
	m.opt.Counters.Inc(counter.Registrations)
	m.opt.KeyLog.Policy(g.cfg.Name, p)
	m.transportEvent(g, prev, p)
	if k := p.KEK; k != nil {
		m.opt.Events.Emit("SA_KEK_UPDATED", "group", g.cfg.Name, "spi", fmt.Sprintf("%x", k.SPI))
	}
	for _, t := range p.TEKs {
		m.opt.Events.Emit("SA_TEK_UPDATED", "group", g.cfg.Name, "spi", fmt.Sprintf("0x%08x", t.SPI))
	}
	m.opt.Events.Emit("GM_REGS_COMPL", "ks", ks, "group", g.cfg.Name, "gm", me)
	m.opt.Events.Emit("GM_INSTALL_POLICIES_SUCCESS", "ks", ks, "group", g.cfg.Name, "gm", me)
	m.followKS(g, prev, p, false)
	// GM-86: a registration before the KEK's end that brings the same KEK
	// with less than 190 s left says the KS sends its KEK rekey only at
	// expiry (an old KS): wait for it past the expiry instead of
	// registering again and again before it.
	g.oldKS = m.kekGivenAgainLate(g, prev, p)
	m.scheduleReregistration(g, p)
	return m.installed(g, p)
}

// scheduleReregistration arms the re-registration that runs when no rekey
// arrives: at T - R - jitter before the newest TEK expires, R = MAX(5% of
// T, 60 s); the "new" jitter is up to MAX(2% of T, 6 s) earlier, the
// legacy one ±6 s (S0 §3.6.5.1-2, GM-31/GM-32). The KEK has its own point,
// if sooner: the GM expects the KEK rekey 200 s before the KEK expires and
// without it deletes the KEK and re-registers at a random time in (expiry -
// 190 s, expiry - 40 s) (S0 §3.6.6, GM-85).
//
// Whatever lifetimes the KS sends, a point is never earlier than half the
// remaining lifetime it is for, nor a retry interval after the latest
// attempt started: a KS with lifetimes shorter than the leads (gdoid sends
// a 25 s KEK and 60 s TEKs) would otherwise have the GM re-register at
// once, over and over.
func (m *Member) scheduleReregistration(g *group, p *gdoi.Policy) {
	t := time.Duration(0)
	for _, tek := range p.TEKs {
		t = max(t, tek.Lifetime)
	}
	if t == 0 && p.KEK == nil {
		return
	}
	at := time.Duration(math.MaxInt64)
	clamped := false
	point := func(life, lead time.Duration) time.Duration {
		if life-lead < life/2 {
			clamped = true
			return life / 2
		}
		return life - lead
	}
	if t > 0 {
		at = point(t, ReregistrationLead(t, g.cfg.Jitter, m.opt.Rand()))
	}
	g.reregKEK = false
	var expiry time.Duration // > 0: the KEK of an old KS, deleted then (GM-86)
	if k := p.KEK; k != nil {
		kat := point(k.Lifetime, KEKReregistrationLead(m.opt.Rand()))
		if g.oldKS {
			// GM-86 step 2: the KEK is deleted at its expiry and the GM
			// registers again at a random time in (expiry, expiry + 80 s).
			kat = k.Lifetime + max(time.Duration(m.opt.Rand()*float64(OldKSReregistrationWindow)), time.Second)
		}
		if kat < at {
			at, g.reregKEK = kat, true
			if g.oldKS {
				expiry = k.Lifetime
			}
		}
	}
	if !g.attemptAt.IsZero() {
		if next := retryInterval - m.protocolSince(g.attemptAt); at < next {
			at, clamped = next, true
		}
	}
	if clamped {
		m.opt.Counters.Inc(counter.ReregistrationClamped)
	}
	at = max(at, time.Second)
	g.reregAt = m.clk.After(m.clk.Now(), at)
	if expiry > 0 && expiry < at {
		m.after(g, expiry, func() { m.deleteExpiredKEK(g, at-expiry) })
		return
	}
	m.after(g, at, func() { m.reregister(g) })
}

// Old key servers (GM-86): a KEK given again with less than OldKSKEKLeft
// to live marks one; the GM registers again within
// OldKSReregistrationWindow after the KEK's expiry.
const (
	OldKSKEKLeft              = 190 * time.Second
	OldKSReregistrationWindow = 80 * time.Second
)

// kekGivenAgainLate reports whether registration policy p, after prev,
// marks an old KS (GM-86): the same KEK again with less than OldKSKEKLeft
// to live, when it had lived long enough for a KS of today to have
// rekeyed it by then (200 s ahead, or at half a shorter lifetime, RK-35) —
// not so under a KS whose KEKs are short anyway (gdoid's 25 s).
func (m *Member) kekGivenAgainLate(g *group, prev, p *gdoi.Policy) bool {
	if p.KEK == nil {
		return false
	}
	same := prev != nil && prev.KEK != nil && prev.KEK.SPI == p.KEK.SPI
	if !same {
		g.kekFirstLife = p.KEK.Lifetime
		return false
	}
	return p.KEK.Lifetime < OldKSKEKLeft && g.kekFirstLife >= 2*OldKSKEKLeft
}

// deleteExpiredKEK deletes g's KEK at its expiry, an old KS's KEK rekey
// not having come, and registers again wait later (GM-86 step 2).
func (m *Member) deleteExpiredKEK(g *group, wait time.Duration) {
	if g.policy != nil && g.policy.KEK != nil {
		m.opt.Events.Emit("GM_DELETE_EXPIRED_KEK", "group", g.cfg.Name, "spi", fmt.Sprintf("%x", g.policy.KEK.SPI))
		np := *g.policy
		np.KEK = nil
		g.policy = &np
	}
	g.reregKEK = false
	m.after(g, wait, func() { m.reregister(g) })
}

// reregister starts the scheduled re-registration of g.
func (m *Member) reregister(g *group) {
	if g.reregKEK {
		m.opt.Events.Emit("GM_DELETE_EXPIRED_KEK", "group", g.cfg.Name, "spi", fmt.Sprintf("%x", g.policy.KEK.SPI))
	}
	m.opt.Events.Emit("GM_RE_REGISTER", "group", g.cfg.Name)
	g.pass = 0
	m.startAttempt(g, 0)
}

// KEKReregistrationLead is how long before the KEK expires a GM that got
// no KEK rekey re-registers, for a uniform random u in [0, 1): 40 to 190 s.
func KEKReregistrationLead(u float64) time.Duration {
	return 40*time.Second + time.Duration(u*float64(150*time.Second))
}

// ReregistrationLead is how long before the end of a lifetime t the GM
// starts re-registering, for a uniform random u in [0, 1).
func ReregistrationLead(t time.Duration, jitter string, u float64) time.Duration {
	r := max(t/20, 60*time.Second)
	if jitter == "legacy" {
		return r + time.Duration((u*2-1)*float64(6*time.Second))
	}
	j := max(t/50, 6*time.Second)
	return r + time.Duration(u*float64(j))
}

// printable returns notification data as text when it is text.
func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("(%d octets)", len(b))
		}
	}
	return string(b)
}
