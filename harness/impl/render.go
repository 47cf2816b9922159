package impl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/template"

	"github.com/getlab/getlab/harness/scenario"
)

// Data is what a config template renders from.
type Data struct {
	// Impl is the implementation's name, Role the node's role, Node its
	// name.
	Impl string
	Role Role
	Node string
	// Scenario is the whole scenario (groups, IKE, timer scale, ...).
	Scenario *scenario.Scenario
	// Self is the node's address.
	Self netip.Addr
	// KS is the node's key server entry (KS roles), GM its group member
	// entry (GM role); the other is nil.
	KS *scenario.KeyServer
	GM *scenario.GroupMember
	// KSList is a GM's key servers in its order of preference.
	KSList []scenario.KeyServer
	// Peers are the node's IKE peers with their pre-shared keys: on a KS
	// every GM registering to it, on a GM each KS of its list.
	Peers []Peer
	// KeyLog is the keylog capability's path ("" without it).
	KeyLog string
	// Keepalive is the dead peer detection the node sends, nil for none:
	// on a GM the scenario's ike.keepalive; on a KS of a scenario with
	// COOP that or the seeds' 15 s / 2 s (scenario.KSKeepalive), since
	// the seeds require DPD between COOP key servers (CO-03).
	Keepalive *scenario.Keepalive
	// COOPPeers are, on a KS of a scenario with COOP, the other key
	// servers' addresses, first Order first (Peers holds them too, with
	// the COOP pre-shared key); empty otherwise.
	COOPPeers []netip.Addr
	// Priority is a KS's COOP priority (1-255), 0 when the scenario
	// leaves it to the implementation's default.
	Priority int
	// GDOIVersion is the node's staged GDOI version ("" for its own).
	GDOIVersion string
	// Clock is the node's staged clock skew (its KS or GM entry's), nil
	// for none.
	Clock *scenario.ClockSkew
}

// Peer is an IKE peer and the key shared with it.
type Peer struct {
	Name    string
	Address netip.Addr
	Key     string
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// quote writes s as a YAML (and JSON) double-quoted string.
	"quote": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
	// float writes a number the way YAML reads it back as a float.
	"float": func(f float64) string {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	},
	"join": strings.Join,
	// indent prefixes every line of s with n spaces, for a YAML block
	// scalar (`pem: |`); a final newline is dropped, so that the template
	// says where lines end.
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = pad + l
			}
		}
		return strings.Join(lines, "\n")
	},
	// orAny is a selector's text, "any" when empty.
	"orAny": func(s string) string {
		if s == "" {
			return "any"
		}
		return s
	},
}

// Render renders the config of node, playing role, in scenario s. It
// refuses, with an error saying why, a scenario the implementation cannot
// run as stated (a timer scale it does not offer or below its floor, an
// interop profile, rekey transport or acknowledgement mode it lacks, a
// lifetime under its minimum, a key server of a group with COOP without
// the coop capability), so that a lab never runs with a setting silently
// dropped.
func (im *Impl) Render(role Role, s *scenario.Scenario, node string) ([]byte, error) {
	d, err := im.data(role, s, node)
	if err != nil {
		return nil, err
	}
	t, ok := im.templates[role]
	if !ok {
		return nil, fmt.Errorf("%s: no config template for role %s", im.Name, role)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", im.Name, role, node, err)
	}
	return b.Bytes(), nil
}

