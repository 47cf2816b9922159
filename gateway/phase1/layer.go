// Package phase1 is the daemon's IKEv1 phase-1 layer, one for either role:
// the established ISAKMP SAs with their caps and expiry, what arrives on
// them in Informational exchanges (dead peer detection, notifications),
// the R-U-THEREs the daemon sends itself (RFC 3706), the answer to
// messages on SAs it does not know, and the counters and events of all
// that. The key server's registrations and the group member's, and the
// key servers' cooperative sessions, run their exchanges over it.
//
// A Layer keeps no lock and no timer: it belongs to a role, which calls it
// under its own lock and folds Deadline into its own (see gateway/clock).
package phase1

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/keylog"
	"github.com/getlab/getlab/gateway/show"
	"github.com/getlab/getlab/gateway/transport"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Env is what either role needs from the daemon besides its
// configuration: where events, counters and keys go, how datagrams leave,
// its address and its wall clock. gm.Options and ks.Options embed it.
type Env struct {
	Events   *events.Log
	Counters *events.Counters
	KeyLog   *keylog.Writer // nil: no key log
	Send     transport.Send
	// Local is the address and port the role sends and receives GDOI on
	// (its phase-1 identity).
	Local netip.AddrPort
	// Now is the wall clock (nil: the system's); tests give a
	// clock.Fake's.
	Now func() time.Time
}

// Layer is a role's phase-1 state. Its methods must be called under the
// role's lock.
type Layer struct {
	env Env
	clk clock.Clock
	ike *ikev1.Config
	// perPeer and global cap the SAs kept (0: no cap); keepalive is what
	// the layer probes its initiated SAs with.
	perPeer, global int
	keepalive       config.Keepalive
	// groups names the role's groups, for events about a main mode that
	// is not yet for any one of them.
	groups string
	// answerUnknown: messages on unknown SAs get INVALID-COOKIE (a KS,
	// which loses its SAs when it restarts, while its GMs keep theirs).
	answerUnknown bool
	invalidCookie invalidCookies

	sas map[[16]byte]*entry
	// byPeer lists each peer address's SAs, order every SA, oldest first
	// (order may hold cookies of SAs already gone).
	byPeer map[netip.Addr][][16]byte
	order  [][16]byte
	// next is no later than the earliest probe or expiry due (it may be
	// earlier: Timeout then finds nothing to do and recomputes it).
	next time.Time

	// OnDrop, if set, is called with every SA that leaves the layer
	// (expired, replaced at a cap, dead, dropped): the role forgets what
	// it kept about it. It runs under the role's lock.
	OnDrop func(sa *ikev1.SA)
	// OnPeerDead, if set, is called when a peer stopped answering DPD,
	// after its SA left.
	OnPeerDead func(sa *ikev1.SA)
}

// entry is one SA with its dead peer detection state.
type entry struct {
	sa      *ikev1.SA
	expires time.Time
	dpd     *probe // nil: the layer does not probe this SA
}

// Role says what differs between the roles' phase-1 layers.
type Role struct {
	// AnswerUnknownSA answers messages on unknown SAs with INVALID-COOKIE.
	AnswerUnknownSA bool
}

// New makes the phase-1 layer of a daemon with configuration cfg whose
// clock is clk.
func New(cfg *config.Config, env Env, clk clock.Clock, role Role) (*Layer, error) {
	ike, err := ikev1.FromConfig(cfg.IKE, env.Local.Addr())
	if err != nil {
		return nil, err
	}
	ike.Now = clk.Now // phase-1 SAs are established on the role's clock
	// The daemon's GDOI version travels in main mode messages 3 and 4.
	v := gdoiwire.VersionVID{Version: cfg.GDOI.Version, Features: cfg.GDOI.Features}
	ike.VendorIDs = [][]byte{v.Bytes()}
	names := make([]string, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		names = append(names, g.Name)
	}
	return &Layer{
		env: env, clk: clk, ike: ike,
		perPeer: cfg.Limits.IKESAsPerPeer, global: cfg.Limits.IKESAsGlobal,
		keepalive:     cfg.IKE.Keepalive,
		groups:        strings.Join(names, ","),
		answerUnknown: role.AnswerUnknownSA,
		sas:           map[[16]byte]*entry{},
		byPeer:        map[netip.Addr][][16]byte{},
	}, nil
}

