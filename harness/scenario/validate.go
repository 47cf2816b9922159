package scenario

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/getlab/getlab/gateway/wire/gdoi"
)

var (
	ikeEncryptions = []string{"aes128", "aes192", "aes256", "3des"}
	ikeHashes      = []string{"sha1", "sha256", "sha384", "sha512"}
	// ikeDHGroups are the IKEv1 Diffie-Hellman groups an implementation
	// may accept (RFC 2409, RFC 3526, RFC 5903); which it does is its own
	// business.
	ikeDHGroups = []int{1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21}
	protocols   = map[string]bool{
		"ip": true, "icmp": true, "igmp": true, "tcp": true, "udp": true, "gre": true,
		"esp": true, "ah": true, "icmpv6": true, "eigrp": true, "ospf": true, "pim": true,
	}
	transports = []string{"unicast", "multicast"}
	acks       = []string{AcksSHA256, AcksSHA512, AcksNone}
	takeovers  = []string{TakeoverPreserveKeys, TakeoverNewTEK}
)

// maxCOOPKSs is the most key servers that cooperate in a group: the seeds
// allow up to eight.
const maxCOOPKSs = 8

// maxLifetime is the longest lifetime written as seconds in a 32-bit
// GDOI attribute.
const maxLifetime = math.MaxUint32

// Validate checks the scenario as a whole and returns one error per
// problem, joined, each naming the field ("groups[0].acl[2].source: ...").
func (s *Scenario) Validate() error {
	v := &validator{}
	if !(s.TimerScale > 0) || math.IsInf(s.TimerScale, 0) {
		v.errorf("timer_scale", "%v must be greater than 0 (1 is real time, 0.01 is 100 times faster)", s.TimerScale)
	}
	v.ike(&s.IKE)
	names := map[string]string{}
	addrs := map[netip.Addr]string{}
	node := func(p, name string, a netip.Addr) {
		switch {
		case name == "":
			v.errorf(p+".name", "missing (the topology node's name)")
		case names[name] != "":
			v.errorf(p+".name", "%q is also %s", name, names[name])
		default:
			names[name] = p
		}
		switch {
		case !a.IsValid():
			v.errorf(p+".address", "missing")
		case a.IsUnspecified() || a.IsMulticast():
			v.errorf(p+".address", "%s is not a unicast address", a)
		case addrs[a] != "":
			v.errorf(p+".address", "%s is also %s's", a, addrs[a])
		default:
			addrs[a] = p
		}
	}
	if len(s.KeyServers) == 0 {
		v.errorf("key_servers", "missing: a scenario needs at least one key server")
	}
	orders := map[int]string{}
	for i, k := range s.KeyServers {
		p := index("key_servers", i)
		node(p, k.Name, k.Address)
		switch {
		case k.Order < 1:
			v.errorf(p+".order", "%d: orders start at 1", k.Order)
		case orders[k.Order] != "":
			v.errorf(p+".order", "%d is also %s's", k.Order, orders[k.Order])
		default:
			orders[k.Order] = k.Name
		}
		if k.Priority < 0 || k.Priority > 255 {
			v.errorf(p+".priority", "%d is not a COOP priority 1 to 255 (0 leaves the implementation's default)", k.Priority)
		}
		v.gdoiVersion(p, k.GDOIVersion)
		v.clock(p, k.Clock)
	}
	for i, g := range s.GroupMembers {
		p := index("group_members", i)
		node(p, g.Name, g.Address)
		if g.RegistrationInterface == "" {
			v.errorf(p+".registration_interface", "missing (the interface toward the key servers, e.g. eth1)")
		}
		v.gdoiVersion(p, g.GDOIVersion)
		v.clock(p, g.Clock)
		if g.Proposal != nil {
			v.suite(p+".proposal", *g.Proposal)
		}
		for name, id := range g.GroupIDs {
			if !slices.ContainsFunc(s.Groups, func(gr Group) bool { return gr.Name == name }) {
				v.errorf(p+".group_ids."+name, "not a group of the scenario")
			}
			if id == 0 {
				v.errorf(p+".group_ids."+name, "0 is not a group identity")
			}
		}
		for j, e := range g.LocalACL {
			q := index(p+".local_acl", j)
			if e.Action != "deny" {
				v.errorf(q+".action", "%q: a GM's local ACL holds only deny entries (permits belong in the group's ACL)", e.Action)
			}
			if e.Transform != "" {
				v.errorf(q+".transform", "a deny entry makes no TEK, so it names no transform")
			}
			v.ace(q, e)
		}
		if fc := g.FailClose; fc != nil {
			v.failClose(p+".fail_close", fc)
		}
		switch g.DFBit {
		case "", "copy", "set", "clear":
		default:
			v.errorf(p+".df_bit", "%q: copy, set or clear", g.DFBit)
		}
		if g.TCPMSS != 0 && (g.TCPMSS < 500 || g.TCPMSS > 1460) {
			v.errorf(p+".tcp_mss", "%d: 0 (off) or 500-1460, the range of IOS \"ip tcp adjust-mss\"", g.TCPMSS)
		}
		for j, ifname := range g.MulticastLAN {
			if ifname == "" || ifname == g.RegistrationInterface {
				v.errorf(fmt.Sprintf("%s.multicast_lan[%d]", p, j), "%q: a LAN interface, not empty nor the registration interface", ifname)
			}
		}
		seen := map[string]bool{}
		for j, n := range g.KSList {
			if _, ok := s.KS(n); !ok {
				v.errorf(index(p+".ks_list", j), "%q is not a key server of the scenario", n)
			} else if seen[n] {
				v.errorf(index(p+".ks_list", j), "%q is listed twice", n)
			}
			seen[n] = true
		}
		for _, k := range s.KSListOf(g) {
			if _, ok := s.KeyFor(k.Name, g.Name); !ok {
				v.errorf(p, "no pre-shared key between %s and key server %s", g.Name, k.Name)
			}
		}
	}
	pairs := map[[2]string]bool{}
	for i, k := range s.PreSharedKeys {
		p := index("pre_shared_keys", i)
		if _, ok := s.GM(k.GM); !ok {
			v.errorf(p+".gm", "%q is not a group member of the scenario", k.GM)
		}
		if _, ok := s.KS(k.KS); k.KS != "" && !ok {
			v.errorf(p+".ks", "%q is not a key server of the scenario", k.KS)
		}
		if k.Key == "" {
			v.errorf(p+".key", "missing")
		}
		if pairs[[2]string{k.GM, k.KS}] {
			v.errorf(p, "a second key for gm %q and ks %q", k.GM, k.KS)
		}
		pairs[[2]string{k.GM, k.KS}] = true
	}
	if len(s.Groups) == 0 {
		v.errorf("groups", "missing: a scenario needs at least one group")
	}
	gnames := map[string]bool{}
	gids := map[uint32]bool{}
	for i := range s.Groups {
		g := &s.Groups[i]
		p := index("groups", i)
		if g.Name == "" {
			v.errorf(p+".name", "missing")
		} else if gnames[g.Name] {
			v.errorf(p+".name", "%q is another group's too", g.Name)
		}
		gnames[g.Name] = true
		if g.ID == 0 {
			v.errorf(p+".id", "missing (1 to 4294967295)")
		} else if gids[g.ID] {
			v.errorf(p+".id", "%d is another group's too", g.ID)
		}
		gids[g.ID] = true
		v.group(g, p)
		if g.COOP != nil {
			v.coop(p+".coop", g.COOP, len(s.KeyServers))
		}
	}
	// One pre-shared key per pair of key servers, whatever the group: an
	// IKE peer has one key.
	first := -1
	for i, g := range s.Groups {
		switch {
		case g.COOP == nil:
		case first < 0:
			first = i
		case g.COOP.PreSharedKey != s.Groups[first].COOP.PreSharedKey:
			v.errorf(index("groups", i)+".coop.pre_shared_key", "differs from groups[%d]'s: key servers share one pre-shared key per pair, whatever the group", first)
		}
	}
	return v.err()
}

