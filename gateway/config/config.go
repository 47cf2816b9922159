// Package config reads and validates the getvpnd configuration: one YAML file
// per daemon, playing one role (a key server, "ks", or a group member, "gm").
//
// Parsing is strict: an unknown key, a value of the wrong type or an invalid
// value is an error that names the file and the field path
// ("gm1.yaml: groups[0].ks_list[1]: "192.0.2.300" is not an IP address"), and
// every problem is reported at once (the errors are joined with errors.Join).
// Problems that do not stop the daemon but go against the seed documents'
// recommendations are returned by Config.Warnings.
//
// # Durations
//
// Every duration (lifetimes, retransmit interval) is written either as a YAML
// integer, a number of seconds as the seeds write them ("tek_lifetime: 7200"),
// or as a string in Go duration syntax ("tek_lifetime: 2h", "interval: 40s").
// Durations must be positive.
//
// # Defaults
//
// Parse fills in every field the file leaves out with the values in Defaults
// (taken from the seed documents; see defaults.go for the line references),
// so the returned Config is complete and shows what the daemon will use.
//
// # Time scale
//
// timers.scale multiplies every protocol timer: a timer of d protocol seconds
// fires after d × scale of wall-clock time (gateway/clock does the
// conversions). Scale 0.01 therefore makes the
// protocol run 100 times faster (a 3600 s TEK lifetime expires after 36 s of
// wall-clock time); scale 2 makes it run twice as slowly. The configured and
// on-the-wire values stay in protocol time: a KS with tek_lifetime 3600 still
// sends a lifetime of 3600 in its SA TEK payload, and its peers need the same
// scale for the lab to be consistent.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"gopkg.in/yaml.v3"
)

// Role is the part a daemon plays.
type Role string

// Roles.
const (
	RoleKS Role = "ks" // key server
	RoleGM Role = "gm" // group member
)

// Config is one daemon's configuration.
type Config struct {
	// Name is the file name the configuration was read from (for messages).
	Name string
	Role Role
	// Identity is the daemon's GDOI identity address: on a KS the source of
	// its rekeys (S0 "address ipv4", L2840-2855) and its COOP identity; on a
	// GM the address it registers with. Required on a KS; on a GM the zero
	// value means the address of the registration interface.
	Identity netip.Addr
	Listen   Listen
	// ControlSocket is the path of the control socket.
	ControlSocket string
	// KeyLog is the path of the key log file; "" writes none.
	KeyLog string
	// StateFile is where a KS keeps the state of the groups it serves
	// alone — keys, sequence numbers, members, a generated signing key —
	// so that its GMs keep taking its rekeys after it restarts (KS only;
	// default ks-state.json beside the control socket; "" keeps none).
	// Cooperating KSs take the state from their peers instead.
	StateFile string
	// PolicyChange is what a key server does when a reload changes a
	// group's policy (S0 §3.16.2; C-08): "triggered" (default) logs
	// POLICY_CHANGE and sends it with the next rekey, scheduled or
	// "getctl ks rekey" (KS-71); "immediate" is the old method of S0
	// Table 4 (RK-50): a rekey with the new policy at once.
	PolicyChange string
	// GDOI is the GDOI software version and features the daemon
	// announces (both roles).
	GDOI   GDOIVersion
	Log    Log
	Timers Timers
	IKE    IKE
	// DataPlane is the GM's ESP data plane (GM only).
	DataPlane DataPlane
	// Limits bound the KS's state and work per source (KS only).
	Limits Limits
	Groups []Group

	warnings []string
	// set holds the paths of the keys the file sets (see decoder.set).
	set map[string]bool
	// pos holds where they are in the file (see decoder.pos).
	pos positions
}

// Listen is where the daemon receives GDOI (and IKE) messages.
type Listen struct {
	// Address is the local address; the zero value listens on all addresses.
	Address netip.Addr
	Port    uint16
}

// Log settings.
type Log struct {
	Level  string // debug, info, warn or error
	Format string // text or json
	// File is the log file; "" logs to standard error.
	File string
	// RateLimit is how many events of one name are logged (and kept for
	// the control socket) per second, with a burst of twice that; the rest
	// are counted and reported by the next line of their name. 0: no limit.
	RateLimit int
}

