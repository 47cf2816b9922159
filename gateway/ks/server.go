// Package ks is the key server role: it authenticates group members with
// IKEv1 main mode, registers them with GROUPKEY-PULL, and keeps each
// group's keys and member database.
package ks

import (
	"errors"
	"fmt"
	"net/netip"

	"sync"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/keylog"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Sender sends one datagram from the KS's socket.
type Sender func(to netip.AddrPort, pkt []byte)

// Options are what a Server needs besides its configuration.
type Options struct {
	Events   *events.Log
	Counters *events.Counters
	KeyLog   *keylog.Writer // nil: no key log
	Send     Sender
	// Local is the address the KS receives on (its identity and port 848).
	Local netip.AddrPort
	Now   func() time.Time // nil: time.Now
	// OnAllAcked, if set, is called when every GM of a unicast rekey
	// has acknowledged it, with the number of GMs and the wall time since
	// the first PUSH; it runs under the Server's lock and must not call
	// back into it.
	OnAllAcked func(group string, gms int, took time.Duration)
}

// Server is a key server. Its methods are safe for concurrent use.
type Server struct {
	mu     sync.Mutex
	cfg    *config.Config
	opt    Options
	ike    *ikev1.Config
	groups map[uint32]*group
	order  []uint32

	// mainModes are the main-mode exchanges in progress or recently done
	// (kept so that a retransmitted message 5 gets message 6 again), by
	// CKY-I and peer.
	mainModes map[mmKey]*mainMode
	sas       map[[16]byte]*ikev1.SA
	pulls     map[pullKey]*pull
	// invalidCookie limits the answers to messages on unknown SAs.
	invalidCookie invalidCookies
}

type mmKey struct {
	icookie [8]byte
	peer    netip.AddrPort
}

type mainMode struct {
	r       *ikev1.Responder
	started time.Time
}

type pullKey struct {
	cookies [16]byte
	id      uint32
}

type pull struct {
	r       *gdoi.Responder
	started time.Time
}

// halfOpenLimit bounds main-mode state: a flood of message 1s cannot grow
// the KS without bound.
const halfOpenLimit = 50000

// New creates the key server for cfg (role ks): it makes or loads each
// group's rekey signing key and its first KEK and TEKs.
func New(cfg *config.Config, opt Options) (*Server, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	ike, err := ikev1.FromConfig(cfg.IKE, opt.Local.Addr())
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, opt: opt, ike: ike,
		groups:    map[uint32]*group{},
		mainModes: map[mmKey]*mainMode{},
		sas:       map[[16]byte]*ikev1.SA{},
		pulls:     map[pullKey]*pull{},
	}
	for i := range cfg.Groups {
		gc := &cfg.Groups[i]
		g, err := newGroup(gc, cfg.Identity)
		if err != nil {
			return nil, err
		}
		// The keys' lifetimes start now, after the signing key (which
		// takes a while to generate) is there.
		if err := g.refresh(opt.Now(), cfg.Scaled, cfg.Identity); err != nil {
			return nil, fmt.Errorf("group %s: %w", gc.Name, err)
		}
		s.groups[gc.ID] = g
		s.order = append(s.order, gc.ID)
		opt.Events.Emit("KS_GROUP_ADD", "group", gc.Name, "group_id", fmt.Sprint(gc.ID))
	}
	return s, nil
}

// HandlePacket processes one datagram received from from.
func (s *Server) HandlePacket(from netip.AddrPort, pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		s.malformed(from, err)
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
	default:
		s.opt.Counters.Inc("unsupported_exchange")
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", fmt.Sprintf("unsupported exchange %s", h.Exchange))
	}
}

func (s *Server) malformed(from netip.AddrPort, err error) {
	s.opt.Counters.Inc("malformed_packets")
	s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", err.Error())
}

func (s *Server) mainMode(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	k := mmKey{h.ICookie, from}
	mm := s.mainModes[k]
	if mm == nil {
		if h.RCookie != ([8]byte{}) {
			s.opt.Counters.Inc("ike_unknown_cookies")
			return
		}
		if len(s.mainModes) >= halfOpenLimit {
			s.opt.Counters.Inc("ike_half_open_limit")
			return
		}
		mm = &mainMode{r: ikev1.NewResponder(s.ike, s.opt.Local, from), started: s.opt.Now()}
		s.mainModes[k] = mm
	}
	established := mm.r.SA() != nil
	reply, err := mm.r.Handle(pkt)
	if reply != nil {
		s.opt.Send(from, reply)
	}
	if err != nil {
		s.ikeFailed(from, err)
		delete(s.mainModes, k)
		return
	}
	if sa := mm.r.SA(); sa != nil && !established {
		s.sas[sa.Cookies()] = sa
		s.opt.Counters.Inc("ike_sa_established")
		s.opt.KeyLog.IKE(sa)
	}
}

// ikeFailed counts and logs a failed main mode.
func (s *Server) ikeFailed(from netip.AddrPort, err error) {
	var ne *ikev1.NotifyError
	if errors.As(err, &ne) {
		s.opt.Counters.Inc("ike_failed_" + notifyCounter(ne.Type))
	} else {
		s.opt.Counters.Inc("ike_failed")
	}
	s.opt.Events.Emit("IKE_AUTH_FAILED", "peer", from.Addr().String(), "reason", err.Error())
}

