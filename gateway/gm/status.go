package gm

import (
	"fmt"
	"slices"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/show"
)

// GDOI is the control API's GET /v1/gdoi.
func (m *Member) GDOI() show.GDOI {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	st := show.GDOI{Role: "gm", Identity: m.opt.Local.Addr().String(), Scale: m.cfg.Timers.Scale}
	for _, g := range m.groups {
		gg := &show.GMGroup{
			State: string(g.state), Registrations: g.registrations, Attempts: g.attempts, LastError: g.lastErr,
			RekeysReceived: g.rekeysReceived, AcksSent: g.acksSent, RekeysRejected: g.rekeysRejected,
		}
		gg.Direction, gg.DirectionBy = g.direction()
		if !g.lastRekey.IsZero() {
			t := g.lastRekey
			gg.LastRekey = &t
		}
		if g.previousKEK != nil {
			gg.PreviousKEK = fmt.Sprintf("%x", g.previousKEK.SPI)
		}
		for _, a := range g.cfg.KSList {
			gg.KSList = append(gg.KSList, a.String())
		}
		switch {
		case g.a != nil:
			gg.KeyServer = g.a.ks.Addr().String()
		case g.ks.IsValid():
			gg.KeyServer = g.ks.String()
		}
		if !g.lastReg.IsZero() {
			t := g.lastReg
			gg.LastRegistered = &t
		}
		if !g.reregAt.IsZero() && g.reregAt.After(now) {
			in := m.clk.Protocol(g.reregAt.Sub(now)).Seconds()
			gg.ReregisterIn = &in
			gg.ReregisterFor = "tek"
			if g.reregKEK {
				gg.ReregisterFor = "kek"
			}
		}
		gs := show.GroupStatus{Name: g.cfg.Name, ID: g.cfg.ID, GM: gg}
		if p := g.policy; p != nil {
			elapsed := m.protocolSince(g.installedAt)
			gg.Seq = p.Seq
			if p.KEK != nil {
				gs.KEK = gdoi.KEKStatus(p.KEK, elapsed, p.Seq)
				gg.RekeyTransport = "unicast"
				if p.KEK.Dst.Addr().IsMulticast() {
					gg.RekeyTransport = "multicast"
				}
			}
			for _, d := range p.Deny {
				gs.ACL = append(gs.ACL, d.ACE(false))
			}
			for i := range p.TEKs {
				t := &p.TEKs[i]
				gs.TEKs = append(gs.TEKs, gdoi.TEKStatus(t, elapsed))
				// Old and new TEKs of one entry during a rollover show
				// the entry once.
				if ace := gdoi.SelectorString(t); !slices.Contains(gs.ACL, ace) {
					gs.ACL = append(gs.ACL, ace)
				}
			}
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

// Members is empty on a GM (GET /v1/ks/members is a KS view).
func (m *Member) Members() []show.Member { return nil }

// IKESAs is the control API's GET /v1/ike/sa.
func (m *Member) IKESAs() []show.IKESA {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p1.Snapshot()
}

// Counters is the control API's GET /v1/counters.
func (m *Member) Counters() map[string]uint64 { return m.opt.Counters.Snapshot() }

// Policies returns the installed policy of every registered group, by
// group name.
func (m *Member) Policies() map[string]*gdoi.Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]*gdoi.Policy{}
	for _, g := range m.groups {
		if g.policy != nil {
			out[g.cfg.Name] = g.policy
		}
	}
	return out
}

// Features is the control API's GET /v1/gdoi/feature: on a GM, only
// itself, in each of its groups ("show crypto gdoi feature" on a GM).
func (m *Member) Features() show.Features {
	self := show.Device{Address: m.opt.Local.Addr().String(), Version: m.cfg.GDOI.String(), Features: m.cfg.GDOI.Features}
	f := show.Features{Local: self, Groups: []show.GroupFeatures{}}
	for _, g := range m.cfg.Groups {
		f.Groups = append(f.Groups, show.GroupFeatures{Group: g.Name, KeyServers: []show.Device{}, Members: []show.Device{self}})
	}
	return f
}