// Timers holds the time scale.
type Timers struct {
	// Scale multiplies every protocol timer (> 0; 1 is real time, 0.01 is
	// 100 times faster).
	Scale float64
	// Clock skews the daemon's own clock (timers.clock), for the whole
	// daemon alike: roles, phase 1 and data plane. It is a bench hook to
	// stage skew between nodes that share the host's clock — a GM whose
	// clock runs fast, a KS set an hour ahead. What a skew may break is
	// what reads absolute time: the seeds' TBAR pseudotime is relative to
	// the group's first registration (DP-21), so an offset leaves it and
	// only drift moves it, while IP-D3P compares timestamps with each
	// GM's system clock (DP-30), which an offset does move.
	Clock ClockSkew
}

// ClockSkew is the daemon's clock against the host's: Offset added, and
// DriftPPM parts per million of the time elapsed since start (positive:
// the clock runs fast).
type ClockSkew struct {
	Offset   time.Duration
	DriftPPM float64
}

// Skewed reports whether the clock differs from the host's.
func (s ClockSkew) Skewed() bool { return s.Offset != 0 || s.DriftPPM != 0 }

// IKE is the IKEv1 phase-1 configuration.
type IKE struct {
	// Policies are the phase-1 proposals, in order of preference.
	Policies []IKEPolicy
	// AllowWeakDH allows the MODP Diffie-Hellman groups 2 and 5.
	AllowWeakDH bool
	// PreSharedKeys are the pre-shared keys by peer.
	PreSharedKeys []PSK
	// Keepalive is the dead peer detection this daemon sends.
	Keepalive Keepalive
}

// GDOIVersion is the GDOI version a daemon announces in main mode (and a
// KS in its COOP announcements): gdoi_version and gdoi_features. The
// default claims what getvpnd implements by the seeds' version table
// (PV-02): 1.0.3, whose features — policy-replace (1.0.2) and gm-removal
// (1.0.3) — it has, while 1.0.4 and later add what it lacks or the seeds
// do not name (1.0.5 cts-sgt, 1.0.11 ip-d3p); and the one later feature
// it has, the rekey acknowledgement (gdoi-interop-ack, RFC 8263). Another
// version stages an old (or new) GM or KS with getvpnd itself: its
// features default to those getvpnd implements up to that version.
type GDOIVersion struct {
	gdoi.Version
	Features []string
}

// Has reports whether the daemon claims feature f.
func (v GDOIVersion) Has(f string) bool { return slices.Contains(v.Features, f) }

// ImplementedFeatures are the seeds' GDOI features getvpnd implements:
// what gdoi_features may list.
var ImplementedFeatures = []string{"policy-replace", "gm-removal", "gdoi-interop-ack"}

// FeatureVersions are the seeds' features with the first GDOI version
// that has each (PV-02; gdoi-mib and ipv6-crypto-path carry no version
// in the seeds).
var FeatureVersions = map[string]gdoi.Version{
	"policy-replace":   {Major: 1, Minor: 0, Mini: 2},
	"gm-removal":       {Major: 1, Minor: 0, Mini: 3},
	"cts-sgt":          {Major: 1, Minor: 0, Mini: 5},
	"ip-d3p":           {Major: 1, Minor: 0, Mini: 11},
	"gdoi-interop-ack": {Major: 1, Minor: 0, Mini: 11},
}

// Keepalive is RFC 3706 dead peer detection as the daemon sends it on the
// phase-1 SAs it initiated (S2 Table 29-2 "Enable Keepalive"; S0
// "crypto isakmp keepalive 15 periodic", CO-03). A zero Interval is off:
// the daemon then only answers its peers' R-U-THEREs.
type Keepalive struct {
	// Interval: between R-U-THEREs (periodic), or how long the peer may be
	// silent before one (on demand); 10-3600 s.
	Interval time.Duration
	// Retry: between R-U-THEREs that had no answer; 2-60 s, default 2 s.
	// After five unanswered in a row the peer is dead.
	Retry time.Duration
	// Periodic sends every Interval whatever else the peer sends (the
	// seeds' recommendation for GET); otherwise only after Interval of
	// silence.
	Periodic bool
}

// IKEPolicy is one phase-1 proposal (S0 "crypto isakmp policy", L654-665).
type IKEPolicy struct {
	Encryption string // aes128, aes256 or 3des
	Hash       string // sha1, sha256, sha384 or sha512
	DHGroup    int    // 14, 19, 20 (2 and 5 with AllowWeakDH)
	Lifetime   time.Duration
}

