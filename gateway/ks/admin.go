package ks

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Operator actions on a key server (the control socket's POST
// endpoints), as the seeds' commands behave (S0 §3.16).

// Replace modes of a triggered rekey (RK-51).
const (
	// ReplacePolicy ("crypto gdoi ks rekey"): new TEKs, and the old ones
	// shortened to TEK_SLT so that GMs stop using them soon.
	ReplacePolicy = "policy-replace"
	// ReplaceNow ("crypto gdoi ks rekey replace-now"): new TEKs, the old
	// ones deleted at once (traffic on them may drop during the switch).
	ReplaceNow = "now"
)

// AdminError is an operator action refused, with the seeds' wording.
type AdminError struct{ Msg string }

func (e *AdminError) Error() string { return e.Msg }

// Refused marks the error as the operator's request refused (the control
// socket answers 409).
func (e *AdminError) Refused() {}

// Rekey sends a triggered rekey now in every group, or in the one named:
// a new TEK generation, the old ones shortened (ReplacePolicy) or deleted
// (ReplaceNow). Only the primary of a cooperating group rekeys (KS-72):
// on a secondary it is refused and nothing is sent. It returns the groups
// rekeyed.
func (s *Server) Rekey(name, mode string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mode != ReplacePolicy && mode != ReplaceNow {
		return nil, fmt.Errorf("replace mode %q is not %s or %s", mode, ReplacePolicy, ReplaceNow)
	}
	var gs []*group
	for _, g := range s.sortedGroups() {
		if name == "" || g.cfg.Name == name {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return nil, &AdminError{fmt.Sprintf("ERROR: no group %s on this KS", name)}
	}
	for _, g := range gs {
		if !g.makesKeys() {
			return nil, &AdminError{fmt.Sprintf("ERROR for group %s: This command must be executed on Primary-KS", g.cfg.Name)}
		}
	}
	now := s.clk.Now()
	var done []string
	for _, g := range gs {
		if err := s.refresh(g, now); err != nil {
			return done, err
		}
		s.triggeredRekey(g, now, mode)
		done = append(done, g.cfg.Name)
	}
	return done, nil
}

// triggeredRekey ends the generations alive before a triggered rekey as
// mode says and rekeys with a new one.
func (s *Server) triggeredRekey(g *group, now time.Time, mode string) {
	var gone []uint32
	switch mode {
	case ReplaceNow:
		for _, gen := range g.gens {
			for _, t := range gen.teks {
				gone = append(gone, t.SPI)
			}
		}
		g.gens = nil
	default:
		if w := s.warnUnsupported(g, featurePolicyReplace, g.lacking(featurePolicyReplace)); w != "" {
			// "If any KS or GM does not support policy-replace, the KS
			// sends a triggered rekey without policy replacement": the
			// old TEKs keep their lifetimes (RK-51).
			mode = "without policy-replace"
			break
		}
		for i := range g.gens {
			rlt := g.cfg.TEKLifetime - s.clk.Since(now, g.gens[i].created)
			slt := gdoi.TEKShortened(rlt, g.cfg.TEKLifetime)
			// The generation now expires SLT from now: every PUSH and
			// registration from here on tells GMs so.
			g.gens[i].created = now.Add(s.clk.Wall(slt - g.cfg.TEKLifetime))
		}
	}
	g.triggered = mode
	g.deleted = gone
	s.startRound(g, now, false, true)
	g.triggered, g.deleted = "", nil
}

// deletePayload lists ESP SPIs a PUSH deletes (RFC 6407 §4.2): a GM that
// keeps TEKs a PUSH does not carry drops these.
func deletePayload(spis []uint32) *isakmp.Delete {
	d := &isakmp.Delete{DOI: isakmp.DOIGDOI, ProtocolID: uint8(gdoiwire.TEKProtoESP), SPISize: 4}
	for _, spi := range spis {
		d.SPIs = append(d.SPIs, binary.BigEndian.AppendUint32(nil, spi))
	}
	return d
}

// Clear is the seeds' "clear crypto gdoi" on a key server (KS-53), in
// every group or the one named: the registrations are cleared and the
// policies deleted — a KS serving the group alone makes new keys, a
// cooperating one drops its keys and enters an election, taking the
// group's from its peers — and nothing is sent to the GMs, which stay on
// their old keys until they expire and register again (KS_CLEAR_REGISTER).
func (s *Server) Clear(name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	var done []string
	for _, g := range s.sortedGroups() {
		if name != "" && g.cfg.Name != name {
			continue
		}
		g.members = map[netip.Addr]*member{}
		g.rekey.round = nil
		g.kek, g.gens = nil, nil
		if g.coop != nil {
			g.coop.Reset(now)
		} else {
			g.epoch = now
			if err := s.refresh(g, now); err != nil {
				return done, err
			}
			s.opt.KeyLog.Policy(g.cfg.Name, g.groupPolicy(s.elapsed, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)))
			s.saveState()
		}
		s.opt.Events.Emit("KS_CLEAR_REGISTER", "group", g.cfg.Name)
		done = append(done, g.cfg.Name)
	}
	if len(done) == 0 {
		return nil, &AdminError{fmt.Sprintf("ERROR: no group %s on this KS", name)}
	}
	return done, nil
}
