package ks

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/show"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// GM removal ("clear crypto gdoi [group G] ks members [now]", S0 §3.16.1;
// seed-features RK-60…RK-62) and the feature checks that go with it.
//
// On the wire a removal is a GROUPKEY-PUSH under the current KEK whose only
// payloads are Delete payloads (RFC 6407 §4.2 lets a PUSH carry them):
// one for the KEK (protocol ISAKMP, the KEK's 16-octet cookie pair), and
// for the immediate removal one for every live TEK (protocol ESP). A GM
// that gets the KEK deleted shortens its TEKs to TEK_SLT and registers
// again before they end; one that gets every TEK deleted too drops its
// keys at once. The KS then forgets its members and makes a new KEK and
// TEKs, which GMs get by registering: a GM whose credentials were revoked
// first (a reload without its key, or outside authorization) cannot.

// Features gated by GDOI version (S0 Table 3, §3.16).
const (
	featureGMRemoval     = "gm-removal"
	featurePolicyReplace = "policy-replace"
)

// supports reports whether a member announced feature f: by name when it
// listed features, else by its version against the seeds' table. A GM
// that announced no version ("unknown") is taken not to.
func (m *member) supports(f string) bool {
	v := m.version
	if v == nil {
		return false
	}
	if len(v.Features) > 0 {
		return v.Has(f)
	}
	at, known := config.FeatureVersions[f]
	return known && !v.Version.Less(at)
}

// lacking are the group's members (registered here) that do not support
// f, sorted.
func (g *group) lacking(f string) []netip.Addr {
	var out []netip.Addr
	for a, m := range g.members {
		if m.local && !m.supports(f) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// warnUnsupported logs the seeds' warning when some members lack feature f
// and returns it ("" when all have it).
func (s *Server) warnUnsupported(g *group, f string, devices []netip.Addr) string {
	if len(devices) == 0 {
		return ""
	}
	names := make([]string, len(devices))
	for i, a := range devices {
		names[i] = a.String()
	}
	s.opt.Counters.Inc(counter.FeatureUnsupported)
	s.opt.Events.Emit("KS_FEATURE_UNSUPPORTED", "group", g.cfg.Name, "feature", strings.ToUpper(f), "devices", strings.Join(names, " "))
	return fmt.Sprintf("WARNING for group %s: some devices cannot support %s and can cause network disruption. Please check 'show crypto gdoi feature' (%s)",
		g.cfg.Name, strings.ToUpper(f), strings.Join(names, ", "))
}

// RemoveMembers sends a GM-removal message in every group, or the one
// named: transient (the KEK deleted, the TEKs shortened by the GMs) or, with
// now, immediate (every key deleted). Only the primary of a cooperating
// group may (RK-62, KS-72). GMs that announced a version without
// gm-removal are warned about and, unicast, not sent the message (they
// would ignore it and keep their old SAs); the KS forgets every member all
// the same.
func (s *Server) RemoveMembers(name string, immediate bool) (show.RemovalResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res show.RemovalResult
	var gs []*group
	for _, g := range s.sortedGroups() {
		if name == "" || g.cfg.Name == name {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return res, &AdminError{fmt.Sprintf("ERROR: no group %s on this KS", name)}
	}
	for _, g := range gs {
		if !g.makesKeys() {
			return res, &AdminError{fmt.Sprintf("ERROR for group %s: can only execute this command on Primary KS", g.cfg.Name)}
		}
	}
	now := s.clk.Now()
	for _, g := range gs {
		if err := s.refresh(g, now); err != nil {
			return res, err
		}
		if w := s.warnUnsupported(g, featureGMRemoval, g.lacking(featureGMRemoval)); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
		s.removalRound(g, now, immediate)
		res.Removed = append(res.Removed, g.cfg.Name)
	}
	return res, nil
}

// removalRound sends the removal PUSH, with the group's retransmissions,
// and starts the group afresh: no members, a new KEK and TEKs.
func (s *Server) removalRound(g *group, now time.Time, immediate bool) {
	if r := g.rekey.round; r != nil {
		s.closeRound(g, r, now)
	}
	kind := roundKind("gm-removal")
	body := []isakmp.Payload{&isakmp.Delete{DOI: isakmp.DOIGDOI, ProtocolID: isakmp.ProtoISAKMP, SPISize: 16, SPIs: [][]byte{g.kek.SPI[:]}}}
	if immediate {
		kind = "gm-removal now"
		var spis []uint32
		for _, gen := range g.gens {
			for _, t := range gen.teks {
				spis = append(spis, t.SPI)
			}
		}
		body = append(body, deletePayload(spis))
	}
	// The GMs it goes to: every member that can act on it, kept in the
	// round (the KS forgets its members below) until they acknowledge or
	// the retransmissions end.
	r := &round{protect: g.kek, current: g.kek.SPI, started: now, kind: kind, body: body, removal: true,
		pending: map[netip.Addr]*member{}}
	for a, m := range g.members {
		if !g.unicast() || m.supports(featureGMRemoval) {
			r.pending[a] = m
		}
	}
	r.targets = len(r.pending)
	g.rekey.round, g.rekey.last = r, r
	s.opt.Events.Emit("KS_SEND_GM_REMOVAL", "group", g.cfg.Name, "now", fmt.Sprint(immediate), "gms", fmt.Sprint(r.targets))
	s.transmit(g, r, now)
	// All KSs delete the old TEK/KEK/GM database and install a new
	// TEK/KEK (S0 §3.16.1 step 4).
	g.members = map[netip.Addr]*member{}
	g.kek, g.kekCreated = g.newKEK(s.cfg.Identity), now
	g.gens = nil
	if err := g.addTEKs(now); err != nil {
		s.opt.Counters.Inc(counter.RekeyFailures)
	}
	s.opt.KeyLog.Policy(g.cfg.Name, g.groupPolicy(s.elapsed, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)))
	if g.coop != nil {
		g.coop.KeysChanged()
	}
	if s.persisted(g) {
		s.saveState()
	}
}

// directionEvent is the KS's event for TEKs made with direction d (GM-62).
func directionEvent(d gdoiwire.SADir) string {
	if d == gdoiwire.SADirReceiverOnly {
		return "KS_CONV_SAS_INGRESS"
	}
	return "KS_CONV_SAS_DUPLEX"
}