// PSK is a pre-shared key for a peer address; Wildcard keys match any peer
// (S0 "crypto isakmp key ... address 0.0.0.0", discouraged at L674-689).
//
// A key authenticates the phase-1 identities it is bound to, and no
// other: the entry's address (for a wildcard key, the address the peer
// sends from) and the Identities listed.
type PSK struct {
	Peer     netip.Addr // zero when Wildcard
	Wildcard bool
	Key      string
	// Identities are further phase-1 identities (addresses, host names,
	// user@host) a peer using this key may claim.
	Identities []string
}

// KeyFor returns the pre-shared key for peer: the per-peer key if there is
// one, else the wildcard key.
func (ike *IKE) KeyFor(peer netip.Addr) (string, bool) {
	if k, ok := ike.KeyEntryFor(peer); ok {
		return k.Key, true
	}
	return "", false
}

// DataPlane configures a GM's data plane: the TUN devices and policy
// routing that put the GM in the forwarding path (DESIGN.md "Data plane on a
// GM").
type DataPlane struct {
	// Enabled runs the data plane (default true on a GM); false makes a
	// control-plane-only GM that registers but forwards nothing through
	// getvpnd.
	Enabled bool
	// DFBit is the outer header's DF policy: "copy" (default), "set" or
	// "clear" (IOS "crypto ipsec df-bit", S0 L5901).
	DFBit string
	// TCPMSS, when not 0, is the largest MSS a TCP SYN (or SYN-ACK) the GM
	// encrypts or decrypts may announce: a larger MSS option is lowered to
	// it, so that the segments of the connection fit the WAN MTU once
	// encrypted (IOS "ip tcp adjust-mss" on the LAN interface, DP-40).
	TCPMSS int
	// LocalDenyInbound is how a local deny entry matches clear inbound
	// traffic (GM-42): "ios" (default) with source and destination swapped
	// (a local deny C->D accepts D->C in clear), "iosxe" as written, or
	// "accept-both".
	LocalDenyInbound string
	// Queues is the number of TUN queues (one worker each) per direction;
	// 0 means one per CPU.
	Queues int
	// Table is the first of the three routing tables the data plane uses
	// (the rules take the same numbers as priorities, plus 8000).
	Table int
	// DaemonDown is what happens to the traffic the kernel forwards
	// through the GM while getvpnd is not running (stopped, crashed,
	// killed): "drop" (default) keeps blackhole routes and the rules in
	// place so that it is dropped; "pass" removes them on a clean stop,
	// and a crash leaves nothing that would stop the kernel from routing
	// it in clear by the main table.
	DaemonDown string
	// FailClose is the crypto map's fail-close mode (S0 §3.6.4, GM-51):
	// until every group has registered and installed keys, forwarded
	// traffic is dropped unless FailClose.ACL denies it (deny: pass in
	// clear). nil: fail-open, the seeds' default (GM-50).
	FailClose *FailClose
	// Multicast is the IP multicast the GM routes itself (DP-60).
	Multicast Multicast
}

// Multicast configures a GM's routing of protected IP multicast. The GM
// carries it itself, as a multicast router would, because the kernel
// forwards none into the data plane's TUNs (and may have no multicast
// routing at all): multicast from these LAN interfaces that a permit
// entry encrypts leaves the WAN as ESP to the same group, the group kept
// in the outer header so that the core replicates it; multicast ESP from
// the WAN that the GM decrypts goes out of each of them. Multicast no
// permit encrypts is not forwarded, in clear or otherwise.
type Multicast struct {
	// LAN names the interfaces ("eth2") whose multicast the GM routes;
	// never the registration interface. Empty: none (the default).
	LAN []string
}

// FailClose is "crypto map m gdoi fail-close": its ACL and whether it is
// activated.
type FailClose struct {
	// Activate arms the mode ("activate"); a configured but inactive
	// fail-close changes nothing, as on IOS.
	Activate bool
	// ACL is evaluated after every group's policy, with an implicit
	// "permit ip any any" at its end: a deny entry passes the packet in
	// clear, a permit (and no match) drops it. The GM's own GDOI traffic
	// never passes through it (GM-52).
	ACL []ACE
}

// SA direction modes of a GM's group (S0 §4.4, Table 5; GM-60…GM-63), as
// "show crypto gdoi" words them and "crypto gdoi gm ipsec direction" sets
// them.
const (
	// DirectionBoth is conformant: only ciphertext is accepted where the
	// policy permits, and matching traffic is encrypted.
	DirectionBoth = "both"
	// DirectionInboundOnly (receive-only): ciphertext and clear accepted,
	// matching traffic sent in clear.
	DirectionInboundOnly = "inbound-only"
	// DirectionInboundOptional (passive): ciphertext and clear accepted,
	// matching traffic encrypted.
	DirectionInboundOptional = "inbound-optional"
)

