package config

import (
	"encoding/pem"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/wire/esp"
)

type validator struct {
	c     *Config
	errs  []string
	warns []string
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...)+v.c.pos.at(path))
}

func (v *validator) warnf(path, format string, args ...any) {
	v.warns = append(v.warns, path+": "+fmt.Sprintf(format, args...)+v.c.pos.at(path))
}

func (v *validator) validate() {
	c := v.c
	switch c.Role {
	case RoleKS, RoleGM:
	case "":
		v.errorf("role", "missing (ks or gm)")
		return
	default:
		v.errorf("role", "%q is not ks or gm", c.Role)
		return
	}
	if c.Role == RoleKS && !c.Identity.IsValid() {
		v.errorf("identity", "missing: a key server needs its address (the source of its rekeys)")
	}
	if c.Identity.IsValid() && !usableUnicast(c.Identity) {
		v.errorf("identity", "%s is not a unicast address", c.Identity)
	}
	if c.ControlSocket == "" {
		v.errorf("control_socket", "must not be empty")
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	if !(c.Timers.Scale > 0) {
		v.errorf("timers.scale", "%v must be greater than 0 (1 is real time, 0.01 is 100 times faster)", c.Timers.Scale)
	}
	if ppm := c.Timers.Clock.DriftPPM; !(math.Abs(ppm) < clock.MaxDriftPPM) {
		v.errorf("timers.clock.drift_ppm", "%v must be greater than -1000000 and less than 1000000 (parts per million: at -1000000 the clock would stand still)", ppm)
	}
	v.ike()
	v.advisePSKs()
	v.pskIdentities()
	v.limits()
	v.dataPlane()
	if len(c.Groups) == 0 {
		v.errorf("groups", "missing: at least one group is needed")
	}
	names := map[string]int{}
	ids := map[uint32]int{}
	for i := range c.Groups {
		g := &c.Groups[i]
		p := index("groups", i)
		if g.Name == "" {
			v.errorf(p+".name", "missing")
		} else if j, dup := names[g.Name]; dup {
			v.errorf(p+".name", "%q is also the name of groups[%d]", g.Name, j)
		} else {
			names[g.Name] = i
		}
		if g.ID == 0 {
			v.errorf(p+".id", "missing: the group identity number")
		} else if j, dup := ids[g.ID]; dup {
			v.errorf(p+".id", "%d is also the id of groups[%d]", g.ID, j)
		} else {
			ids[g.ID] = i
		}
		if !slices.Contains(InteropProfiles, g.InteropProfile) {
			v.errorf(p+".interop_profile", "%q is not one of %s", g.InteropProfile, strings.Join(InteropProfiles, ", "))
		}
		wrong, other := gmOnly, RoleGM
		if c.Role == RoleGM {
			wrong, other = ksOnly, RoleKS
		}
		for _, k := range wrong {
			if c.isSet(p + "." + k) {
				v.errorf(p+"."+k, "only valid for role %s (this file has role %s)", other, c.Role)
			}
		}
		if c.Role == RoleKS {
			v.ksGroup(g, p)
		} else {
			v.gmGroup(g, p)
		}
	}
	if c.Role == RoleKS && len(c.Groups) > 1 {
		for i, g := range c.Groups {
			if len(g.Authorization) == 0 {
				v.warnf(index("groups", i)+".authorization", "empty while the KS serves %d groups: any GM that passes IKE can join this group (S0 §3.5.12)", len(c.Groups))
			}
		}
	}
}

// InteropProfiles are the values of a group's interop_profile (the role
// profiles of package gdoi, gdoi.InteropByName).
var InteropProfiles = []string{"rfc", "gdoid", "gdoid-rfcwire"}

func usableUnicast(a netip.Addr) bool {
	return !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

var (
	ikeEncryptions = map[string]bool{"aes128": true, "aes256": true, "3des": true}
	ikeHashes      = map[string]bool{"sha1": true, "sha256": true, "sha384": true, "sha512": true}
)

// oneOf checks that the value at path is one of allowed.
func (v *validator) oneOf(path, value string, allowed ...string) {
	if slices.Contains(allowed, value) {
		return
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	v.errorf(path, "%q is not %s", value, list)
}

// onlyFor reports whether the file's role is role; if not, a section key
// set in the file is an error.
func (v *validator) onlyFor(role Role, key string) bool {
	if v.c.Role == role {
		return true
	}
	if v.c.isSet(key) {
		v.errorf(key, "only valid for role %s (this file has role %s)", role, v.c.Role)
	}
	return false
}

// gdoiVersion checks gdoi_features against what getvpnd implements and
// warns about a version whose number claims a feature the list does not
// (a peer may use it toward this daemon).
func (v *validator) gdoiVersion() {
	g := v.c.GDOI
	for i, f := range g.Features {
		if !slices.Contains(ImplementedFeatures, f) {
			v.errorf(index("gdoi_features", i), "%q is not a feature getvpnd implements (%s): a daemon never claims one it lacks", f, strings.Join(ImplementedFeatures, ", "))
		}
	}
	var implied []string
	for f, at := range FeatureVersions {
		if !g.Version.Less(at) && !slices.Contains(g.Features, f) {
			implied = append(implied, f)
		}
	}
	if len(implied) > 0 {
		slices.Sort(implied)
		v.warnf("gdoi_version", "%s is the version of %s (S0 Table 3), which gdoi_features leaves out: peers that go by the number may use them toward it", g, strings.Join(implied, ", "))
	}
}

func (v *validator) stateFile() {
	v.onlyFor(RoleKS, "state_file")
	if v.onlyFor(RoleKS, "policy_change") {
		v.oneOf("policy_change", v.c.PolicyChange, PolicyChangeTriggered, PolicyChangeImmediate)
	}
}

func (v *validator) dataPlane() {
	c := v.c
	if !v.onlyFor(RoleGM, "data_plane") {
		return
	}
	v.oneOf("data_plane.df_bit", c.DataPlane.DFBit, "copy", "set", "clear")
	// IOS's range for "ip tcp adjust-mss", not everything TCP could carry
	// (up to 65495): the seeds' configurations are IOS ones, and a value
	// IOS refuses must not mean something here. Above 1460 (a 1500-octet
	// MTU less the IP and TCP headers) the clamp could not keep encrypted
	// segments within a 1500-octet WAN anyway.
	if mss := c.DataPlane.TCPMSS; mss != 0 && (mss < 500 || mss > 1460) {
		v.errorf("data_plane.tcp_mss", "%d is not 0 (off) or within 500-1460 (IOS \"ip tcp adjust-mss\")", mss)
	}
	v.oneOf("data_plane.local_deny_inbound", c.DataPlane.LocalDenyInbound, "ios", "iosxe", "accept-both")
	v.oneOf("data_plane.daemon_down", c.DataPlane.DaemonDown, "drop", "pass")
	if fc := c.DataPlane.FailClose; fc != nil {
		if len(fc.ACL) > MaxACEs {
			v.errorf("data_plane.fail_close.acl", "%d entries, more than %d", len(fc.ACL), MaxACEs)
		}
		if !fc.Activate {
			v.warnf("data_plane.fail_close.activate", "false: fail-close is configured but not armed, so traffic passes in clear until the first registration (IOS needs \"activate\")")
		}
		if fc.Activate && !slices.ContainsFunc(fc.ACL, func(e ACE) bool { return !e.Permit }) {
			v.warnf("data_plane.fail_close.acl", "no deny entry: until registration every forwarded packet is dropped, routing and management included (S0 calls an empty fail-close ACL a misconfiguration)")
		}
		if !c.DataPlane.Enabled {
			v.errorf("data_plane.fail_close", "needs the data plane (data_plane.enabled)")
		}
	}
	v.multicast()
}

// multicast checks data_plane.multicast.lan: interface names the kernel
// would take, each once, none the registration interface (the WAN side,
// where the multicast goes encrypted).
func (v *validator) multicast() {
	c := v.c
	lans := c.DataPlane.Multicast.LAN
	if len(lans) > 0 && !c.DataPlane.Enabled {
		v.errorf("data_plane.multicast", "needs the data plane (data_plane.enabled)")
	}
	wan := ""
	if len(c.Groups) > 0 {
		wan = c.Groups[0].RegistrationInterface
	}
	for i, name := range lans {
		p := index("data_plane.multicast.lan", i)
		if reason := badInterfaceName(name); reason != "" {
			v.errorf(p, "%q is not an interface name: %s", name, reason)
			continue
		}
		if j := slices.Index(lans, name); j < i {
			v.errorf(p, "%q is listed twice (also data_plane.multicast.lan[%d])", name, j)
		}
		if name == wan {
			v.errorf(p, "%q is the registration interface, the WAN side: list the LAN interfaces whose multicast the GM encrypts", name)
		}
	}
}

// badInterfaceName says why the kernel would refuse name as a network
// interface's name (dev_valid_name), or "" when it would not.
func badInterfaceName(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > 15:
		return "longer than 15 octets"
	case name == "." || name == "..":
		return "a path element"
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return "contains '/', ':' or white space"
	case strings.ContainsRune(name, 0):
		return "contains a NUL"
	}
	return ""
}

func (v *validator) ike() {
	c := v.c
	for i, pol := range c.IKE.Policies {
		p := index("ike.policies", i)
		if !ikeEncryptions[pol.Encryption] {
			v.errorf(p+".encryption", "%q is not aes128, aes256 or 3des", pol.Encryption)
		}
		if !ikeHashes[pol.Hash] {
			v.errorf(p+".hash", "%q is not sha1, sha256, sha384 or sha512", pol.Hash)
		}
		switch pol.DHGroup {
		case 14, 19, 20:
		case 2, 5:
			if !c.IKE.AllowWeakDH {
				v.errorf(p+".dh_group", "group %d is weak; set ike.allow_weak_dh: true to use it", pol.DHGroup)
			} else {
				v.warnf(p+".dh_group", "group %d is weak (allowed by ike.allow_weak_dh)", pol.DHGroup)
			}
		default:
			v.errorf(p+".dh_group", "%d is not 14, 19 or 20", pol.DHGroup)
		}
		// Range 60-86400 s (S2 Table 29-1; seed-features C-18).
		if pol.Lifetime < 60*time.Second || pol.Lifetime > 86400*time.Second {
			v.errorf(p+".lifetime", "%v is out of range [60s, 86400s]", pol.Lifetime)
		} else if c.Role == RoleGM && (pol.Lifetime < 900*time.Second || pol.Lifetime > 1800*time.Second) {
			v.warnf(p+".lifetime", "%v: a GM's IKE lifetime should be 15-30 min, 1200 s recommended (S0 L2940-2946)", pol.Lifetime)
		} else if c.Role == RoleKS && pol.Lifetime < 86400*time.Second {
			v.warnf(p+".lifetime", "%v: keep the KS's IKE lifetime at the 24 h default for COOP (S0 L1966-1972)", pol.Lifetime)
		}
	}
	v.keepalive()
	v.stateFile()
	v.gdoiVersion()
	peers := map[netip.Addr]int{}
	wild := -1
	for i, k := range c.IKE.PreSharedKeys {
		p := index("ike.pre_shared_keys", i)
		if k.Key == "" {
			v.errorf(p+".key", "missing")
		}
		switch {
		case k.Wildcard:
			if wild >= 0 {
				v.errorf(p+".peer", "a second wildcard key (first at ike.pre_shared_keys[%d])", wild)
				continue
			}
			wild = i
			v.warnf(p+".peer", "a wildcard pre-shared key is discouraged; use per-peer keys (S0 L674-689)")
		case !k.Peer.IsValid():
			v.errorf(p+".peer", "missing (an address, or \"*\" for a wildcard key)")
		default:
			if j, dup := peers[k.Peer]; dup {
				v.errorf(p+".peer", "%s also has ike.pre_shared_keys[%d]", k.Peer, j)
			}
			peers[k.Peer] = i
		}
	}
}

// keepalive checks ike.keepalive against S2's ranges (Table 29-2, CO-03).
func (v *validator) keepalive() {
	ka := v.c.IKE.Keepalive
	if ka.Interval == 0 {
		return
	}
	if ka.Interval < 10*time.Second || ka.Interval > 3600*time.Second {
		v.errorf("ike.keepalive.interval", "%v is out of range [10s, 3600s]", ka.Interval)
	}
	if ka.Retry < 2*time.Second || ka.Retry > 60*time.Second {
		v.errorf("ike.keepalive.retry", "%v is out of range [2s, 60s]", ka.Retry)
	}
	if v.c.Role == RoleGM {
		v.warnf("ike.keepalive", "dead peer detection between GM and KS is not supported by the seeds (CO-03): the KS answers, but a KS that misses the R-U-THEREs is only marked dead here")
	}
}

func (v *validator) ksGroup(g *Group, p string) {
	c := v.c
	if c.isSet(p+".transforms") && len(g.Transforms) == 0 {
		v.errorf(p+".transforms", "empty: list at least one ESP transform, or leave the key out for the default")
	}
	// TEK: "should never be set below 900 seconds" (S0 L2049-2051).
	if g.TEKLifetime < 900*time.Second {
		v.warnf(p+".tek_lifetime", "%v is below 900 s, which S0 allows only in labs", g.TEKLifetime)
	}
	// KEK at least twice the TEK (S0 §3.5.7; seed-features KS-31).
	if g.KEKLifetime < 2*g.TEKLifetime {
		v.warnf(p+".kek_lifetime", "%v is less than twice the TEK lifetime %v", g.KEKLifetime, g.TEKLifetime)
	}
	if len(g.ACL) == 0 {
		v.errorf(p+".acl", "missing: the group needs a traffic ACL with at least one permit")
	} else if len(g.ACL) > MaxACEs {
		v.errorf(p+".acl", "%d entries, more than the %d a group may have (GDOI_ACL_NUM)", len(g.ACL), MaxACEs)
	} else {
		permits := 0
		for j, e := range g.ACL {
			for _, r := range []struct {
				name string
				r    PortRange
			}{{"source_port", e.SourcePort}, {"destination_port", e.DestinationPort}} {
				if r.r.Lo != r.r.Hi {
					v.errorf(index(p+".acl", j)+"."+r.name, "%s is a range: a downloaded entry carries one port (GDOI SA TEK identities have no ranges)", r.r)
				}
			}
			if !e.Permit {
				continue
			}
			permits++
			if e.NamesTransform() && !slices.Contains(g.Transforms, e.Transform) {
				v.errorf(index(p+".acl", j)+".transform", "%s is not in the group's transforms %s: list it there (left out, transforms is %s alone)",
					e.Transform, transformList(g.Transforms), Defaults.Transform)
			}
			if !hasMirror(g.ACL, e) {
				v.warnf(index(p+".acl", j), "asymmetric permit %q: the return traffic goes in clear unless the mirror entry %q is added (S0 §2.2.4)", e.String(), e.mirror().String())
			}
		}
		if permits == 0 {
			v.errorf(p+".acl", "no permit entry: the group would encrypt nothing")
		} else {
			v.unusedTransforms(g, p)
		}
	}
	for j, a := range g.Authorization {
		if a.Addr().IsMulticast() {
			v.errorf(index(p+".authorization", j), "%s is a multicast prefix", a)
		}
	}
	r := &g.Rekey
	rp := p + ".rekey"
	switch r.Transport {
	case "multicast":
		if !r.Address.IsValid() {
			v.errorf(rp+".address", "missing: multicast rekeys (the default transport) need a group address")
		} else if !r.Address.IsMulticast() {
			v.errorf(rp+".address", "%s is not a multicast address", r.Address)
		} else if !deniesDestination(g.ACL, r.Address) {
			v.warnf(p+".acl", "no deny entry for the multicast rekey address %s before the permits: rekeys could be encrypted (S2 troubleshooting)", r.Address)
		}
	case "unicast":
		if c.isSet(rp + ".address") {
			v.errorf(rp+".address", "only valid with transport multicast")
		}
		if c.isSet(rp + ".port") {
			v.errorf(rp+".port", "only valid with transport multicast (unicast rekeys go to the GM's registration port)")
		}
	default:
		v.errorf(rp+".transport", "%q is not multicast or unicast", r.Transport)
	}
	switch r.Ack {
	case AckSHA256, AckSHA512:
	case AckNone:
		if r.Transport == "unicast" {
			v.warnf(rp+".ack", "none with unicast rekeys: every rekey goes to every GM %d more times, and GMs that stopped answering are never deleted", r.RetransmitCount)
		}
	default:
		v.errorf(rp+".ack", "%q is not %s, %s or %s", r.Ack, AckSHA256, AckSHA512, AckNone)
	}
	// The KS rekeys at T - [MAX(10% T, 90 s) + retransmissions] (S0
	// §3.5.3, minus the per-GM term); getvpnd never rekeys before half the
	// lifetime, so a shorter lifetime shifts the rekey point.
	if lead := max(g.TEKLifetime/10, 90*time.Second) + time.Duration(r.RetransmitCount)*r.RetransmitInterval; lead > g.TEKLifetime/2 {
		v.warnf(p+".tek_lifetime", "%v leaves less than the rekey lead %v (10%% or 90 s, plus %d retransmissions of %v) after half its life: TEKs are rekeyed at half their lifetime instead",
			g.TEKLifetime, lead, r.RetransmitCount, r.RetransmitInterval)
	}
	if r.RetransmitPeriodic && (r.Transport != "unicast" || r.Ack == AckNone) {
		v.errorf(rp+".retransmit.periodic", "reminders go to the GMs that did not acknowledge: they need unicast rekeys with acknowledgements")
	}
	sk := r.SigningKey
	if n := btoi(sk.File != "") + btoi(sk.PEM != "") + btoi(c.isSet(rp+".signing_key.bits")); n > 1 {
		v.errorf(rp+".signing_key", "set one of file, pem or bits")
	}
	if sk.PEM != "" {
		if blk, _ := pem.Decode([]byte(sk.PEM)); blk == nil || !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			v.errorf(rp+".signing_key.pem", "holds no PEM private key")
		}
	}
	if sk.File == "" && sk.PEM == "" && sk.Bits < 2048 {
		v.warnf(rp+".signing_key.bits", "%d-bit RSA is accepted only for interop; use 2048 or more", sk.Bits)
	}
	if g.COOP != nil {
		v.coop(g, p)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// coop checks a group's COOP section: the peers (every other KS, each
// with a pre-shared key for the KS-to-KS phase 1), the timers and a
// signing key every KS can share.
func (v *validator) coop(g *Group, p string) {
	co, c := g.COOP, v.c
	cp := p + ".coop"
	switch {
	case len(co.Peers) == 0:
		v.errorf(cp+".peers", "missing: list every other key server of the group")
	case len(co.Peers) > MaxCOOPPeers:
		v.errorf(cp+".peers", "%d peers: at most %d (eight cooperative key servers in all, S0 §1.2.7)", len(co.Peers), MaxCOOPPeers)
	case len(co.Peers) > 3:
		v.warnf(cp+".peers", "%d cooperative key servers: more than four are seldom needed (S0 §1.2.7)", len(co.Peers)+1)
	}
	seen := map[netip.Addr]int{}
	for j, a := range co.Peers {
		jp := index(cp+".peers", j)
		switch {
		case !usableUnicast(a):
			v.errorf(jp, "%s is not a unicast address", a)
		case a == c.Identity:
			v.errorf(jp, "%s is this KS's own identity: list only the other key servers", a)
		}
		if k, dup := seen[a]; dup {
			v.errorf(jp, "%s is also peers[%d]", a, k)
		}
		seen[a] = j
		if _, ok := c.IKE.KeyEntryFor(a); !ok {
			v.errorf(jp, "no ike.pre_shared_keys entry for %s: cooperative key servers authenticate each other in phase 1", a)
		}
	}
	if co.Refresh <= 0 || co.Refresh > time.Hour {
		v.errorf(cp+".refresh", "%v is out of range (0, 1h]", co.Refresh)
	}
	if co.Periodic <= co.Refresh {
		v.errorf(cp+".periodic", "%v is not longer than refresh %v: the secondaries would re-elect between two announcements", co.Periodic, co.Refresh)
	}
	v.oneOf(cp+".takeover", co.Takeover, TakeoverPreserveKeys, TakeoverNewTEK)
	if g.Rekey.SigningKey.File == "" && g.Rekey.SigningKey.PEM == "" {
		v.errorf(p+".rekey.signing_key", "cooperative key servers share one rekey signing key (S0 §2.4, KS-23): give its file or pem; a generated key would differ on every KS")
	}
	if c.IKE.Keepalive.Interval == 0 {
		v.warnf("ike.keepalive", "not set on a cooperative key server: the seeds require periodic keepalives between key servers so that the primary tracks the secondaries (CO-03); without them a dead secondary is never marked dead")
	}
}

// unusedTransforms warns about each configured transform no permit entry
// of the group's ACL uses (explicitly or as the default), and about one
// listed twice: a KS never offers a GM a choice of TEK transforms, so such
// a transform is configuration that does nothing.
func (v *validator) unusedTransforms(g *Group, p string) {
	if !v.c.isSet(p + ".transforms") {
		return
	}
	used := map[esp.Transform]bool{}
	for _, e := range g.ACL {
		if e.Permit {
			used[g.TransformOf(e)] = true
		}
	}
	for k, t := range g.Transforms {
		if t.ID == esp.TransformAESGCM8 && used[t] {
			// A valid transform other GMs may run, so not an error; but a
			// getvpnd GM installs no SA for it and drops the traffic of
			// its permit entries (found by the mtu suite).
			v.warnf(index(p+".transforms", k), "%s: getvpnd's group members cannot run AES-GCM with an 8-octet ICV (Go's AES-GCM has no 8-octet tag) and drop the traffic of its permit entries", t)
		}
		switch {
		case slices.Index(g.Transforms, t) < k:
			v.warnf(index(p+".transforms", k), "%s is listed twice", t)
		case !used[t] && k == 0:
			v.warnf(index(p+".transforms", k), "%s is used by no permit entry: every one names its own transform (the first of transforms is the default for an entry that names none)", t)
		case !used[t]:
			v.warnf(index(p+".transforms", k), "%s is used by no permit entry: name it in an entry (transform: %s), or remove it (only the first of transforms is a default)", t, t)
		}
	}
}

func transformList(ts []esp.Transform) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// hasMirror reports whether acl permits the reverse of e (S0 §2.2.4: the
// KS ACL is installed the same way for both directions on every GM). The
// mirror may name another transform: the return traffic is then encrypted
// with another TEK, but encrypted.
func hasMirror(acl []ACE, e ACE) bool {
	m := e.mirror()
	for _, x := range acl {
		x.Transform = m.Transform
		if x.Permit && x == m {
			return true
		}
	}
	return false
}

// deniesDestination reports whether a deny entry covering traffic to dst
// (any protocol or UDP) comes before the first permit that covers it.
func deniesDestination(acl []ACE, dst netip.Addr) bool {
	for _, e := range acl {
		if e.Destination.IsValid() && !e.Destination.Contains(dst) {
			continue
		}
		if e.Protocol != 0 && e.Protocol != 17 {
			continue
		}
		if !e.Permit {
			return true
		}
		if e.Protocol == 0 || e.Protocol == 17 {
			return false
		}
	}
	return false
}

func (v *validator) gmGroup(g *Group, p string) {
	c := v.c
	// One GDOI socket and one data-plane WAN side serve every group, on
	// the first group's registration interface: another group naming
	// another would be ignored, so it is refused (one daemon per
	// registration interface).
	if first := c.Groups[0].RegistrationInterface; g != &c.Groups[0] && g.RegistrationInterface != first {
		v.errorf(p+".registration_interface", "%q differs from groups[0]'s %q: getvpnd registers every group from one interface; run one daemon per registration interface", g.RegistrationInterface, first)
	}
	if len(g.KSList) == 0 {
		v.errorf(p+".ks_list", "missing: a GM needs at least one key server (GM_INCOMPLETE_CFG)")
	}
	seen := map[netip.Addr]int{}
	for j, ks := range g.KSList {
		kp := index(p+".ks_list", j)
		if !usableUnicast(ks) {
			v.errorf(kp, "%s is not a unicast address", ks)
			continue
		}
		if k, dup := seen[ks]; dup {
			v.errorf(kp, "%s is listed twice (also ks_list[%d])", ks, k)
			continue
		}
		seen[ks] = j
		if ks == c.Identity {
			v.errorf(kp, "%s is this GM's own identity: a device cannot be KS and GM of a group (S0 L197-229)", ks)
		}
		if _, ok := c.IKE.KeyFor(ks); !ok {
			v.errorf(kp, "no pre-shared key for %s: add it to ike.pre_shared_keys", ks)
		}
	}
	for j, e := range g.LocalACL {
		if e.Permit {
			v.errorf(index(p+".local_acl", j)+".action", "permit is not allowed: a GM's local ACL holds only deny entries (IOS logs GM_ACL_PERMIT and drops the traffic); put permits in the KS's group ACL")
		}
	}
	if len(g.LocalACL) > MaxACEs {
		v.errorf(p+".local_acl", "%d entries, more than %d", len(g.LocalACL), MaxACEs)
	}
	v.oneOf(p+".jitter", g.Jitter, "new", "legacy")
}
