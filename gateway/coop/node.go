package coop

import (
	"net/netip"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/show"
	wire "github.com/getlab/getlab/gateway/wire/coop"
)

// Config is one group's COOP configuration on one KS.
type Config struct {
	Group    string
	Self     netip.Addr
	Priority uint8
	Peers    []netip.Addr
	// Refresh, Periodic and Retransmit are the seeds' timers (protocol
	// time), config.COOP documents them.
	Refresh    time.Duration
	Periodic   time.Duration
	Retransmit int
	// Version is the KS's GDOI version, which its ANNs carry: KSs of
	// another major or minor version do not cooperate (PV-01, CO-60).
	// The zero value is wire.Current.
	Version wire.Version
}

// PolicyBatch is how long after a change of the member database a KS
// announces it (fixed, CO-17).
const PolicyBatch = config.COOPPolicyUpdate

// Host is what a Node asks of its KS. The calls come from within the
// Node's methods, under the KS's lock.
type Host interface {
	// Announce sends the KS's ANN for the group, with flags, to peer.
	Announce(peer netip.Addr, flags wire.Flags)
	// Promoted: this KS is now the group's primary; previous is the
	// primary before it (invalid if none was known).
	Promoted(previous netip.Addr)
	// Emit logs an event.
	Emit(name string, kv ...string)
}

// Status is a peer's status as this KS sees it.
type Status int

// Peer statuses (CO-10).
const (
	Unknown Status = iota
	Alive
	Dead
)

func (s Status) String() string { return [...]string{"unknown", "alive", "dead"}[s] }

// Peer is one peer KS.
type Peer struct {
	Addr     netip.Addr
	Priority uint8
	Primary  bool // as it last announced
	Version  wire.Version
	heard    bool
	status   Status
	// lastHeard is when its last ANN arrived; answered that it arrived
	// during the current election.
	lastHeard time.Time
	answered  bool
	// rx is the last anti-replay number accepted from the peer, on any
	// phase-1 SA; tx the last this KS sent it. A KS numbers its ANNs to a
	// peer from its clock at start, in microseconds, up by one each: a
	// restarted KS's numbers are above its old ones, and an ANN held back
	// and sent again later is below the peer's latest.
	rx, tx uint64
	ikeUp  bool
	// versionWarned is the incompatible version last logged.
	versionWarned wire.Version
	c             counters
}

type counters struct {
	annSent, annSentRR, annRecv, annRecvRR, sendDrops, recvDrops, bytesSent, bytesRecv uint64
}

// Node is one group's COOP state on one KS.
type Node struct {
	cfg  Config
	clk  clock.Clock
	host Host

	primary bool
	// leader is the primary as known (this KS when primary); invalid
	// while none is.
	leader netip.Addr
	synced bool
	// electing: in an election; rounds the reply-request rounds sent in
	// it; step the time between them; booting that it is the start-up
	// election.
	electing bool
	booting  bool
	rounds   int
	// timerAt is when the running timer fires: the primary's refresh, a
	// secondary's periodic, or the election's next round or decision.
	timerAt time.Time
	// batchAt is when the pending policy update goes (zero: none).
	batchAt time.Time
	peers   []*Peer

	transitions, demotions, policyUpdates uint64
}

// New makes the Node; Start begins its election.
func New(cfg Config, clk clock.Clock, host Host) *Node {
	if cfg.Version == (wire.Version{}) {
		cfg.Version = wire.Current
	}
	n := &Node{cfg: cfg, clk: clk, host: host}
	for _, a := range cfg.Peers {
		n.peers = append(n.peers, &Peer{Addr: a})
	}
	return n
}

// Peer returns the peer at a, nil if a is not one.
func (n *Node) Peer(a netip.Addr) *Peer {
	for _, p := range n.peers {
		if p.Addr == a {
			return p
		}
	}
	return nil
}

// Primary reports whether this KS is the group's primary.
func (n *Node) Primary() bool { return n.primary }

// Leader is the primary as this KS knows it (invalid if none).
func (n *Node) Leader() netip.Addr { return n.leader }

// Synced reports whether the KS holds the group's keys: it is primary,
// or took them from a peer.
func (n *Node) Synced() bool { return n.synced }

// SetSynced records that the KS took the group's keys from a peer's ANN.
func (n *Node) SetSynced() { n.synced = true }

// CanRegister reports whether the KS may register GMs: it holds the
// group's keys (KS-41, KS-42: a secondary without them blocks new
// registrations).
func (n *Node) CanRegister() bool { return n.primary || n.synced }

// Start enters the start-up election at now.
func (n *Node) Start(now time.Time) {
	for _, p := range n.peers {
		p.tx = uint64(max(now.UnixMicro(), 0))
	}
	n.startElection(now, true)
}