// Values of Config.PolicyChange.
const (
	PolicyChangeTriggered = "triggered"
	PolicyChangeImmediate = "immediate"
)

// Group is one GDOI group. On a KS it is the group policy the KS serves; on a
// GM it is a group the GM registers to. Fields are marked with the role that
// may set them.
type Group struct {
	// Name is the group name (both roles).
	Name string
	// ID is the group identity number (both roles; S0 "identity number
	// 1234", L958-1022).
	ID uint32
	// InteropProfile names the peer implementation's wire variants this
	// group speaks (both roles): "rfc" (default: RFC 6407 as getvpnd and
	// IOS write it), "gdoid" (Cisco's GDOI reference implementation as
	// configured out of the box on a little-endian host: group number and
	// TEK addresses in host byte order) or "gdoid-rfcwire" (gdoid
	// configured with byte-swapped values so that they travel in network
	// order). See gdoi.InteropByName for each profile's switches.
	InteropProfile string

	// KS only.

	// TEKLifetime and KEKLifetime are the key lifetimes.
	TEKLifetime time.Duration
	KEKLifetime time.Duration
	// Transforms are the ESP transforms the group's TEKs may use, named as
	// esp.ParseTransform reads them ("aes256gcm16", "aes128-sha1"). GDOI
	// negotiates no TEK transform: the KS makes one TEK per permit entry of
	// the ACL and dictates its transform, which every GM must support. A
	// permit entry may name its transform (ACE.Transform), which must be
	// one of these; an entry that names none takes the first. Left out,
	// the list is the default transform alone (aes128-sha1). A listed
	// transform no entry uses draws a warning, so that nothing configured
	// is silently ignored. See TransformOf.
	Transforms []esp.Transform
	// ACL is the traffic policy downloaded to every GM.
	ACL []ACE
	// DenyDownload sends the ACL's deny entries to GMs along with the
	// permits, as GETVPN key servers do (default true). GDOI has no
	// standard payload for them: they travel as private-use SATs
	// (gdoi.TEKProtoBypass), which a GM of another implementation may
	// reject; false leaves them out.
	DenyDownload bool
	// Authorization lists the GM identities allowed to register (addresses
	// and prefixes); empty allows every GM that passes IKE authentication.
	Authorization []netip.Prefix
	// ReceiveOnly is "sa receive-only" (S0 §4.4.4, GM-62): the TEKs go out
	// receiver-only (SA_DIRECTION 2), so every GM accepts ciphertext and
	// clear and sends clear — the first step of a migration.
	ReceiveOnly bool
	Rekey       Rekey
	// COOP, when set, makes this KS one of the group's cooperative key
	// servers (S0 §3.7 "server local / redundancy"); nil: it serves the
	// group alone.
	COOP *COOP

	// GM only.

	// KSList is the ordered list of key servers (first = preferred).
	KSList []netip.Addr
	// RegistrationInterface is the interface registrations and rekeys use,
	// and the data plane's WAN side; when empty, the interface of the route
	// to the first KS. Every group of a file names the same one: the daemon
	// has one GDOI socket and one WAN side (validation refuses another).
	RegistrationInterface string
	// LocalACL is the GM's local deny-only ACL, evaluated before the KS's.
	LocalACL []ACE
	// Passive is the GM's passive SA mode (S2 "Enable Passive SA Mode",
	// GM-64): ciphertext and clear are accepted and matching traffic is
	// encrypted whatever direction the KS gives (S0 Table 5, C-09).
	Passive bool
	// Jitter is the re-registration jitter model: "new" (S0 §3.6.5.2,
	// J = MAX(2% of T, 6 s), earlier only) or "legacy" (±6 s, §3.6.5.1).
	Jitter string
}

// TransformOf is the transform of the TEK a permit entry of the group's
// ACL makes: the entry's own, else the group's first.
func (g *Group) TransformOf(e ACE) esp.Transform {
	if e.NamesTransform() || len(g.Transforms) == 0 {
		return e.Transform
	}
	return g.Transforms[0]
}