func notifyCounter(t isakmp.NotifyType) string {
	switch t {
	case isakmp.NotifyNoProposalChosen:
		return "no_proposal_chosen"
	case isakmp.NotifyAuthenticationFailed:
		return "authentication_failed"
	case isakmp.NotifyPayloadMalformed:
		return "payload_malformed"
	case isakmp.NotifyInvalidIDInformation:
		return "invalid_id"
	case isakmp.NotifyInvalidHashInformation:
		return "invalid_hash"
	}
	return fmt.Sprintf("notify_%d", t)
}

func (s *Server) pull(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	sa := s.sas[h.Cookies()]
	if sa == nil {
		s.opt.Counters.Inc("pull_unknown_sa")
		s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", fmt.Sprintf("GROUPKEY-PULL for unknown phase-1 SA %x", h.Cookies()))
		s.answerUnknownSA(from, h, pkt)
		return
	}
	k := pullKey{h.Cookies(), h.MessageID}
	p := s.pulls[k]
	if p == nil {
		p = &pull{started: s.opt.Now()}
		p.r = gdoi.NewResponder(sa, h.MessageID, func(group uint32, sa *ikev1.SA) (*gdoi.Policy, error) {
			return s.policyFor(group, sa, from)
		})
		s.pulls[k] = p
	}
	wasDone := p.r.Done()
	reply, err := p.r.Handle(pkt)
	if err != nil {
		s.pullFailed(from, sa, p.r, err)
		delete(s.pulls, k)
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
		s.opt.Counters.Inc("registrations_rejected")
		c := sa.Cookies()
		s.opt.Send(from, sa.Notify(rej.Notify, c[:], []byte(rej.Reason)))
		g := s.groupName(r.Group())
		s.opt.Events.Emit(rej.Event, "group", g, "ip", from.Addr().String(), "peer", from.Addr().String(),
			"reason", rej.Reason, "notify", rej.Notify.String())
	case errors.Is(err, gdoi.ErrHash):
		s.opt.Counters.Inc("ks_hash_fail")
		s.opt.Events.Emit("KS_HASH_FAIL", "peer", from.Addr().String(), "reason", err.Error())
	default:
		s.malformed(from, err)
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
	now := s.opt.Now()
	if err := g.refresh(now, s.cfg.Scaled, s.cfg.Identity); err != nil {
		return nil, &gdoi.Reject{Notify: isakmp.NotifyNoProposalChosen, Event: "KS_NO_RSA_KEYS", Reason: err.Error()}
	}
	return g.policy(s.elapsed, from.Addr()), nil
}

// elapsed is the protocol time since t.
func (s *Server) elapsed(t time.Time) time.Duration {
	return s.cfg.Unscaled(s.opt.Now().Sub(t))
}

// gmIdentity is the GM's phase-1 identity address, or its source address
// when the ID is not an address.
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
	// A GM that registers has the current keys: the rekey in progress no
	// longer waits for it, and its missed rekeys are forgiven.
	m.missedInARow = 0
	if r := g.rekey.round; r != nil {
		delete(r.pending, addr)
	}
	m.registeredAt = s.opt.Now()
	m.registrations++
	g.registrations++
	s.opt.Counters.Inc("registrations")
	s.opt.KeyLog.Policy(g.cfg.Name, policy)
	s.opt.Events.Emit("KS_REGS_COMPL", "group", g.cfg.Name, "gm", addr.String(), "ks", s.cfg.Identity.String())
	if first {
		s.opt.Events.Emit("KS_FIRST_GM", "group", g.cfg.Name, "gm", addr.String(), "ks", s.cfg.Identity.String())
	}
}

func (s *Server) informational(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	sa := s.sas[h.Cookies()]
	if sa == nil {
		if n, ok := ikev1.ParseNotify(pkt); ok {
			s.opt.Events.Emit("IKE_NOTIFY_RECV", "peer", from.Addr().String(), "notify", n.MessageType.String())
			return
		}
		s.opt.Counters.Inc("informational_unknown_sa")
		// A protected one (DPD, say) from a GM that still has the SA;
		// a plaintext one is never answered, or two peers could keep
		// answering each other.
		if h.Flags&isakmp.FlagEncryption != 0 {
			s.answerUnknownSA(from, h, pkt)
		}
		return
	}
	n, err := sa.OpenInformational(pkt)
	if err != nil {
		s.malformed(from, err)
		return
	}
	if reply := ikev1.AnswerDPD(sa, n); reply != nil {
		s.opt.Send(from, reply)
		return
	}
	s.opt.Events.Emit("IKE_NOTIFY_RECV", "peer", from.Addr().String(), "notify", n.MessageType.String())
}

// Expire drops phase-1 SAs whose lifetime has run out and exchanges that
// were left half done; the daemon calls it periodically.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Now()
	stale := s.cfg.Scaled(120 * time.Second) // gdoid's Exchange-max-time
	for k, mm := range s.mainModes {
		if now.Sub(mm.started) > stale {
			delete(s.mainModes, k)
		}
	}
	for k, p := range s.pulls {
		if now.Sub(p.started) > stale {
			delete(s.pulls, k)
		}
	}
	for c, sa := range s.sas {
		if sa.Expired(now, s.cfg.Scaled(sa.Suite.Lifetime)) {
			delete(s.sas, c)
			s.opt.Counters.Inc("ike_sa_expired")
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

var _ control.Provider = (*Server)(nil)
