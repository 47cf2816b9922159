package ks

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/show"
)

// Reload rereads the configuration file (Options.LoadConfig: getctl
// reload, SIGHUP) and applies what a running KS can take (config.Reload):
// a group's policy — its ACL, transforms, receive-only, deny download —
// goes out with the next rekey, scheduled or triggered, and the primary
// logs POLICY_CHANGE (KS-71; the triggered-rekey model of C-08), or under
// policy_change: immediate with a rekey at once (RK-50); the
// authorization list, retransmissions and pre-shared keys apply at once,
// and the phase-1 SAs of a peer whose key was removed or changed are
// dropped, so that it must authenticate again with the new key. A file
// that does not parse, or changes what needs a restart, changes nothing.
func (s *Server) Reload() (show.ReloadResult, error) {
	var res show.ReloadResult
	if s.opt.LoadConfig == nil {
		return res, &AdminError{"ERROR: this key server has no configuration file to reread"}
	}
	nc, err := s.opt.LoadConfig()
	if err != nil {
		return res, &AdminError{fmt.Sprintf("ERROR: %v; nothing changed", err)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changes, policy, err := s.cfg.Reload(nc)
	if err != nil {
		return res, &AdminError{fmt.Sprintf("ERROR: %v; nothing changed", err)}
	}
	res.Changed, res.PolicyChanged = changes, policy
	if !reflect.DeepEqual(s.cfg.IKE.PreSharedKeys, nc.IKE.PreSharedKeys) {
		s.revokeChangedKeys(nc.IKE.PreSharedKeys)
	}
	for i := range s.cfg.Groups {
		o, n := &s.cfg.Groups[i], &nc.Groups[i]
		o.ACL, o.Transforms, o.ReceiveOnly, o.DenyDownload = n.ACL, n.Transforms, n.ReceiveOnly, n.DenyDownload
		o.Authorization = n.Authorization
		o.Rekey.RetransmitInterval, o.Rekey.RetransmitCount, o.Rekey.RetransmitPeriodic = n.Rekey.RetransmitInterval, n.Rekey.RetransmitCount, n.Rekey.RetransmitPeriodic
	}
	now := s.clk.Now()
	for _, g := range s.sortedGroups() {
		if !slices.Contains(policy, g.cfg.Name) {
			continue
		}
		g.policyDigest = policyDigest(g.cfg)
		switch {
		case !g.makesKeys():
		case s.cfg.PolicyChange == config.PolicyChangeImmediate:
			// The old method (S0 Table 4, RK-50): new TEKs with the new
			// policy at once; the old ones stay until they expire.
			if err := s.refresh(g, now); err == nil {
				s.startRound(g, now, false, true)
			}
		default:
			s.opt.Events.Emit("POLICY_CHANGE", "group", g.cfg.Name)
		}
	}
	if len(changes) > 0 {
		s.opt.Events.Logf("info", "configuration reread: %v changed", changes)
	}
	return res, nil
}

// revokeChangedKeys installs the new pre-shared keys and drops the
// phase-1 SAs of every peer whose key went or changed.
func (s *Server) revokeChangedKeys(psks []config.PSK) {
	old := s.cfg.IKE.PreSharedKeys
	s.cfg.IKE.PreSharedKeys = psks
	if u := s.p1.IKE().UpdateKeys; u != nil {
		u(psks)
	}
	for _, k := range old {
		if k.Wildcard {
			continue
		}
		if slices.ContainsFunc(psks, func(n config.PSK) bool {
			return n.Peer == k.Peer && n.Key == k.Key && slices.Equal(n.Identities, k.Identities)
		}) {
			continue
		}
		if n := s.p1.DropPeer(netip.AddrPortFrom(k.Peer, s.cfg.Listen.Port)); n > 0 {
			s.opt.Events.Logf("info", "pre-shared key of %s removed or changed: %d phase-1 SAs dropped", k.Peer, n)
		}
	}
}