// Reset drops the role and the keys' standing and enters a start-up
// election again (the seeds' "clear crypto gdoi" on a KS, KS-53): the
// KS holds no keys from a primary until an announcement gives it them.
func (n *Node) Reset(now time.Time) {
	n.primary, n.synced, n.leader, n.batchAt = false, false, netip.Addr{}, time.Time{}
	for _, p := range n.peers {
		p.Primary, p.status = false, Unknown
	}
	n.startElection(now, true)
}

func (n *Node) startElection(now time.Time, booting bool) {
	n.electing, n.booting, n.rounds = true, booting, 1
	for _, p := range n.peers {
		p.answered = false
	}
	n.host.Emit("COOP_KS_ELECTION", "group", n.cfg.Group, "previous", addrOrNone(n.leader))
	n.askAll()
	n.timerAt = now.Add(n.clk.Wall(n.step()))
}

// step is the time between election rounds: half a refresh interval at
// start-up, the periodic interval after the primary fell silent.
func (n *Node) step() time.Duration {
	if n.booting {
		return n.cfg.Refresh / 2
	}
	return n.cfg.Periodic
}

// askAll sends a reply-request ANN to every peer.
func (n *Node) askAll() {
	for _, p := range n.peers {
		n.host.Announce(p.Addr, wire.FlagReplyRequest|wire.FlagElecting)
	}
}

// Deadline is when Timeout must next run.
func (n *Node) Deadline() time.Time {
	if !n.batchAt.IsZero() && n.batchAt.Before(n.timerAt) {
		return n.batchAt
	}
	return n.timerAt
}

// Timeout runs the timers due at now.
func (n *Node) Timeout(now time.Time) {
	if !n.batchAt.IsZero() && !now.Before(n.batchAt) {
		n.batchAt = time.Time{}
		n.policyUpdates++
		n.announceAll(0)
	}
	if now.Before(n.timerAt) {
		return
	}
	switch {
	case n.primary:
		n.announceAll(0)
		for _, p := range n.peers {
			if p.status == Dead {
				n.host.Emit("COOP_KS_UNREACH", "group", n.cfg.Group, "ks", p.Addr.String())
			}
		}
		n.timerAt = now.Add(n.clk.Wall(n.cfg.Refresh))
	case !n.electing:
		// The primary has been silent for the periodic interval.
		n.startElection(now, false)
	case n.booting && n.rounds < 2, !n.booting && n.rounds < n.cfg.Retransmit:
		n.rounds++
		n.askAll()
		n.timerAt = now.Add(n.clk.Wall(n.step()))
	default:
		n.decide(now)
	}
}

// decide ends an election: a primary heard is followed; else the best
// of this KS and the peers that answered wins.
func (n *Node) decide(now time.Time) {
	n.electing = false
	old := n.leader
	if old.IsValid() && old != n.cfg.Self {
		if p := n.Peer(old); p != nil && !p.answered {
			p.status, p.Primary = Dead, false
			n.host.Emit("COOP_KS_UNREACH", "group", n.cfg.Group, "ks", old.String())
			n.leader = netip.Addr{}
		}
	}
	best := n.cfg.Self
	bestPri := n.cfg.Priority
	for _, p := range n.peers {
		if !p.answered || !p.Version.Compatible(n.cfg.Version) {
			continue
		}
		if p.Primary {
			n.follow(now, p)
			return
		}
		if outranks(p.Priority, p.Addr, bestPri, best) {
			best, bestPri = p.Addr, p.Priority
		}
	}
	if best == n.cfg.Self {
		n.promote(now, old)
		return
	}
	// The winner announces itself; if it does not within the periodic
	// interval, another election follows.
	n.timerAt = now.Add(n.clk.Wall(n.cfg.Periodic))
}

// outranks reports whether priority pa at a beats pb at b: the higher
// priority, then the higher address (CO-11).
func outranks(pa uint8, a netip.Addr, pb uint8, b netip.Addr) bool {
	if pa != pb {
		return pa > pb
	}
	return a.Compare(b) > 0
}

func (n *Node) promote(now time.Time, previous netip.Addr) {
	n.primary, n.leader, n.synced, n.electing = true, n.cfg.Self, true, false
	n.transitions++
	n.host.Emit("COOP_KS_TRANS_TO_PRI", "group", n.cfg.Group, "ks", n.cfg.Self.String(), "previous", addrOrNone(previous))
	n.host.Promoted(previous)
	n.announceAll(0)
	n.timerAt = now.Add(n.clk.Wall(n.cfg.Refresh))
}