// IKE is the main mode configuration (proposals, keys, identity, clock).
func (l *Layer) IKE() *ikev1.Config { return l.ike }

// Established enters an SA main mode just established: it replaces the
// peer's oldest past limits.ike_sas_per_peer and the oldest of all past
// limits.ike_sas_global (a GM needs its SA only to register; one that
// registers again has a new one, and the old ones would wait 24 h), is
// counted and key-logged, and is probed if the daemon initiated it and
// keepalives are on.
func (l *Layer) Established(sa *ikev1.SA) {
	c := sa.Cookies()
	if l.sas[c] != nil {
		// Cookies are random: the same pair twice is a replayed exchange
		// or a bug. The newer SA is the one the peer holds.
		l.drop(c)
	}
	peer := sa.Peer.Addr()
	for l.perPeer > 0 && len(l.byPeer[peer]) >= l.perPeer {
		l.drop(l.byPeer[peer][0])
		l.limitHit(counter.IKESAReplaced, peer, l.perPeer, "peer")
	}
	for l.global > 0 && len(l.sas) >= l.global && len(l.order) > 0 {
		c := l.order[0]
		l.order = l.order[1:]
		if old := l.sas[c]; old != nil {
			l.drop(c)
			l.limitHit(counter.IKESAGlobalLimit, old.sa.Peer.Addr(), l.global, "KS")
		}
	}
	now := l.clk.Now()
	e := &entry{sa: sa, expires: now.Add(l.clk.Wall(sa.Suite.Lifetime))}
	if l.keepalive.Interval > 0 && sa.Initiator && sa.PeerDPD {
		e.dpd = newProbe(now, l.clk.Wall(l.keepalive.Interval))
	}
	l.sas[c] = e
	l.byPeer[peer] = append(l.byPeer[peer], c)
	l.order = append(l.order, c)
	l.compactOrder()
	l.lower(e.due())
	l.env.Counters.Inc(counter.IKESAEstablished)
	l.env.KeyLog.IKE(sa)
}

func (l *Layer) limitHit(c counter.Name, peer netip.Addr, limit int, scope string) {
	l.env.Counters.Inc(c)
	l.env.Events.Emit("IKE_SA_LIMIT", "peer", peer.String(), "limit", fmt.Sprint(limit), "scope", scope)
}

// compactOrder drops the cookies of SAs already gone once they are most of
// the list.
func (l *Layer) compactOrder() {
	if len(l.order) <= 2*len(l.sas)+64 {
		return
	}
	l.order = slices.DeleteFunc(l.order, func(c [16]byte) bool { return l.sas[c] == nil })
}

// Get returns the SA with the given cookies (CKY-I | CKY-R), nil if none.
func (l *Layer) Get(cookies [16]byte) *ikev1.SA {
	if e := l.sas[cookies]; e != nil {
		return e.sa
	}
	return nil
}

// Live returns the newest SA with peer that has lifetime left, so that a
// registration can skip main mode; nil if none.
func (l *Layer) Live(peer netip.AddrPort) *ikev1.SA { return l.live(peer, false) }

// LiveInitiated is Live among the SAs this daemon initiated: the ones its
// dead peer detection probes (a KS keeps one with each cooperating KS).
func (l *Layer) LiveInitiated(peer netip.AddrPort) *ikev1.SA { return l.live(peer, true) }

func (l *Layer) live(peer netip.AddrPort, initiated bool) *ikev1.SA {
	now := l.clk.Now()
	list := l.byPeer[peer.Addr()]
	for i := len(list) - 1; i >= 0; i-- {
		if e := l.sas[list[i]]; e != nil && e.sa.Peer == peer && now.Before(e.expires) && (e.sa.Initiator || !initiated) {
			return e.sa
		}
	}
	return nil
}