func (im *Impl) data(role Role, s *scenario.Scenario, node string) (*Data, error) {
	fail := func(format string, args ...any) (*Data, error) {
		return nil, fmt.Errorf("%s: %s %s: %s", im.Name, role, node, fmt.Sprintf(format, args...))
	}
	if !im.Plays(role) {
		return fail("the implementation does not play role %s", role)
	}
	if err := s.Validate(); err != nil {
		return fail("invalid scenario: %v", err)
	}
	d := &Data{Impl: im.Name, Role: role, Node: node, Scenario: s}
	if im.Caps.KeyLog != nil {
		d.KeyLog = im.Caps.KeyLog.Path
	}
	switch role {
	case KS, COOPKS:
		ks, ok := s.KS(node)
		if !ok {
			return fail("not a key server of the scenario")
		}
		d.KS, d.Self = &ks, ks.Address
		for _, gm := range s.GroupMembers {
			for _, k := range s.KSListOf(gm) {
				if k.Name == node {
					key, _ := s.KeyFor(node, gm.Name)
					d.Peers = append(d.Peers, Peer{Name: gm.Name, Address: gm.Address, Key: key})
				}
			}
		}
		d.Keepalive, d.Priority, d.GDOIVersion = s.KSKeepalive(), ks.Priority, ks.GDOIVersion
		d.Clock = ks.Clock
		if s.HasCOOP() {
			for _, k := range s.KSsByOrder() {
				if k.Name != node {
					d.COOPPeers = append(d.COOPPeers, k.Address)
					d.Peers = append(d.Peers, Peer{Name: k.Name, Address: k.Address, Key: s.COOPKey()})
				}
			}
		}
	case GM:
		gm, ok := s.GM(node)
		if !ok {
			return fail("not a group member of the scenario")
		}
		d.GM, d.Self = &gm, gm.Address
		d.KSList = s.KSListOf(gm)
		for _, k := range d.KSList {
			key, _ := s.GMKeyFor(k.Name, node)
			d.Peers = append(d.Peers, Peer{Name: k.Name, Address: k.Address, Key: key})
		}
		d.Keepalive, d.GDOIVersion = s.IKE.Keepalive, gm.GDOIVersion
		d.Clock = gm.Clock
		if gm.FailClose != nil && !im.Offers(FailClose) {
			return fail("fail-close: the implementation does not offer %s", FailClose)
		}
		if gm.DFBit != "" && !im.Offers(DFBit) {
			return fail("df_bit %s: the implementation does not offer %s", gm.DFBit, DFBit)
		}
		if gm.TCPMSS != 0 && !im.Offers(TCPMSS) {
			return fail("tcp_mss %d: the implementation does not offer %s", gm.TCPMSS, TCPMSS)
		}
		if len(gm.MulticastLAN) > 0 && !im.Offers(MulticastData) {
			return fail("multicast_lan %v: the implementation does not offer %s", gm.MulticastLAN, MulticastData)
		}
		if gm.Passive && !im.Offers(SADirection) {
			return fail("passive SA mode: the implementation does not offer %s", SADirection)
		}
	}
	if d.GDOIVersion != "" && !im.Offers(GDOIVersions) {
		return fail("GDOI version %s: the implementation does not offer %s", d.GDOIVersion, GDOIVersions)
	}
	if c := d.Clock; c != nil && !im.Offers(ClockSkew) {
		return fail("clock offset %q drift %v ppm: the implementation does not offer %s", c.Offset, c.DriftPPM, ClockSkew)
	}
	if s.TimerScale != 1 {
		ts := im.Caps.TimerScale
		if ts == nil {
			return fail("timer scale %v: the implementation does not offer %s", s.TimerScale, TimerScale)
		}
		if s.TimerScale < ts.Floor {
			return fail("timer scale %v is below the implementation's floor %v", s.TimerScale, ts.Floor)
		}
	}
	for i, g := range s.Groups {
		if !im.OffersProfile(g.InteropProfile) {
			return fail("groups[%d]: interop profile %q is not among the implementation's (rfc, %s)", i, g.InteropProfile, strings.Join(im.Caps.InteropProfiles, ", "))
		}
		if g.Rekey.Transport == "unicast" && !im.Offers(UnicastRekey) {
			return fail("groups[%d]: unicast rekeys: the implementation does not offer %s", i, UnicastRekey)
		}
		if g.Rekey.Transport == "multicast" && !im.Offers(MulticastRekey) {
			return fail("groups[%d]: multicast rekeys: the implementation does not offer %s", i, MulticastRekey)
		}
		if a := g.Rekey.Acks; a != scenario.AcksNone && !containsStr(im.Caps.Acks, a) {
			return fail("groups[%d]: acknowledgements %s: the implementation does not offer them (acks: [%s])", i, a, strings.Join(im.Caps.Acks, ", "))
		}
		// A GM takes part in a COOP lab like in any other (it registers to
		// the KSs of its list), so only a key server needs the capability.
		if g.COOP != nil && role != GM && !im.Offers(COOP) {
			return fail("groups[%d]: cooperative key servers: the implementation does not offer %s", i, COOP)
		}
		if g.ReceiveOnly && role != GM && !im.Offers(SADirection) {
			return fail("groups[%d]: receive-only TEKs: the implementation does not offer %s", i, SADirection)
		}
		if g.Rekey.KEKAtExpiry && role != GM && !im.Offers(KEKAtExpiry) {
			return fail("groups[%d]: a KS of old (KEK rekey at expiry): the implementation does not offer %s", i, KEKAtExpiry)
		}
		if g.Rekey.Retransmit.Periodic && role != GM && !im.Offers(Reminders) {
			return fail("groups[%d]: periodic reminder rekeys: the implementation does not offer %s", i, Reminders)
		}
		if m := im.Minimums.TEKLifetime; g.TEKLifetime < m {
			return fail("groups[%d]: TEK lifetime %d s is below the implementation's minimum %d s", i, g.TEKLifetime, m)
		}
		if m := im.Minimums.KEKLifetime; g.KEKLifetime < m {
			return fail("groups[%d]: KEK lifetime %d s is below the implementation's minimum %d s", i, g.KEKLifetime, m)
		}
	}
	return d, nil
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
