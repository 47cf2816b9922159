package ks

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/coop"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/show"
	wire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Cooperative key servers (package coop has the protocol, gateway/wire/coop
// the wire format). The KS side: a phase-1 SA this KS initiates with every
// peer (so that its own dead peer detection probes the peer, CO-03; the
// pair holds one SA per direction), the ANNs built from and applied to the
// group's keys and member database, and the primary's duties: only the
// primary rekeys (CO-20); a secondary registers GMs with the keys it
// took from the primary and blocks registrations until it has them
// (KS-41, KS-42).

// maxANN is the largest ANN a KS sends (UDP's 65,507-octet payload, less
// room for the IP options of fragments): a larger one is dropped with
// COOP_PACKET_DROPPED, as IOS drops one beyond its buffers (CO-04).
const maxANN = 65000

// initiation is a main mode this KS started with a cooperating KS.
type initiation struct {
	i       *ikev1.Initiator
	started time.Time
	sentAt  time.Time
	tries   int
	last    []byte
}

// initiationRetry is how long, in protocol time, an initiation waits for
// an answer before it sends its message again; initiationTries how many
// times it sends it.
const (
	initiationRetry = 5 * time.Second
	initiationTries = 4
)

// coopHost is a group's side of its coop.Node.
type coopHost struct {
	s *Server
	g *group
}

func (h coopHost) Announce(peer netip.Addr, f wire.Flags) { h.s.announce(h.g, peer, f) }
func (h coopHost) Promoted(previous netip.Addr)           { h.s.promoted(h.g, previous) }
func (h coopHost) Emit(name string, kv ...string)         { h.s.opt.Events.Emit(name, kv...) }

// startCOOP makes the group's coop.Node and enters its start-up
// election.
func (s *Server) startCOOP(g *group) {
	co := g.cfg.COOP
	g.coop = coop.New(coop.Config{
		Group: g.cfg.Name, Self: s.cfg.Identity, Priority: uint8(co.Priority), Peers: co.Peers,
		Refresh: co.Refresh, Periodic: co.Periodic, Retransmit: co.Retransmit,
		Version: wire.Version{Major: s.cfg.GDOI.Major, Minor: s.cfg.GDOI.Minor, Patch: s.cfg.GDOI.Mini},
	}, s.clk, coopHost{s, g})
	g.mismatch = map[netip.Addr]string{}
	for _, p := range co.Peers {
		s.opt.Events.Emit("COOP_KS_ADD", "group", g.cfg.Name, "ks", p.String())
	}
	g.coop.Start(s.clk.Now())
}

// makesKeys reports whether the group's keys are this KS's to make and
// rekey: it serves the group alone or is its primary.
func (g *group) makesKeys() bool { return g.coop == nil || g.coop.Primary() }

// peerEndpoint is where a cooperating KS listens.
func (s *Server) peerEndpoint(peer netip.Addr) netip.AddrPort {
	return netip.AddrPortFrom(peer, s.cfg.Listen.Port)
}

// announce sends the group's ANN to peer, or, without a phase-1 SA with
// it, starts one and sends the ANN when it is up.
func (s *Server) announce(g *group, peer netip.Addr, f wire.Flags) {
	p := g.coop.Peer(peer)
	if p == nil {
		return
	}
	ep := s.peerEndpoint(peer)
	// This KS's own SA first: its keepalives prove the peer holds it.
	sa := s.p1.LiveInitiated(ep)
	if sa == nil {
		s.initiate(ep)
		sa = s.p1.Live(ep)
	}
	if sa == nil {
		if s.pendingANN[peer] == nil {
			s.pendingANN[peer] = map[*group]wire.Flags{}
		}
		s.pendingANN[peer][g] |= f
		return
	}
	f |= g.coop.Flags()
	m := s.annFor(g, f)
	m.ANN.Antireplay = g.coop.NextAntireplay(p)
	pkt, err := coop.Seal(sa, m)
	switch {
	case err != nil:
		g.coop.Sent(p, f, 0, true)
		s.opt.Events.Logf("error", "group %s: ANN to %s: %v", g.cfg.Name, peer, err)
		return
	case len(pkt) > maxANN:
		g.coop.Sent(p, f, len(pkt), true)
		s.opt.Counters.Inc(counter.COOPPacketDropped)
		s.opt.Events.Emit("COOP_PACKET_DROPPED", "group", g.cfg.Name, "ks", peer.String(), "size", fmt.Sprint(len(pkt)))
		return
	}
	g.coop.Sent(p, f, len(pkt), false)
	s.opt.Counters.Inc(counter.COOPAnnSent)
	s.opt.Send(ep, pkt)
}

// annFor builds the group's ANN: its keys when it holds them, its
// member database always.
func (s *Server) annFor(g *group, f wire.Flags) *coop.Message {
	now := s.clk.Now()
	a := &wire.ANN{
		Version: g.coop.Version(), Priority: uint8(g.cfg.COOP.Priority), Group: g.cfg.ID,
		Seq: g.reservedSeq(), SigningKey: sha256.Sum256(g.pubDER), Policy: g.policyDigest,
	}
	if !g.epoch.IsZero() {
		a.Pseudotime = s.elapsed(g.epoch)
	}
	m := &coop.Message{ANN: a, Members: &wire.Members{}}
	if g.kek != nil && len(g.gens) > 0 && g.coop.CanRegister() {
		f |= wire.FlagPolicy
		a.KEKAge = s.elapsed(g.kekCreated)
		for _, gen := range g.gens {
			a.Generations = append(a.Generations, wire.Generation{TEKs: len(gen.teks), Age: s.elapsed(gen.created)})
		}
		p := g.groupPolicy(s.elapsed, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
		m.SA, m.KD = p.SAPayloadFor(gdoi.InteropRFC), p.KDPayloadFor(gdoi.InteropRFC, nil)
	}
	a.Flags = f
	for _, mb := range g.sortedMembers() {
		if !mb.address.Is4() {
			continue
		}
		m.Members.List = append(m.Members.List, wire.Member{
			Address: mb.address, Local: mb.local, Registrations: uint16(min(mb.registrations, 0xffff)),
			Since: now.Sub(mb.registeredAt),
		})
	}
	return m
}

// reservedSeq is the highest rekey sequence number this KS has used or
// may use in the rekey in progress (its retransmissions): a new primary
// starts above it (the sequence never goes backwards across a failover).
func (g *group) reservedSeq() uint32 {
	r := g.rekey.round
	if r == nil {
		return g.seq
	}
	left := max(g.cfg.Rekey.RetransmitCount+1-len(r.seqs), 0)
	if g.cfg.Rekey.RetransmitPeriodic && g.coop != nil {
		// Reminders go on past the retransmissions, one an interval:
		// those until the next announcement too.
		left += int(g.cfg.COOP.Refresh/g.cfg.Rekey.RetransmitInterval) + 1
	}
	return g.seq + uint32(left)
}

// initiate starts main mode with a cooperating KS, unless one is under
// way.
func (s *Server) initiate(peer netip.AddrPort) {
	for k := range s.initiations {
		if k.peer == peer {
			return
		}
	}
	i, err := ikev1.NewInitiator(s.p1.IKE(), s.opt.Local, peer)
	if err != nil {
		s.p1.Failed(peer, err)
		return
	}
	pkt, err := i.Start()
	if err != nil {
		s.p1.Failed(peer, err)
		return
	}
	now := s.clk.Now()
	s.initiations[mmKey{i.ICookie(), peer}] = &initiation{i: i, started: now, sentAt: now, tries: 1, last: pkt}
	s.send(peer, pkt)
}

// initiatorStep takes a main-mode message for an exchange this KS
// started.
func (s *Server) initiatorStep(k mmKey, in *initiation, pkt []byte) {
	reply, err := in.i.Handle(pkt)
	if err != nil {
		delete(s.initiations, k)
		s.p1.Failed(k.peer, err)
		return
	}
	if reply != nil {
		in.last, in.sentAt = reply, s.clk.Now()
		s.send(k.peer, reply)
	}
	if sa := in.i.SA(); sa != nil {
		delete(s.initiations, k)
		s.p1.Established(sa)
		s.peerSAUp(sa)
	}
}

// retryInitiations sends again what initiations sent when no answer came
// and gives up on those out of tries.
func (s *Server) retryInitiations(now time.Time) {
	wait := s.clk.Wall(initiationRetry)
	for k, in := range s.initiations {
		if now.Sub(in.sentAt) < wait {
			continue
		}
		if in.tries >= initiationTries {
			delete(s.initiations, k)
			s.opt.Counters.Inc(counter.COOPIKEFailed)
			continue
		}
		in.tries++
		in.sentAt = now
		s.send(k.peer, in.last)
	}
}

// peerSAUp runs when a phase-1 SA with a peer establishes (either
// direction): the ANNs that waited for it go.
func (s *Server) peerSAUp(sa *ikev1.SA) {
	peer := sa.Peer.Addr()
	for _, g := range s.sortedGroups() {
		if g.coop != nil && g.coop.Peer(peer) != nil {
			g.coop.IKE(peer, true)
		}
	}
	wants := s.pendingANN[peer]
	delete(s.pendingANN, peer)
	for _, g := range s.sortedGroups() {
		if f, ok := wants[g]; ok {
			s.announce(g, peer, f)
		}
	}
}

// peerSADropped runs when a phase-1 SA is gone (lifetime, DPD, limits).
func (s *Server) peerSADropped(sa *ikev1.SA) {
	peer := sa.Peer.Addr()
	up := s.p1.Live(sa.Peer) != nil
	for _, g := range s.groups {
		if g.coop != nil && g.coop.Peer(peer) != nil {
			g.coop.IKE(peer, up)
		}
	}
}

// coopPeerGroups are the groups that list peer as a cooperating KS.
func (s *Server) coopPeerGroups(peer netip.Addr) []*group {
	var gs []*group
	for _, g := range s.sortedGroups() {
		if g.coop != nil && g.coop.Peer(peer) != nil {
			gs = append(gs, g)
		}
	}
	return gs
}

// coopReceive takes an ANN. The sender must be a configured peer, checked
// before any decryption; then the HASH, the group, the signing key and
// the anti-replay number.
func (s *Server) coopReceive(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	sa := s.p1.Get(h.Cookies())
	if sa == nil {
		s.opt.Counters.Inc(counter.COOPUnknownSA)
		s.p1.UnknownSA(from, h, pkt)
		return
	}
	peer := from.Addr()
	if sa.Peer.Addr() != peer || len(s.coopPeerGroups(peer)) == 0 {
		s.unauthorizedPeer(peer, "")
		return
	}
	m, err := coop.Open(sa, pkt)
	if err != nil {
		s.opt.Counters.Inc(counter.COOPBadANN)
		for _, g := range s.coopPeerGroups(peer) {
			g.coop.Dropped(g.coop.Peer(peer))
		}
		s.p1.Malformed(from, err)
		return
	}
	s.p1.Heard(sa.Cookies())
	var g *group
	for _, c := range s.coopPeerGroups(peer) {
		if c.cfg.ID == m.ANN.Group {
			g = c
		}
	}
	if g == nil {
		s.unauthorizedPeer(peer, fmt.Sprint(m.ANN.Group))
		return
	}
	now := s.clk.Now()
	p := g.coop.Peer(peer)
	if m.ANN.SigningKey != sha256.Sum256(g.pubDER) {
		s.configMismatch(g, peer, "signing", "the rekey signing keys differ (they must be one key, KS-23): its announcements are ignored")
		g.coop.Dropped(p)
		return
	}
	if m.ANN.Policy != g.policyDigest {
		s.configMismatch(g, peer, "policy", "the group policies differ (ACL, transforms, lifetimes or rekey settings): GMs get a different policy whenever the primary changes (CO-22)")
	}
	v, ok := g.coop.Receive(now, p, m.ANN, len(pkt))
	if !ok {
		return
	}
	s.opt.Counters.Inc(counter.COOPAnnReceived)
	// A primary's rekeys must go above every number a GM may have seen,
	// from whichever KS; a secondary only notes them for when it takes
	// over (its own ANNs then carry what it used itself, not an echo).
	g.seqSeen = max(g.seqSeen, m.ANN.Seq)
	if g.coop.Primary() {
		g.seq = max(g.seq, m.ANN.Seq)
	}
	var old *gdoi.KEK
	if v.Demoted {
		old = g.kek
		g.rekey.round = nil
	}
	if v.AdoptKeys && m.SA != nil {
		if err := s.adopt(g, m, v.Demoted); err != nil {
			s.opt.Counters.Inc(counter.COOPBadANN)
			s.opt.Events.Emit("MALFORMED_PACKET", "peer", from.String(), "reason", err.Error())
			return
		}
	}
	if m.SA != nil && (v.MergeTEKs || g.coop.Primary()) {
		// The TEKs of a primary this one outranks, or of a secondary that
		// was one (its ANN as a primary may have been lost at the heal).
		s.mergeTEKs(g, m)
	}
	s.mergeMembers(g, m, peer == g.coop.Leader() && !g.coop.Primary())
	if old != nil && g.kek != nil && old.SPI != g.kek.SPI {
		s.handOver(g, old)
	}
}

// unauthorizedPeer logs an ANN from a KS that is not a peer of the group
// it names (or of any group): "could be considered a hostile event" (CO-62).
func (s *Server) unauthorizedPeer(peer netip.Addr, group string) {
	s.opt.Counters.Inc(counter.COOPUnauthorized)
	if group == "" {
		group = "any"
	}
	s.opt.Events.Emit("COOP_KS_UNAUTH", "group", group, "ks", peer.String(), "local", s.cfg.Identity.String())
}

// configMismatch logs COOP_CONFIG_MISMATCH once per peer and kind until
// the peer agrees again.
func (s *Server) configMismatch(g *group, peer netip.Addr, kind, reason string) {
	key := peer.String() + "/" + kind
	if g.mismatch[peer] == key {
		return
	}
	g.mismatch[peer] = key
	s.opt.Counters.Inc(counter.COOPConfigMismatch)
	s.opt.Events.Emit("COOP_CONFIG_MISMATCH", "group", g.cfg.Name, "ks", peer.String(), "reason", reason)
}

// peerPolicy reads an ANN's keys: the KEK and the TEK generations with
// their creation times on this KS's clock.
func (s *Server) peerPolicy(g *group, m *coop.Message) (*gdoi.KEK, time.Time, []tekGen, error) {
	p, err := gdoi.ParsePolicy(g.cfg.ID, m.SA, m.KD, nil)
	if err != nil {
		return nil, time.Time{}, nil, fmt.Errorf("ANN from group %s: %w", g.cfg.Name, err)
	}
	if p.KEK == nil {
		return nil, time.Time{}, nil, fmt.Errorf("ANN from group %s: no KEK", g.cfg.Name)
	}
	now := s.clk.Now()
	var gens []tekGen
	i := 0
	for _, gen := range m.ANN.Generations {
		if gen.TEKs > len(p.TEKs)-i {
			return nil, time.Time{}, nil, fmt.Errorf("ANN from group %s: generations list more TEKs than the SA's %d", g.cfg.Name, len(p.TEKs))
		}
		teks := slices.Clone(p.TEKs[i : i+gen.TEKs])
		for j := range teks {
			teks[j].Lifetime = g.cfg.TEKLifetime
		}
		gens = append(gens, tekGen{teks: teks, created: now.Add(-s.clk.Wall(gen.Age))})
		i += gen.TEKs
	}
	if i != len(p.TEKs) || len(gens) == 0 {
		return nil, time.Time{}, nil, fmt.Errorf("ANN from group %s: %d TEKs, generations account for %d", g.cfg.Name, len(p.TEKs), i)
	}
	k := p.KEK
	k.PublicKey, k.Src, k.Lifetime, k.Ack = g.pubDER, s.cfg.Identity, g.cfg.KEKLifetime, g.ackType()
	return k, now.Add(-s.clk.Wall(m.ANN.KEKAge)), gens, nil
}

// adopt takes the keys of a peer's ANN; keepOwn keeps this KS's own TEK
// generations besides (a demoted primary's GMs still send on them).
func (s *Server) adopt(g *group, m *coop.Message, keepOwn bool) error {
	kek, kekCreated, gens, err := s.peerPolicy(g, m)
	if err != nil {
		return err
	}
	if keepOwn {
		gens = unionGens(gens, g.gens)
	}
	changed := g.kek == nil || g.kek.SPI != kek.SPI || !sameSPIs(g.gens, gens)
	g.kek, g.kekCreated, g.gens = kek, kekCreated, gens
	g.seqSeen = max(g.seqSeen, m.ANN.Seq)
	g.epoch = s.clk.Now().Add(-s.clk.Wall(m.ANN.Pseudotime))
	if !g.coop.Synced() {
		s.opt.Events.Logf("info", "group %s: took the group's keys from a cooperating KS (KEK %x, %d TEKs)", g.cfg.Name, kek.SPI[:4], countTEKs(gens))
	}
	g.coop.SetSynced()
	if changed {
		s.opt.KeyLog.Policy(g.cfg.Name, g.groupPolicy(s.elapsed, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)))
	}
	return nil
}

// mergeTEKs adds to the group the TEK generations, under the group's KEK
// or the KEK of a primary this one outranks (a healed split), that it
// lacks and that have a tenth of their lifetime left, and rekeys every GM
// with them all (CO-51). In steady state a peer holds exactly the
// primary's TEKs and nothing happens.
func (s *Server) mergeTEKs(g *group, m *coop.Message) {
	kek, _, gens, err := s.peerPolicy(g, m)
	if err != nil || (kek.SPI != g.kek.SPI && !m.ANN.Flags.Has(wire.FlagPrimary)) {
		return
	}
	now := s.clk.Now()
	life := s.clk.Wall(g.cfg.TEKLifetime)
	fresh := gens[:0]
	for _, gen := range gens {
		if now.Sub(gen.created) < life-life/10 {
			fresh = append(fresh, gen)
		}
	}
	merged := unionGens(g.gens, fresh)
	if sameSPIs(merged, g.gens) {
		return
	}
	g.gens = merged
	s.startRound(g, s.clk.Now(), false, false)
}

// handOver rekeys, under its old KEK, the GMs of a primary that just
// became a secondary: they get the winner's KEK and every TEK (CO-51
// step 3). Sent once, to the GMs known to hold the old KEK (all of them
// when GMs do not acknowledge), with a sequence number above any this KS
// has seen; the winner's own rekeys follow.
func (s *Server) handOver(g *group, old *gdoi.KEK) {
	now := s.clk.Now()
	gms := map[netip.Addr]*member{}
	for a, m := range g.members {
		if m.kek == old.SPI || !g.acks() {
			gms[a] = m
		}
	}
	g.seq = max(g.seq, g.seqSeen)
	r := &round{protect: old, started: now, kind: rekeyKEK}
	dst := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if !g.unicast() {
		dst = g.rekeyDst(netip.Addr{})
	}
	p := g.groupPolicy(s.elapsed, dst)
	r.body = []isakmp.Payload{p.SAPayloadFor(g.interop), p.KDPayloadFor(g.interop, old)}
	r.pending = gms
	r.targets = len(gms)
	s.opt.KeyLog.Policy(g.cfg.Name, p)
	s.transmit(g, r, now)
	g.rekey.last = r
}

// mergeMembers adds the members a peer announces. A secondary also drops
// the members its primary no longer lists (deleted for missed
// acknowledgements), unless they registered too recently for the primary
// to have heard of them.
func (s *Server) mergeMembers(g *group, m *coop.Message, fromPrimary bool) {
	if m.Members == nil {
		return
	}
	now := s.clk.Now()
	listed := map[netip.Addr]bool{}
	for _, e := range m.Members.List {
		a := e.Address.Unmap()
		listed[a] = true
		at := now.Add(-s.clk.Wall(e.Since))
		mb := g.members[a]
		if mb == nil {
			mb = &member{address: a, identity: a.String(), registeredAt: at, registrations: uint64(e.Registrations)}
			g.members[a] = mb
			continue
		}
		if at.After(mb.registeredAt.Add(time.Second)) {
			mb.registeredAt = at
			mb.missedInARow = 0
		}
	}
	if !fromPrimary {
		return
	}
	grace := s.clk.Wall(coop.PolicyBatch + 2*g.cfg.COOP.Refresh)
	for a, mb := range g.members {
		if !listed[a] && now.Sub(mb.registeredAt) > grace {
			delete(g.members, a)
		}
	}
}

// promoted runs when this KS becomes the group's primary: it makes keys
// if it took none from a peer, and after a failover rekeys every GM at
// once, with the sequence number continuing (CO-40): the keys it holds
// (takeover preserve-keys) or a new TEK generation besides them (new-tek).
func (s *Server) promoted(g *group, previous netip.Addr) {
	now := s.clk.Now()
	if g.kek == nil || len(g.gens) == 0 {
		if err := s.refresh(g, now); err != nil {
			s.opt.Events.Logf("error", "group %s: %v", g.cfg.Name, err)
			return
		}
		g.epoch = now
		s.opt.KeyLog.Policy(g.cfg.Name, g.groupPolicy(s.elapsed, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)))
		return
	}
	g.seq = max(g.seq, g.seqSeen)
	if previous.IsValid() || len(g.members) > 0 {
		s.startRound(g, now, false, g.cfg.COOP.Takeover == config.TakeoverNewTEK)
	}
}