// Len is the number of SAs.
func (l *Layer) Len() int { return len(l.sas) }

// PeerLen is the number of SAs with one peer address.
func (l *Layer) PeerLen(peer netip.Addr) int { return len(l.byPeer[peer]) }

// DropPeer forgets every SA with peer (its endpoint): the peer lost them
// (a restart). It returns how many there were.
func (l *Layer) DropPeer(peer netip.AddrPort) int {
	n := 0
	for _, c := range slices.Clone(l.byPeer[peer.Addr()]) {
		if e := l.sas[c]; e != nil && e.sa.Peer == peer {
			l.drop(c)
			n++
		}
	}
	return n
}

// drop forgets an SA and tells the role.
func (l *Layer) drop(c [16]byte) {
	e := l.sas[c]
	if e == nil {
		return
	}
	delete(l.sas, c)
	peer := e.sa.Peer.Addr()
	list := slices.DeleteFunc(l.byPeer[peer], func(o [16]byte) bool { return o == c })
	if len(list) == 0 {
		delete(l.byPeer, peer)
	} else {
		l.byPeer[peer] = list
	}
	if l.OnDrop != nil {
		l.OnDrop(e.sa)
	}
}

// Heard notes an authenticated message from the peer of the SA with
// these cookies (a verified GROUPKEY-PULL, say): proof that it is alive.
func (l *Layer) Heard(cookies [16]byte) {
	if e := l.sas[cookies]; e != nil && e.dpd != nil {
		e.dpd.heard(l.clk.Now(), l.probeTimes())
		l.lower(e.due())
	}
}

// Deadline is the wall time by which Timeout must run next; zero when
// nothing is due.
func (l *Layer) Deadline() time.Time { return l.next }