// coop checks a group's COOP setup; kss is the number of key servers, who
// all cooperate in it.
func (v *validator) coop(p string, c *COOP, kss int) {
	switch {
	case kss < 2:
		v.errorf(p, "%d key server(s): cooperation needs at least 2", kss)
	case kss > maxCOOPKSs:
		v.errorf(p, "%d key servers: the seeds allow up to %d cooperating key servers", kss, maxCOOPKSs)
	}
	if c.Refresh < 1 || c.Refresh > 3600 {
		v.errorf(p+".refresh", "%d is not 1 to 3600 seconds", c.Refresh)
	}
	if c.Periodic < 1 || c.Periodic > 3600 {
		v.errorf(p+".periodic", "%d is not 1 to 3600 seconds", c.Periodic)
	} else if c.Periodic <= c.Refresh {
		v.errorf(p+".periodic", "%d s is not longer than refresh (%d s): a secondary would suspect a primary it has yet to hear from", c.Periodic, c.Refresh)
	}
	if c.Retransmit < 1 || c.Retransmit > 10 {
		v.errorf(p+".retransmit", "%d is out of range [1, 10]", c.Retransmit)
	}
	v.oneOf(p+".takeover", c.Takeover, takeovers)
	if c.PreSharedKey == "" {
		v.errorf(p+".pre_shared_key", "missing (the key every pair of key servers authenticates with)")
	}
	if c.SigningKeyPEM == "" {
		v.errorf(p+".signing_key_pem", "missing (the group's RSA rekey key in PEM, shared by every key server)")
	} else if _, err := c.SigningKey(); err != nil {
		v.errorf(p+".signing_key_pem", "%v", err)
	}
}