// Rekey is the KS's rekey policy.
type Rekey struct {
	// Transport is "multicast" (the default, S0 L1033) or "unicast".
	Transport string
	// Address and Port are the multicast destination (multicast only).
	Address netip.Addr
	Port    uint16
	// RetransmitInterval and RetransmitCount set the rekey retransmissions.
	RetransmitInterval time.Duration
	RetransmitCount    int
	// RetransmitPeriodic ("rekey retransmit N periodic", RK-31) goes on
	// after the retransmissions: a reminder every RetransmitInterval to
	// the GMs that have not acknowledged, until they do or the next
	// scheduled rekey (unicast with acknowledgements only).
	RetransmitPeriodic bool
	// KEKAtExpiry stages a key server of before IOS 15.2(1)T, which sends
	// the KEK rekey at the KEK's expiry instead of 200 s and the
	// retransmissions ahead of it (S0 §3.6.6.3; GM-86, OP-14): its GMs
	// register twice per KEK lifetime. Off by default.
	KEKAtExpiry bool
	// Ack is whether and how GMs acknowledge rekeys (RFC 8263
	// KEK_ACK_REQUESTED): "rfc8263-sha256" (value 1, the unicast default),
	// "rfc8263-sha512" (value 3) or "none" (the multicast default).
	Ack string
	// SigningKey is the RSA key that signs rekeys.
	SigningKey SigningKey
}

// Values of Rekey.Ack.
const (
	AckSHA256 = "rfc8263-sha256"
	AckSHA512 = "rfc8263-sha512"
	AckNone   = "none"
)

// SigningKey is the KS's rekey-signing RSA key: read from File, given
// inline as PEM, or, when both are "", generated at start with Bits bits.
// Cooperative KSs must share one key (KS-23): a file or PEM, never a
// generated key.
type SigningKey struct {
	File string
	PEM  string
	Bits int
}

// COOP is a KS's part in its group's cooperative key servers (S0 §3.7;
// seed-features CO-01…CO-18).
type COOP struct {
	// Priority is the local priority (1-255, default 1): the highest
	// wins an election, the highest address breaks a tie (CO-11).
	Priority int
	// Peers are every other KS of the group (at most 7: eight KSs in
	// all, C-01).
	Peers []netip.Addr
	// Refresh is how often the primary announces to its peers (20 s,
	// CO-13); Periodic how long a secondary waits for the primary's
	// announcement before it asks every peer (30 s, CO-14); Retransmit
	// how many rounds of asking it makes, Periodic apart, before it
	// re-elects (2, CO-15). Together they set the failover time:
	// Periodic × (1 + Retransmit), 90 s by default (CO-16, C-05).
	Refresh    time.Duration
	Periodic   time.Duration
	Retransmit int
	// Takeover is what a new primary's first rekey carries (C-07):
	// TakeoverPreserveKeys (the current keys, newer IOS) or
	// TakeoverNewTEK (a new TEK generation, older IOS).
	Takeover string
}

// Values of COOP.Takeover.
const (
	TakeoverPreserveKeys = "preserve-keys"
	TakeoverNewTEK       = "new-tek"
)

// MaxCOOPPeers is the most peers a COOP KS may list: "up to eight KSs"
// (S0 §1.2.7, S2) in all, against §3.7.3.1's seven (C-01).
const MaxCOOPPeers = 7

// Warnings returns the problems found that do not stop the daemon, each
// naming the file and field.
func (c *Config) Warnings() []string { return c.warnings }

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, filepath.Base(path))
}

// Parse parses and validates a configuration; name is the file name used in
// messages. The error, if any, joins one error per problem found.
func Parse(data []byte, name string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	d := &decoder{pos: positions{}}
	c := &Config{Name: name, pos: d.pos}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, fmt.Errorf("%s: empty file", name)
		}
		root = root.Content[0]
	}
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: empty file", name)
	}
	if err := checkAliases(root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.decode(d, root)
	if len(d.errs) == 0 {
		c.applyDefaults()
		v := &validator{c: c}
		v.validate()
		d.errs = append(d.errs, v.errs...)
		c.warnings = v.warns
	}
	if len(d.errs) > 0 {
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = fmt.Errorf("%s: %s", name, e)
		}
		return nil, errors.Join(errs...)
	}
	for i, w := range c.warnings {
		c.warnings[i] = name + ": " + w
	}
	return c, nil
}

// checkAliases rejects YAML aliases and anchors: configs do not need them
// and they allow exponential documents.
func checkAliases(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return fmt.Errorf("line %d: YAML anchors and aliases are not supported", n.Line)
	}
	for _, c := range n.Content {
		if err := checkAliases(c); err != nil {
			return err
		}
	}
	return nil
}