// follow makes p this secondary's primary.
func (n *Node) follow(now time.Time, p *Peer) {
	if n.leader != p.Addr {
		n.host.Emit("COOP_KS_TRANS_TO_PRI", "group", n.cfg.Group, "ks", p.Addr.String(), "previous", addrOrNone(n.leader))
		n.leader = p.Addr
	}
	n.electing, n.booting = false, false
	n.timerAt = now.Add(n.clk.Wall(n.cfg.Periodic))
}

// Verdict is what the KS does with an ANN's content.
type Verdict struct {
	// AdoptKeys: take the ANN's keys and sequence number (its sender is
	// this secondary's primary, or any KS holding them while this one
	// holds none).
	AdoptKeys bool
	// MergeTEKs: this primary outranks the sending primary (a healed
	// split): add its TEKs to the group's and rekey, so that its GMs'
	// traffic still decrypts everywhere (CO-51).
	MergeTEKs bool
	// Demoted: this primary heard one that outranks it and is now its
	// secondary; its GMs hold its old KEK, which the KS must rekey them
	// from (CO-51 step 3).
	Demoted bool
}

// Receive takes an authenticated ANN from peer p, size octets long. ok
// is false for a replay or an incompatible version (dropped and counted).
func (n *Node) Receive(now time.Time, p *Peer, a *wire.ANN, size int) (v Verdict, ok bool) {
	if a.Antireplay <= p.rx {
		p.c.recvDrops++
		return v, false
	}
	p.rx = a.Antireplay
	p.c.annRecv++
	p.c.bytesRecv += uint64(size)
	if a.Flags.Has(wire.FlagReplyRequest) {
		p.c.annRecvRR++
	}
	p.Version = a.Version
	if !a.Version.Compatible(n.cfg.Version) {
		p.c.recvDrops++
		if p.versionWarned != a.Version {
			p.versionWarned = a.Version
			n.host.Emit("COOP_KS_VER_MISMATCH", "group", n.cfg.Group, "ks", p.Addr.String(), "peer_version", a.Version.String(), "version", n.cfg.Version.String())
		}
		return v, false
	}
	p.Priority, p.Primary, p.heard, p.lastHeard = a.Priority, a.Flags.Has(wire.FlagPrimary), true, now
	if n.electing {
		p.answered = true
	}
	if p.status == Dead {
		n.host.Emit("COOP_KS_REACH", "group", n.cfg.Group, "ks", p.Addr.String())
	}
	p.status = Alive
	hasKeys := a.Flags.Has(wire.FlagPolicy)
	switch {
	case p.Primary && n.primary:
		if outranks(p.Priority, p.Addr, n.cfg.Priority, n.cfg.Self) {
			n.primary = false
			n.demotions++
			n.host.Emit("COOP_KS_TRANS_TO_PRI", "group", n.cfg.Group, "ks", p.Addr.String(), "previous", n.cfg.Self.String())
			n.leader = p.Addr
			n.timerAt = now.Add(n.clk.Wall(n.cfg.Periodic))
			v.AdoptKeys, v.Demoted = hasKeys, true
		} else {
			// Tell the other primary at once that it is outranked.
			v.MergeTEKs = hasKeys
			n.host.Announce(p.Addr, wire.FlagReply)
			return v, true
		}
	case p.Primary && n.outranksLeader(now, p):
		// Two primaries (a healing split): a secondary stays with the
		// higher one, which the other is about to follow.
		n.answer(p, a)
		return v, true
	case p.Primary:
		n.follow(now, p)
		v.AdoptKeys = hasKeys
	case p.Addr == n.leader:
		// The primary announces itself a secondary: it restarted (or
		// gave up the role). Elect again at once.
		n.leader = netip.Addr{}
		if !n.electing {
			n.answer(p, a)
			n.startElection(now, false)
			return v, true
		}
	}
	if !n.primary && !n.synced && hasKeys {
		v.AdoptKeys = true
	}
	n.answer(p, a)
	return v, true
}

// outranksLeader reports whether this secondary's primary, heard within
// the periodic interval, outranks p, another KS announcing itself
// primary.
func (n *Node) outranksLeader(now time.Time, p *Peer) bool {
	l := n.Peer(n.leader)
	if l == nil || l == p || !l.Primary || now.Sub(l.lastHeard) > n.clk.Wall(n.cfg.Periodic) {
		return false
	}
	return outranks(l.Priority, l.Addr, p.Priority, p.Addr)
}

// answer replies to a reply-request ANN.
func (n *Node) answer(p *Peer, a *wire.ANN) {
	if a.Flags.Has(wire.FlagReplyRequest) {
		n.host.Announce(p.Addr, wire.FlagReply)
	}
}

