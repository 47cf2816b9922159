package ks

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"time"

	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/show"
)

// member is one GM in a group's database (S0 §5.4.1.6, KS-50).
type member struct {
	address  netip.Addr
	identity string
	// local: it registered with this KS (not learned from a peer's ANN).
	local bool
	// version is the GDOI version the GM announced in main mode (nil when
	// it announced none, or it was learned from a peer).
	version *gdoiwire.VersionVID
	// kek is the SPI of the KEK this KS knows the GM holds: the one it
	// registered with here, or the current one of a rekey it acknowledged
	// (an acknowledgement's HASH proves it). A demoted primary hands over
	// the GMs holding its KEK, and no others (CO-51).
	kek           [16]byte
	registeredAt  time.Time
	registrations uint64
	rekeysSent    uint64
	rekeyRetries  uint64
	acksReceived  uint64
	acksMissed    uint64
	// missedInARow counts the scheduled rekeys in a row the GM did not
	// acknowledge; at three it is deleted before the next (KS-51).
	missedInARow int
	sentSeq      []uint32
	receivedSeq  []uint32
}

// GDOI is the control API's GET /v1/gdoi.
func (s *Server) GDOI() show.GDOI {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := show.GDOI{Role: "ks", Identity: s.cfg.Identity.String(), Scale: s.cfg.Timers.Scale}
	for _, g := range s.sortedGroups() {
		rk := &g.rekey
		gs := show.GroupStatus{
			Name: g.cfg.Name, ID: g.cfg.ID,
			KS: &show.KSGroup{
				Members: len(g.members), Registrations: g.registrations,
				RekeysSent: rk.scheduled, KEKRekeys: rk.kekRekeys, Retransmits: rk.retransmits, Reminders: rk.reminders,
				AcksReceived: rk.acks, GMsDeleted: rk.deleted, Seq: g.seq,
				RekeyTransport: g.cfg.Rekey.Transport,
				SigningKeyBits: g.signer.N.BitLen(), SigningKeyHash: g.signingKeyHash(),
			},
		}
		if !g.unicast() {
			gs.KS.RekeyAddress = g.rekeyDst(netip.Addr{}).String()
		}
		if l := rk.last; l != nil {
			gs.KS.LastRekey = &show.RekeyRound{Kind: string(l.kind), Seqs: slices.Clone(l.seqs), Started: l.started,
				GMs: l.targets, Acked: l.targets - len(l.pending), AllAckedMs: float64(l.allAckedAfter) / float64(time.Millisecond)}
		}
		if g.kek != nil {
			gs.KEK = gdoi.KEKStatus(g.kek, s.elapsed(g.kekCreated), g.seq)
			gs.KS.NextKEKRekeyIn, gs.KS.NextTEKRekeyIn = s.nextRekeys(g)
		}
		for _, gen := range g.gens {
			for i := range gen.teks {
				gs.TEKs = append(gs.TEKs, gdoi.TEKStatus(&gen.teks[i], s.elapsed(gen.created)))
			}
		}
		for _, ace := range g.cfg.ACL {
			gs.ACL = append(gs.ACL, ace.String())
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

// Members is the control API's GET /v1/ks/members.
func (s *Server) Members() []show.Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []show.Member
	for _, g := range s.sortedGroups() {
		for _, m := range g.members {
			out = append(out, show.Member{
				Address: m.address.String(), Identity: m.identity, Group: g.cfg.Name, GroupID: g.cfg.ID,
				Version: versionText(m.version), Features: featuresOf(m.version), KeyServer: s.cfg.Identity.String(), RegisteredAt: m.registeredAt,
				Registrations: m.registrations, RekeysSent: m.rekeysSent, RekeyRetries: m.rekeyRetries,
				AcksReceived: m.acksReceived, AcksMissed: m.acksMissed,
				SentSeq: lastFour(m.sentSeq), ReceivedSeq: lastFour(m.receivedSeq),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// lastFour is the seeds' "Sent seq num: 13 14 0 0" form: the last four,
// zero-filled.
func lastFour(s []uint32) []uint32 {
	out := make([]uint32, 4)
	if len(s) > 4 {
		s = s[len(s)-4:]
	}
	copy(out, s)
	return out
}

// IKESAs is the control API's GET /v1/ike/sa.
func (s *Server) IKESAs() []show.IKESA {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p1.Snapshot()
}

// Counters is the control API's GET /v1/counters.
func (s *Server) Counters() map[string]uint64 { return s.opt.Counters.Snapshot() }

func versionText(v *gdoiwire.VersionVID) string {
	if v == nil {
		return "unknown"
	}
	return v.Version.String()
}

func featuresOf(v *gdoiwire.VersionVID) []string {
	if v == nil {
		return nil
	}
	return v.Features
}

// Features is the control API's GET /v1/gdoi/feature: this KS, its
// cooperating KSs (the version their announcements carry) and its
// members (the version their main mode carried).
func (s *Server) Features() show.Features {
	s.mu.Lock()
	defer s.mu.Unlock()
	self := show.Device{Address: s.cfg.Identity.String(), Version: s.cfg.GDOI.String(), Features: s.cfg.GDOI.Features}
	f := show.Features{Local: self, Groups: []show.GroupFeatures{}}
	for _, g := range s.sortedGroups() {
		gf := show.GroupFeatures{Group: g.cfg.Name, KeyServers: []show.Device{self}, Members: []show.Device{}}
		if g.coop != nil {
			for _, p := range g.coop.Show(s.clk.Now()).Peers {
				gf.KeyServers = append(gf.KeyServers, show.Device{Address: p.Address, Version: cmp.Or(p.Version, "unknown")})
			}
		}
		for _, m := range g.sortedMembers() {
			gf.Members = append(gf.Members, show.Device{Address: m.address.String(), Version: versionText(m.version), Features: featuresOf(m.version)})
		}
		f.Groups = append(f.Groups, gf)
	}
	return f
}