func (v *validator) ike(ike *IKE) {
	p := "ike"
	v.oneOf(p+".encryption", ike.Encryption, ikeEncryptions)
	v.oneOf(p+".hash", ike.Hash, ikeHashes)
	if !slices.Contains(ikeDHGroups, ike.DHGroup) {
		v.errorf(p+".dh_group", "%d is not an IKEv1 Diffie-Hellman group (%v)", ike.DHGroup, ikeDHGroups)
	}
	v.lifetime(p+".lifetime", ike.Lifetime)
	v.lifetime(p+".ks_lifetime", ike.KSLifetime)
	if ike.Lifetime > ike.KSLifetime && ike.KSLifetime > 0 {
		v.errorf(p+".lifetime", "%d s is longer than the %d s a key server grants (ks_lifetime)", ike.Lifetime, ike.KSLifetime)
	}
	for i, x := range ike.KSAlsoAccepts {
		v.suite(index(p+".ks_also_accepts", i), x)
	}
	if k := ike.Keepalive; k != nil {
		if k.Interval < 10 || k.Interval > 3600 {
			v.errorf(p+".keepalive.interval", "%d is not 10 to 3600 seconds", k.Interval)
		}
		if k.Retry < 2 || k.Retry > 60 {
			v.errorf(p+".keepalive.retry", "%d is not 2 to 60 seconds", k.Retry)
		}
	}
}

func (v *validator) suite(q string, x IKESuite) {
	v.oneOf(q+".encryption", x.Encryption, ikeEncryptions)
	v.oneOf(q+".hash", x.Hash, ikeHashes)
	if !slices.Contains(ikeDHGroups, x.DHGroup) {
		v.errorf(q+".dh_group", "%d is not an IKEv1 Diffie-Hellman group (%v)", x.DHGroup, ikeDHGroups)
	}
}

func (v *validator) group(g *Group, p string) {
	if g.InteropProfile == "" {
		v.errorf(p+".interop_profile", "missing (\"rfc\" for RFC 6407 as written)")
	}
	v.lifetime(p+".tek_lifetime", g.TEKLifetime)
	v.lifetime(p+".kek_lifetime", g.KEKLifetime)
	if len(g.Transforms) == 0 {
		v.errorf(p+".transforms", "missing: list at least one ESP transform (e.g. aes256gcm16)")
	}
	for j, t := range g.Transforms {
		if t == "" {
			v.errorf(index(p+".transforms", j), "empty")
		} else if slices.Index(g.Transforms, t) != j {
			v.errorf(index(p+".transforms", j), "%q is listed twice", t)
		}
	}
	permits := 0
	if len(g.ACL) == 0 {
		v.errorf(p+".acl", "missing: the group needs an ACL with at least one permit")
	}
	for j, e := range g.ACL {
		q := index(p+".acl", j)
		switch e.Action {
		case "permit":
			permits++
			if e.Transform != "" && !slices.Contains(g.Transforms, e.Transform) {
				v.errorf(q+".transform", "%q is not one of the group's transforms %v", e.Transform, g.Transforms)
			}
		case "deny":
			if e.Transform != "" {
				v.errorf(q+".transform", "a deny entry makes no TEK, so it names no transform")
			}
		default:
			v.errorf(q+".action", "%q is not permit or deny", e.Action)
		}
		v.ace(q, e)
	}
	if len(g.ACL) > 0 && permits == 0 {
		v.errorf(p+".acl", "no permit entry: the group would protect nothing")
	}
	for j, a := range g.Authorization {
		if !a.IsValid() {
			v.errorf(index(p+".authorization", j), "not a prefix")
		}
	}
	r := &g.Rekey
	q := p + ".rekey"
	v.oneOf(q+".transport", r.Transport, transports)
	switch r.Transport {
	case "multicast":
		if !r.Address.IsMulticast() {
			v.errorf(q+".address", "%v: multicast rekeys need a multicast group address", r.Address)
		}
		if r.Port == 0 {
			v.errorf(q+".port", "missing: multicast rekeys need a destination port (848 is GDOI's)")
		}
	case "unicast":
		if r.Address.IsValid() || r.Port != 0 {
			v.errorf(q, "address and port are for multicast rekeys (unicast rekeys go to each GM's registration address)")
		}
	}
	v.oneOf(q+".acks", r.Acks, acks)
	if r.Retransmit.Count < 0 || r.Retransmit.Count > 10 {
		v.errorf(q+".retransmit.count", "%d is out of range [0, 10]", r.Retransmit.Count)
	}
	if r.Retransmit.Periodic && (r.Transport != "unicast" || r.Acks == AcksNone || r.Retransmit.Interval <= 0) {
		v.errorf(q+".retransmit.periodic", "reminders go every interval to the GMs that did not acknowledge: unicast rekeys with acknowledgements and an interval")
	}
	if r.Retransmit.Count > 0 && r.Retransmit.Interval <= 0 {
		v.errorf(q+".retransmit.interval", "%d: retransmissions need an interval of at least 1 s", r.Retransmit.Interval)
	}
}

