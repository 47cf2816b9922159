package dataplane

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// Options configure an Engine.
type Options struct {
	Events *events.Log
	// Clock is the wall clock and the timer scale (the zero Clock: the
	// system's wall clock at scale 1).
	Clock clock.Clock
	// DF is the outer header's DF policy.
	DF esp.DFPolicy
	// LocalDenyInbound is "ios", "iosxe" or "accept-both" (config.DataPlane).
	LocalDenyInbound string
	// Groups are the GM's groups in configuration order, with their local
	// deny ACLs.
	Groups []config.Group
	// Local is the GM's address: the outer source of SAs that do not
	// preserve the inner source.
	Local netip.Addr
	// MTU is the WAN MTU when the engine starts (SetMTU changes it).
	MTU int
	// FailClose is the fail-close mode (nil or not activated: fail-open).
	FailClose *config.FailClose
	// TCPMSS, when not 0, is the largest MSS a TCP SYN or SYN-ACK may
	// announce once the GM has encrypted or decrypted it (IOS "ip tcp
	// adjust-mss" on the LAN interface, DP-40), at most 65535. Traffic the
	// GM passes in clear keeps its MSS, unlike behind IOS's interface
	// command: it carries no ESP overhead for the clamp to make room for.
	TCPMSS int
	// ESPOut: the ESP a worker makes leaves through its ESP sink
	// (Worker.SetESPSink), the GM's own output path, not back into the
	// TUN for the kernel to forward: the outer TTL is then the inner's,
	// with no hop added for a forwarding that takes one off.
	ESPOut bool
}

// Engine holds the installed policy and processes packets. It is safe for
// concurrent use: any number of workers process packets while policies are
// installed; a packet sees either the old or the new policy.
type Engine struct {
	opt      Options
	window   time.Duration // rollover window, wall clock
	state    atomic.Pointer[state]
	mtu      atomic.Int64
	mss      uint16 // Options.TCPMSS; 0: no clamp
	counters [numCounters]atomic.Uint64

	mu     sync.Mutex
	groups map[string]*groupState

	logMu      sync.Mutex
	lastLog    map[string]time.Time
	suppressed map[string]uint64
	icmpTokens float64 // guarded by logMu
	icmpRefill time.Time
}

// groupState is what is installed for one group.
type groupState struct {
	policy *gdoi.Policy
	sas    []*SA  // oldest first
	dir    string // config.Direction*; "" is both
}

// state is an immutable snapshot of the whole policy, swapped atomically.
type state struct {
	groups []*groupRules
	bySPI  map[uint32]*SA
	// failClose is the armed fail-close ACL; nil when fail-close is off or
	// removed (every group has installed keys).
	failClose *failCloseRules
}

// failCloseRules is the fail-close ACL as matched each way. An entry that
// drops is a permit ("do not send"); one that passes is a deny ("send in
// clear"); no match drops (the implicit final permit ip any any).
type failCloseRules struct {
	out, in []failCloseRule
}

type failCloseRule struct {
	sel  selector
	drop bool
}

// passes reports whether the first entry matching f lets it through.
func passes(rules []failCloseRule, f *ipv4.Flow) bool {
	for i := range rules {
		if rules[i].sel.match(f) {
			return !rules[i].drop
		}
	}
	return false
}

// groupRules is one group's merged policy.
type groupRules struct {
	name       string
	localOut   []selector // local deny, outbound
	localIn    []selector // local deny, inbound (per LocalDenyInbound)
	ksDeny     []selector
	permits    []*permitRule
	registered bool
	// dir is the group's SA direction mode (config.Direction*).
	dir string
}

// permitRule is one KS permit entry and its SAs, oldest first.
type permitRule struct {
	sel selector
	sas []*SA
}

// New returns an engine with no policy installed: every packet passes in
// clear until a group registers.
func New(opt Options) *Engine {
	if opt.MTU == 0 {
		opt.MTU = 1500
	}
	e := &Engine{
		opt: opt, window: opt.Clock.Wall(config.RolloverWindow),
		groups: map[string]*groupState{}, lastLog: map[string]time.Time{}, suppressed: map[string]uint64{},
	}
	e.mtu.Store(int64(opt.MTU))
	e.mss = uint16(min(max(opt.TCPMSS, 0), 0xffff))
	e.rebuild()
	return e
}

// SetMTU sets the WAN MTU the engine fits encrypted packets into.
func (e *Engine) SetMTU(mtu int) { e.mtu.Store(int64(mtu)) }

// MTU returns the WAN MTU in use.
func (e *Engine) MTU() int { return int(e.mtu.Load()) }