// Flags are the flags of this KS's ANNs besides those of the occasion:
// PRIMARY and ELECTING as they are.
func (n *Node) Flags() wire.Flags {
	var f wire.Flags
	if n.primary {
		f |= wire.FlagPrimary
	}
	if n.electing {
		f |= wire.FlagElecting
	}
	return f
}

// Sent records an ANN sent to p (its anti-replay number is
// NextAntireplay's) of size octets, with flags f; dropped counts it as
// not sent (no SA, too large).
func (n *Node) Sent(p *Peer, f wire.Flags, size int, dropped bool) {
	if dropped {
		p.c.sendDrops++
		return
	}
	p.c.annSent++
	if f.Has(wire.FlagReplyRequest) {
		p.c.annSentRR++
	}
	p.c.bytesSent += uint64(size)
}

// Dropped counts an ANN from p that was dropped before Receive (it did not
// verify, or its signing key differs).
func (n *Node) Dropped(p *Peer) { p.c.recvDrops++ }

// NextAntireplay is the anti-replay number of the next ANN to p.
func (n *Node) NextAntireplay(p *Peer) uint64 {
	p.tx++
	return p.tx
}

// IKE records whether a phase-1 SA with peer is up: DPD declaring it
// dead makes a peer dead (CO-03); the primary logs it at once.
func (n *Node) IKE(peer netip.Addr, up bool) {
	p := n.Peer(peer)
	if p == nil {
		return
	}
	p.ikeUp = up
	if !up && p.status == Alive && n.primary {
		p.status = Dead
		n.host.Emit("COOP_KS_UNREACH", "group", n.cfg.Group, "ks", p.Addr.String())
	}
}

// MembersChanged starts the policy-update batch (CO-17).
func (n *Node) MembersChanged(now time.Time) {
	if n.batchAt.IsZero() {
		n.batchAt = now.Add(n.clk.Wall(PolicyBatch))
	}
}

// KeysChanged announces new keys to every peer at once (a primary's
// rekey).
func (n *Node) KeysChanged() {
	if n.primary {
		n.batchAt = time.Time{}
		n.announceAll(0)
	}
}

func (n *Node) announceAll(f wire.Flags) {
	for _, p := range n.peers {
		n.host.Announce(p.Addr, f)
	}
}

// Show is the node as `show crypto gdoi ks coop` shows it.
func (n *Node) Show(now time.Time) show.COOP {
	s := show.COOP{
		Group: n.cfg.Group, LocalAddress: n.cfg.Self.String(), LocalPriority: int(n.cfg.Priority),
		Role: "secondary", Status: "alive", Version: n.cfg.Version.String(), Electing: n.electing,
		Synced: n.synced, Refresh: n.cfg.Refresh.Seconds(), Periodic: n.cfg.Periodic.Seconds(),
		Retransmit: n.cfg.Retransmit, Transitions: n.transitions, Demotions: n.demotions,
		PolicyUpdates: n.policyUpdates, Peers: []show.COOPPeer{},
	}
	if n.primary {
		s.Role = "primary"
	}
	if n.leader.IsValid() {
		s.Primary = n.leader.String()
	}
	if !n.timerAt.IsZero() {
		s.Remaining = max(0, n.clk.Since(n.timerAt, now).Seconds())
	}
	if n.electing {
		s.Retries = n.rounds
	}
	for _, p := range n.peers {
		role := "secondary"
		if p.Primary {
			role = "primary"
		}
		st := p.status
		if !n.primary && p.Addr != n.leader && st == Alive {
			st = Unknown // a secondary tracks the primary only (CO-10)
		}
		ike := "failed"
		if p.ikeUp {
			ike = "established"
		}
		ps := show.COOPPeer{
			Address: p.Addr.String(), Priority: int(p.Priority), Role: role, Status: st.String(),
			AntireplaySeq: p.rx, SentSeq: p.tx, IKEStatus: ike,
			AnnSent: p.c.annSent, AnnSentReplyRequest: p.c.annSentRR, AnnRecv: p.c.annRecv, AnnRecvReplyRequest: p.c.annRecvRR,
			PacketSentDrops: p.c.sendDrops, PacketRecvDrops: p.c.recvDrops, BytesSent: p.c.bytesSent, BytesRecv: p.c.bytesRecv,
		}
		if p.heard {
			ps.Version = p.Version.String()
			ps.LastHeardSecondsAgo = n.clk.Since(now, p.lastHeard).Seconds()
		}
		s.Peers = append(s.Peers, ps)
	}
	return s
}

// Version is the KS's GDOI version as its ANNs carry it.
func (n *Node) Version() wire.Version { return n.cfg.Version }

// Peers lists the peers in configuration order.
func (n *Node) Peers() []*Peer { return slices.Clone(n.peers) }

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "NONE"
	}
	return a.String()
}