// unionGens is a's generations with those of b whose TEKs a lacks,
// oldest first.
func unionGens(a, b []tekGen) []tekGen {
	out := slices.Clone(a)
	have := map[uint32]bool{}
	for _, gen := range a {
		for _, t := range gen.teks {
			have[t.SPI] = true
		}
	}
	for _, gen := range b {
		if len(gen.teks) > 0 && !have[gen.teks[0].SPI] {
			out = append(out, gen)
		}
	}
	slices.SortStableFunc(out, func(x, y tekGen) int { return x.created.Compare(y.created) })
	return out
}

func sameSPIs(a, b []tekGen) bool {
	var x, y []uint32
	for _, gen := range a {
		for _, t := range gen.teks {
			x = append(x, t.SPI)
		}
	}
	for _, gen := range b {
		for _, t := range gen.teks {
			y = append(y, t.SPI)
		}
	}
	return slices.Equal(x, y)
}

func countTEKs(gens []tekGen) int {
	n := 0
	for _, g := range gens {
		n += len(g.teks)
	}
	return n
}

// policyDigest is SHA-256 over what a group's cooperating KSs must
// configure alike (CO-22): the interop profile, lifetimes, transforms,
// ACL and rekey settings. Names and the COOP section itself differ per KS.
func policyDigest(gc *config.Group) [32]byte {
	var b strings.Builder
	fmt.Fprintf(&b, "id %d\nprofile %s\ntek %v\nkek %v\n", gc.ID, gc.InteropProfile, gc.TEKLifetime, gc.KEKLifetime)
	for _, t := range gc.Transforms {
		fmt.Fprintf(&b, "transform %s\n", t)
	}
	for _, e := range gc.ACL {
		fmt.Fprintf(&b, "ace %s %s\n", e, gc.TransformOf(e))
	}
	r := gc.Rekey
	fmt.Fprintf(&b, "rekey %s %s %d %s %v %d deny %v\n", r.Transport, r.Address, r.Port, r.Ack, r.RetransmitInterval, r.RetransmitCount, gc.DenyDownload)
	return sha256.Sum256([]byte(b.String()))
}

// sortedMembers lists the group's members by address.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int { return a.address.Compare(b.address) })
	return ms
}

// COOP is the control API's GET /v1/ks/coop: each cooperating group's
// state ("show crypto gdoi ks coop").
func (s *Server) COOP() []show.COOP {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []show.COOP{}
	now := s.clk.Now()
	for _, g := range s.sortedGroups() {
		if g.coop != nil {
			out = append(out, g.coop.Show(now))
		}
	}
	return out
}