// Install makes policy p, received for group at installedAt, current. TEKs
// already installed with the same keys keep their SA (IV counter, sequence
// number, counters, selector) and take the new lifetime; SAs not in p stay
// until they expire, so that traffic sealed under them is still accepted.
func (e *Engine) Install(group string, p *gdoi.Policy, installedAt time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	gs := e.groups[group]
	if gs == nil {
		gs = &groupState{}
		e.groups[group] = gs
	}
	var firstErr error
	for i := range p.TEKs {
		t := &p.TEKs[i]
		expires := installedAt.Add(e.opt.Clock.Wall(t.Lifetime))
		if j := slices.IndexFunc(gs.sas, func(sa *SA) bool { return sa.sameKeys(t, p.SIDs, p.SIDBits) }); j >= 0 {
			gs.sas[j].expires.Store(expires.UnixNano())
			continue
		}
		// The same SPI with other keys replaces the old SA.
		gs.sas = slices.DeleteFunc(gs.sas, func(sa *SA) bool { return sa.SPI == t.SPI })
		boost := uint8(1) // the kernel's forwarding out of the TUN takes it off
		if e.opt.ESPOut {
			boost = 0
		}
		sa, err := newSA(group, t, expires, p.SIDs, p.SIDBits, esp.Tunnel{DF: e.opt.DF, TTLBoost: boost}, e.opt.Local)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("group %s: TEK %#08x: %w", group, t.SPI, err)
			}
			continue
		}
		if sa.noSend != "" && e.opt.Events != nil {
			e.opt.Events.Logf("warn", "data plane: group %s: TEK 0x%08x is receive-only: %s", group, t.SPI, sa.noSend)
		}
		gs.sas = append(gs.sas, sa)
	}
	if len(p.Deleted) > 0 {
		gs.sas = slices.DeleteFunc(gs.sas, func(sa *SA) bool { return slices.Contains(p.Deleted, sa.SPI) })
	}
	gs.policy = p
	e.pruneLocked(e.opt.Clock.Now())
	return firstErr
}

// SetDirection sets a group's SA direction mode (config.DirectionBoth,
// DirectionInboundOnly or DirectionInboundOptional). It holds until it is
// set again, whatever policies are installed; a group that is removed
// starts again at both.
func (e *Engine) SetDirection(group, dir string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gs := e.groups[group]
	if gs == nil {
		gs = &groupState{}
		e.groups[group] = gs
	}
	gs.dir = dir
	e.rebuildLocked()
}

// Remove uninstalls a group's policy and SAs (the group is left, cleared
// or its keys deleted at once): its traffic is treated as before the first
// registration, fail-close armed again when it is configured.
func (e *Engine) Remove(group string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.groups, group)
	e.rebuildLocked()
}

// Prune drops expired SAs. Packets never use an expired SA in any case;
// Prune frees them and makes their SPIs unknown.
func (e *Engine) Prune() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pruneLocked(e.opt.Clock.Now())
}

func (e *Engine) pruneLocked(now time.Time) {
	for _, gs := range e.groups {
		gs.sas = slices.DeleteFunc(gs.sas, func(sa *SA) bool { return !sa.valid(now) })
		sort.SliceStable(gs.sas, func(i, j int) bool { return gs.sas[i].expires.Load() < gs.sas[j].expires.Load() })
	}
	e.rebuildLocked()
}

func (e *Engine) rebuild() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rebuildLocked()
}

// rebuildLocked makes a new snapshot from the installed groups.
func (e *Engine) rebuildLocked() {
	st := &state{bySPI: map[uint32]*SA{}}
	keyed := true // every group has installed a policy with keys
	for _, g := range e.opt.Groups {
		gr := &groupRules{name: g.Name, dir: config.DirectionBoth}
		if gs := e.groups[g.Name]; gs != nil && gs.dir != "" {
			gr.dir = gs.dir
		}
		if gs := e.groups[g.Name]; gs == nil || gs.policy == nil || len(gs.policy.TEKs) == 0 {
			keyed = false
		}
		for _, ace := range g.LocalACL {
			if ace.Permit {
				continue // refused by config validation; never a permit here
			}
			s := fromACE(ace)
			gr.localOut = append(gr.localOut, s)
			gr.localIn = append(gr.localIn, e.inboundForms(s)...)
		}
		if gs := e.groups[g.Name]; gs != nil && gs.policy != nil {
			gr.registered = true
			for _, d := range gs.policy.Deny {
				gr.ksDeny = append(gr.ksDeny, fromGDOI(d))
			}
			// The permit entries in the policy's order, the ACL's: the
			// first that matches decides, so a specific entry before a
			// broader one keeps its own TEK. (The SAs are kept in expiry
			// order, which is not the ACL's.) Entries whose TEKs all
			// expired still match, and drop (fail-closed), until the
			// policy is replaced.
			for i := range gs.policy.TEKs {
				s := fromGDOI(gs.policy.TEKs[i].Selector)
				if !slices.ContainsFunc(gr.permits, func(p *permitRule) bool { return p.sel == s }) {
					gr.permits = append(gr.permits, &permitRule{sel: s})
				}
			}
			for _, sa := range gs.sas {
				st.bySPI[sa.SPI] = sa
				i := slices.IndexFunc(gr.permits, func(p *permitRule) bool { return p.sel == sa.sel })
				if i < 0 { // an SA of an earlier policy whose entry is gone
					gr.permits = append(gr.permits, &permitRule{sel: sa.sel})
					i = len(gr.permits) - 1
				}
				gr.permits[i].sas = append(gr.permits[i].sas, sa)
			}
		}
		st.groups = append(st.groups, gr)
	}
	// Fail-close stays armed until every group has installed keys: a
	// policy without TEKs (a KS with no policy to give, GM-53) leaves it
	// armed. It is not persistent: a failed re-registration later does
	// not re-arm it, only a group's removal (clear, removal now) does.
	if fc := e.opt.FailClose; fc != nil && fc.Activate && !keyed {
		st.failClose = &failCloseRules{}
		for _, ace := range fc.ACL {
			s := fromACE(ace)
			st.failClose.out = append(st.failClose.out, failCloseRule{s, ace.Permit})
			for _, in := range e.inboundForms(s) {
				st.failClose.in = append(st.failClose.in, failCloseRule{in, ace.Permit})
			}
		}
	}
	e.state.Store(st)
}