// Timeout drops the SAs whose lifetime has run out at now (wall time),
// sends the R-U-THEREs due and drops the peers that stopped answering.
func (l *Layer) Timeout(now time.Time) {
	var next time.Time
	for c, e := range l.sas {
		if !now.Before(e.expires) {
			l.drop(c)
			l.env.Counters.Inc(counter.IKESAExpired)
			continue
		}
		if e.dpd != nil {
			switch e.dpd.step(now, l.probeTimes()) {
			case probeSend:
				l.sendProbe(e)
			case probeDead:
				l.peerDead(c, e)
				continue
			}
		}
		if d := e.due(); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	l.next = next
}

// lower brings the deadline forward to t if t is earlier.
func (l *Layer) lower(t time.Time) {
	if l.next.IsZero() || t.Before(l.next) {
		l.next = t
	}
}

// Malformed counts and logs a datagram that does not parse or verify.
func (l *Layer) Malformed(from netip.AddrPort, err error) {
	l.env.Counters.Inc(counter.MalformedPackets)
	l.env.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", err.Error())
}

// Failed counts and logs a main mode that failed, by why it failed.
func (l *Layer) Failed(peer netip.AddrPort, err error) {
	from := peer.Addr().String()
	var ie *ikev1.IdentityError
	var ne *ikev1.NotifyError
	switch {
	case errors.Is(err, ikev1.ErrNoPreSharedKey):
		l.env.Counters.Inc(counter.IKENoPSK)
		l.env.Events.Emit("IKE_NO_PRESHARED_KEY", "peer", from, "reason", err.Error())
	case errors.As(err, &ie):
		l.env.Counters.Inc(counter.IKEUnauthorizedIdentity)
		l.env.Events.Emit("UNAUTHORIZED_IDENTITY", "group", l.groups, "identity", ie.Identity,
			"ip", from, "peer", from, "reason", err.Error())
	case errors.As(err, &ne):
		l.env.Counters.Inc(notifyCounter(ne.Type))
		l.env.Events.Emit("IKE_AUTH_FAILED", "peer", from, "reason", err.Error())
	default:
		l.env.Counters.Inc(counter.IKEFailed)
		l.env.Events.Emit("IKE_AUTH_FAILED", "peer", from, "reason", err.Error())
	}
}

// notifyCounter is the counter of a main mode refused with notification t.
func notifyCounter(t isakmp.NotifyType) counter.Name {
	if c, ok := notifyCounters[t]; ok {
		return c
	}
	return counter.IKEFailed
}

var notifyCounters = map[isakmp.NotifyType]counter.Name{
	isakmp.NotifyNoProposalChosen:       counter.IKEFailedNoProposalChosen,
	isakmp.NotifyAuthenticationFailed:   counter.IKEFailedAuthenticationFailed,
	isakmp.NotifyPayloadMalformed:       counter.IKEFailedPayloadMalformed,
	isakmp.NotifyInvalidIDInformation:   counter.IKEFailedInvalidID,
	isakmp.NotifyInvalidHashInformation: counter.IKEFailedInvalidHash,
}

// Informational takes an Informational exchange from from: on a known SA
// it is opened and verified (a failure is counted malformed), R-U-THERE
// is answered, R-U-THERE-ACK taken, and anything else logged as
// IKE_NOTIFY_RECV and returned for the role to act on. On an unknown SA a
// plaintext notification is logged, and a protected message answered
// with INVALID-COOKIE if the role does that. It returns nil when there is
// nothing for the role.
func (l *Layer) Informational(from netip.AddrPort, h isakmp.Header, pkt []byte) *isakmp.Notification {
	e := l.sas[h.Cookies()]
	if e == nil {
		l.unknownInformational(from, h, pkt)
		return nil
	}
	n, err := e.sa.OpenInformational(pkt)
	if err != nil {
		l.Malformed(from, err)
		return nil
	}
	// Only an R-U-THERE-ACK of this layer's own R-U-THERE proves the peer
	// alive here: any other Informational could be an old one replayed
	// (RFC 3706 §7).
	if t, seq, ok := ikev1.ParseDPD(n); ok {
		l.dpdReceived(from, e, n, t, seq)
		return nil
	}
	l.env.Events.Emit("IKE_NOTIFY_RECV", "peer", from.Addr().String(), "notify", n.MessageType.String())
	return n
}

func (l *Layer) unknownInformational(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	if n, ok := ikev1.ParseNotify(pkt); ok {
		l.env.Events.Emit("IKE_NOTIFY_RECV", "peer", from.Addr().String(), "notify", n.MessageType.String())
		return
	}
	l.env.Counters.Inc(counter.InformationalUnknownSA)
	// A protected one (DPD, say) from a peer that still has the SA; a
	// plaintext one is never answered, or two peers could keep answering
	// each other.
	if h.Flags&isakmp.FlagEncryption != 0 {
		l.UnknownSA(from, h, pkt)
	}
}

// Snapshot is the layer's SAs as the control API shows them (GET
// /v1/ike/sa, "show crypto isakmp sa"), by cookies.
func (l *Layer) Snapshot() []show.IKESA {
	now := l.clk.Now()
	out := make([]show.IKESA, 0, len(l.sas))
	for c, e := range l.sas {
		sa := e.sa
		s := show.IKESA{
			Local: sa.Local.String(), Peer: sa.Peer.String(), Cookies: hex.EncodeToString(c[:]),
			Initiator: sa.Initiator, State: "GDOI_IDLE", Suite: sa.Suite.String(),
			Lifetime:  sa.Suite.Lifetime.Seconds(),
			Remaining: max(0, l.clk.Protocol(e.expires.Sub(now)).Seconds()),
		}
		if e.dpd != nil {
			s.Keepalive, s.Unanswered = true, e.dpd.unanswered
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b show.IKESA) int { return strings.Compare(a.Cookies, b.Cookies) })
	return out
}

func (e *entry) due() time.Time {
	if e.dpd != nil && e.dpd.at.Before(e.expires) {
		return e.dpd.at
	}
	return e.expires
}