// failClose checks a GM's fail-close mode: its ACL's entries, at least
// one of them a deny (the seeds call a fail-close ACL with no entries a
// misconfiguration, GM-51: every forwarded packet, routing and management
// included, would be dropped until registration).
func (v *validator) failClose(p string, fc *FailClose) {
	denies := 0
	for j, e := range fc.ACL {
		q := index(p+".acl", j)
		switch e.Action {
		case "deny":
			denies++
		case "permit":
		default:
			v.errorf(q+".action", "%q is not permit (drop) or deny (pass in clear)", e.Action)
		}
		if e.Transform != "" {
			v.errorf(q+".transform", "a fail-close entry makes no TEK, so it names no transform")
		}
		v.ace(q, e)
	}
	if denies == 0 {
		v.errorf(p+".acl", "no deny entry: until registration every forwarded packet would be dropped, routing and management included (GM-51 calls it a misconfiguration)")
	}
}

// ace checks one ACL entry's protocol, ports and selectors.
func (v *validator) ace(q string, e ACE) {
	portless := true
	switch {
	case protocols[e.Protocol]:
		portless = e.Protocol != "tcp" && e.Protocol != "udp"
	default:
		if n, err := strconv.ParseUint(e.Protocol, 10, 8); err != nil || n == 0 {
			v.errorf(q+".protocol", "%q is not a protocol name (ip, icmp, tcp, udp, esp, ospf, ...) or number 1-255", e.Protocol)
		} else {
			portless = n != 6 && n != 17
		}
	}
	if portless && (e.SourcePort != 0 || e.DestinationPort != 0) {
		v.errorf(q, "ports need protocol tcp or udp")
	}
	src := v.selector(q+".source", e.Source)
	dst := v.selector(q+".destination", e.Destination)
	if src.IsValid() && dst.IsValid() && src.Addr().Is4() != dst.Addr().Is4() {
		v.errorf(q, "source %s and destination %s are of different address families", src, dst)
	}
}

// selector checks "any", an address or a prefix; it returns the prefix
// (invalid for any).
func (v *validator) selector(p, s string) netip.Prefix {
	if s == "" || s == "any" {
		return netip.Prefix{}
	}
	if pr, err := netip.ParsePrefix(s); err == nil {
		if pr != pr.Masked() {
			v.errorf(p, "%s has host bits set (%s)", s, pr.Masked())
		}
		return pr
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	v.errorf(p, "%q is not \"any\", an address or a prefix", s)
	return netip.Prefix{}
}

type validator struct{ errs []error }

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) oneOf(path, s string, allowed []string) {
	if s == "" {
		v.errorf(path, "missing (one of %v)", allowed)
	} else if !slices.Contains(allowed, s) {
		v.errorf(path, "%q is not one of %v", s, allowed)
	}
}

func (v *validator) lifetime(path string, secs int) {
	if secs <= 0 || secs > maxLifetime {
		v.errorf(path, "%d is not a lifetime in seconds (1 to %d)", secs, uint64(maxLifetime))
	}
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func index(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

// clock checks a staged clock skew: an offset that is a Go duration, and
// a drift under a million parts per million, at which the node's clock
// would stand still (or, beyond, run backwards) and no deadline on it
// would come.
func (v *validator) clock(p string, c *ClockSkew) {
	if c == nil {
		return
	}
	if c.Offset != "" {
		if _, err := time.ParseDuration(c.Offset); err != nil {
			v.errorf(p+".clock.offset", "%q is not a Go duration (\"1h\", \"-90s\")", c.Offset)
		}
	}
	if !(math.Abs(c.DriftPPM) < 1e6) {
		v.errorf(p+".clock.drift_ppm", "%v: the drift must be above -1000000 and below 1000000 ppm", c.DriftPPM)
	}
}

// gdoiVersion checks a staged GDOI version: empty, or major.minor.mini.
func (v *validator) gdoiVersion(p, s string) {
	if s == "" {
		return
	}
	if _, err := gdoi.ParseVersion(s); err != nil {
		v.errorf(p+".gdoi_version", "%v", err)
	}
}