// inboundForms are the selectors an outbound entry s matches inbound clear
// traffic with, per LocalDenyInbound.
func (e *Engine) inboundForms(s selector) []selector {
	switch e.opt.LocalDenyInbound {
	case "iosxe":
		return []selector{s}
	case "accept-both":
		return []selector{s, s.mirror()}
	default: // ios
		return []selector{s.mirror()}
	}
}

// FailCloseArmed reports whether fail-close is armed now.
func (e *Engine) FailCloseArmed() bool { return e.state.Load().failClose != nil }

// pick returns the SA to send on: the oldest valid one with more than the
// rollover window left, else the newest valid one (GMs move to the new TEK
// when 30 s remain on the old, S0 L293-295).
func (p *permitRule) pick(now time.Time, window time.Duration) *SA {
	var newest *SA
	for _, sa := range p.sas {
		if !sa.send || !sa.valid(now) {
			continue
		}
		if sa.left(now) > window {
			return sa
		}
		newest = sa
	}
	return newest
}

func (e *Engine) count(c Counter) { e.counters[c].Add(1) }

// Count returns the value of counter c.
func (e *Engine) Count(c Counter) uint64 { return e.counters[c].Load() }

// report logs event name with fields, at most once a second per name; the
// number of reports suppressed in between goes with the next one logged.
func (e *Engine) report(name string, fields ...string) {
	if e.opt.Events == nil {
		return
	}
	now := e.opt.Clock.Now()
	e.logMu.Lock()
	if now.Sub(e.lastLog[name]) < time.Second {
		e.suppressed[name]++
		e.logMu.Unlock()
		return
	}
	e.lastLog[name] = now
	n := e.suppressed[name]
	e.suppressed[name] = 0
	e.logMu.Unlock()
	if n > 0 {
		fields = append(fields, "suppressed", fmt.Sprint(n))
	}
	e.opt.Events.Emit(name, fields...)
}

// icmpAllowed limits ICMP errors to 100 a second with a burst of 100, as
// routers rate-limit them.
func (e *Engine) icmpAllowed() bool {
	now := e.opt.Clock.Now()
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.icmpTokens = min(e.icmpTokens+now.Sub(e.icmpRefill).Seconds()*100, 100)
	e.icmpRefill = now
	if e.icmpTokens < 1 {
		return false
	}
	e.icmpTokens--
	return true
}

// Worker is one packet-processing loop's scratch state. Workers are not
// safe for concurrent use: make one per goroutine.
type Worker struct {
	e *Engine
	// emit sends a result packet on (writes it back into the TUN); local
	// sends a packet of the GM's own (an ICMP error) through the kernel's
	// output path; espOut sends the ESP the worker makes (emit unless
	// SetESPSink says otherwise).
	emit, local, espOut func([]byte) error
	frag                []byte // fragment and ICMP scratch, with headroom
	iv                  [16]byte
	ipid                uint16
	// internalError counts a recovered panic; made once so that deferring
	// it costs no allocation per packet.
	internalError func()
}

// NewWorker returns a worker whose results go to emit and whose own
// packets go to local. Neither may keep the slice after it returns.
func (e *Engine) NewWorker(emit, local func([]byte) error) *Worker {
	return &Worker{e: e, emit: emit, local: local, espOut: emit, frag: make([]byte, Headroom+65536+Tailroom), ipid: uint16(rand.Uint32()),
		internalError: func() { e.count(InternalErrors) }}
}

// SetESPSink makes the worker send the ESP it makes through f (Options.ESPOut),
// which may not keep the slice after it returns.
func (w *Worker) SetESPSink(f func([]byte) error) { w.espOut = f }

func (w *Worker) sendESP(pkt []byte) {
	if err := w.espOut(pkt); err != nil {
		w.e.count(WriteErrors)
	}
}

// Headroom and Tailroom are the octets a packet buffer needs before and
// after the inner packet for it to be encrypted in place: outer header, ESP
// header and IV before; padding and ICV after.
const (
	Headroom = 64
	Tailroom = 64
)

func (w *Worker) send(pkt []byte) {
	if err := w.emit(pkt); err != nil {
		w.e.count(WriteErrors)
	}
}
