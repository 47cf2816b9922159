// Package scenario is the bench's neutral model of a GETVPN lab: the
// groups, key servers, group members, keys, ACL, lifetimes and rekey
// transport a spec needs, written once and rendered into each
// implementation's own configuration by harness/impl (DESIGN.md "Interop").
//
// It knows no implementation: nothing here is getvpnd's configuration
// (the bench does not import the daemon's config code), and every value is
// written the way the protocol or the seed documents name it. Durations are
// whole protocol seconds, as the seeds write lifetimes; TimerScale says how
// fast an implementation offering the timer-scale capability runs them.
package scenario

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/getlab/getlab/harness/strictyaml"
)

// Scenario is one lab's GDOI setup.
type Scenario struct {
	// Groups are the GDOI groups. Every key server serves every group and
	// every group member registers to every group.
	Groups        []Group       `yaml:"groups"`
	KeyServers    []KeyServer   `yaml:"key_servers"`
	GroupMembers  []GroupMember `yaml:"group_members"`
	PreSharedKeys []PSK         `yaml:"pre_shared_keys"`
	IKE           IKE           `yaml:"ike"`
	// TimerScale multiplies every protocol timer of an implementation that
	// offers timer-scale (1 is real time, 0.01 runs 100 times faster); the
	// values on the wire stay in protocol time.
	TimerScale float64 `yaml:"timer_scale"`
}

// Group is one GDOI group and the policy its key servers serve.
type Group struct {
	Name string `yaml:"name"`
	// ID is the group identity number (1 to 2^32-1).
	ID uint32 `yaml:"id"`
	// InteropProfile names the wire variants the group speaks: "rfc"
	// (RFC 6407 as written) or another profile an implementation lists in
	// its interop-profiles capability (e.g. "gdoid").
	InteropProfile string `yaml:"interop_profile"`
	// TEKLifetime and KEKLifetime are in protocol seconds.
	TEKLifetime int `yaml:"tek_lifetime"`
	KEKLifetime int `yaml:"kek_lifetime"`
	// Transforms are the ESP transforms of the group's TEKs ("aes256gcm16",
	// "aes128-sha1", ...): a permit entry naming none takes the first.
	Transforms []string `yaml:"transforms"`
	// ACL is the traffic policy the KSs download, in order.
	ACL []ACE `yaml:"acl"`
	// Authorization lists the prefixes of the GM identities allowed to
	// register; empty allows every GM that authenticates.
	Authorization []netip.Prefix `yaml:"authorization,omitempty"`
	// ReceiveOnly has the key servers hand out the group's TEKs
	// receiver-only (SA_DIRECTION 2; the seeds' "sa receive-only",
	// GM-62): every GM then accepts ciphertext and clear and sends
	// matching traffic in clear, the first step of a migration. A key
	// server renders it only with the sa-direction capability.
	ReceiveOnly bool  `yaml:"receive_only,omitempty"`
	Rekey       Rekey `yaml:"rekey"`
	// COOP, when set, has every key server of the scenario cooperate in
	// this group: they elect a primary by Priority, the primary alone
	// makes keys and rekeys, and a secondary takes over when it goes
	// silent. nil: the key servers serve the group independently, each
	// with keys of its own.
	COOP *COOP `yaml:"coop,omitempty"`
}

// COOP is a group's cooperative key server setup, in protocol seconds as
// the seeds write the COOP timers.
type COOP struct {
	// Refresh is how often the primary announces itself and its keys
	// (the seeds' 20 s).
	Refresh int `yaml:"refresh"`
	// Periodic is how often a secondary announces itself (the seeds'
	// 30 s); it must be longer than Refresh, so that a secondary hears
	// the primary before it suspects it.
	Periodic int `yaml:"periodic"`
	// Retransmit is how many reply-request rounds a secondary sends a
	// silent primary before it elects a new one (the seeds' 2).
	Retransmit int `yaml:"retransmit"`
	// Takeover is what a new primary's first rekey carries:
	// TakeoverPreserveKeys (the keys it synced from the old primary) or
	// TakeoverNewTEK (a fresh TEK).
	Takeover string `yaml:"takeover"`
	// PreSharedKey is the IKE pre-shared key every pair of key servers
	// authenticates with (their COOP channel is IKE-protected like a
	// GM's registration).
	PreSharedKey string `yaml:"pre_shared_key"`
	// SigningKeyPEM is the group's rekey signing key, an RSA private key
	// in PEM: every KS of the group signs rekeys with it, so that a GM
	// verifies a new primary's rekeys with the public key it registered
	// with.
	SigningKeyPEM string `yaml:"signing_key_pem"`
}

// Values of COOP.Takeover.
const (
	TakeoverPreserveKeys = "preserve-keys"
	TakeoverNewTEK       = "new-tek"
)

// NewCOOP returns a COOP setup with the seeds' timers (refresh 20 s,
// periodic 30 s, two reply-request rounds), keys preserved across a
// takeover, a random pre-shared key between the key servers and a fresh
// 2048-bit RSA signing key (PKCS #1 PEM): fresh keys, so that no two labs,
// and no lab and a user's network, share a secret.
func NewCOOP() (*COOP, error) {
	psk := make([]byte, 16)
	if _, err := rand.Read(psk); err != nil {
		return nil, fmt.Errorf("scenario: coop pre-shared key: %w", err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("scenario: coop signing key: %w", err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return &COOP{
		Refresh:       20,
		Periodic:      30,
		Retransmit:    2,
		Takeover:      TakeoverPreserveKeys,
		PreSharedKey:  "coop-" + hex.EncodeToString(psk),
		SigningKeyPEM: string(key),
	}, nil
}

// ACE is one entry of a group's ACL.
type ACE struct {
	Action string `yaml:"action"` // permit or deny
	// Protocol is a name (ip, icmp, tcp, udp, esp, ospf, ...) or a number;
	// "ip" matches every protocol.
	Protocol string `yaml:"protocol"`
	// Source and Destination are "any", an address or a prefix.
	Source      string `yaml:"source,omitempty"`
	Destination string `yaml:"destination,omitempty"`
	// SourcePort and DestinationPort (tcp and udp only) are one port each,
	// 0 for any: a downloaded entry carries a single port.
	SourcePort      uint16 `yaml:"source_port,omitempty"`
	DestinationPort uint16 `yaml:"destination_port,omitempty"`
	// Transform is the permit entry's own TEK transform, one of the
	// group's Transforms; "" takes the group's first.
	Transform string `yaml:"transform,omitempty"`
}

// Rekey is how the key servers push rekeys (GROUPKEY-PUSH).
type Rekey struct {
	// Transport is "unicast" or "multicast".
	Transport string `yaml:"transport"`
	// Address and Port are the multicast destination (multicast only).
	Address netip.Addr `yaml:"address,omitempty"`
	Port    uint16     `yaml:"port,omitempty"`
	// Retransmit is how often a PUSH is sent again.
	Retransmit Retransmit `yaml:"retransmit"`
	// Acks is how GMs acknowledge PUSHes: "rfc8263-sha256",
	// "rfc8263-sha512" or "none".
	Acks string `yaml:"acks"`
	// KEKAtExpiry stages the key servers as ones of old that send the KEK
	// rekey only at the KEK's expiry, not 200 s ahead (S0 §3.6.6.3,
	// GM-86; capability kek-at-expiry).
	KEKAtExpiry bool `yaml:"kek_at_expiry,omitempty"`
}

// Retransmit is a rekey's retransmission schedule.
type Retransmit struct {
	Interval int `yaml:"interval"` // protocol seconds between copies
	Count    int `yaml:"count"`    // copies after the first (0-10)
	// Periodic goes on after the copies: a reminder every Interval to the
	// GMs that have not acknowledged, until they do or the next scheduled
	// rekey (the seeds' "rekey retransmit N periodic", RK-31; capability
	// reminders; unicast with acknowledgements).
	Periodic bool `yaml:"periodic,omitempty"`
}

// Values of Rekey.Acks.
const (
	AcksSHA256 = "rfc8263-sha256"
	AcksSHA512 = "rfc8263-sha512"
	AcksNone   = "none"
)

// KeyServer is one key server node.
type KeyServer struct {
	// Name is the topology node's name.
	Name string `yaml:"name"`
	// Address is its GDOI identity and the address it listens on.
	Address netip.Addr `yaml:"address"`
	// Order is its rank among the key servers, 1 first: the preference of
	// a GM whose KS list is left out.
	Order int `yaml:"order"`
	// Priority is its COOP local priority, 1 to 255, the highest elected
	// primary; 0 leaves it unset (the implementation's default, 1 for
	// getvpnd as for IOS), so that a spec can state an election decided
	// by addresses alone.
	Priority int `yaml:"priority,omitempty"`
	// GDOIVersion, when set, stages this key server at another GDOI
	// version ("1.0.3"), announcing no later features (capability
	// gdoi-versions); empty leaves the implementation's own.
	GDOIVersion string `yaml:"gdoi_version,omitempty"`
	// Clock, when set, stages this key server with a wrong clock
	// (capability clock-skew): one set an hour ahead, or running fast.
	Clock *ClockSkew `yaml:"clock,omitempty"`
}

// GroupMember is one group member node.
type GroupMember struct {
	Name    string     `yaml:"name"`
	Address netip.Addr `yaml:"address"`
	// RegistrationInterface is the interface it registers through (and
	// its data plane's WAN side).
	RegistrationInterface string `yaml:"registration_interface"`
	// KSList names the key servers it registers to, first preferred;
	// empty means every key server by Order.
	KSList []string `yaml:"ks_list,omitempty"`
	// Proposal is the phase-1 proposal this GM makes when it is not
	// IKE's: a GM configured otherwise, which the key servers accept only
	// if IKE.KSAlsoAccepts lists it.
	Proposal *IKESuite `yaml:"proposal,omitempty"`
	// GroupIDs maps a group's name to the identity this GM asks for in
	// it when that is not the group's own: a GM configured for a group
	// the key servers do not serve.
	GroupIDs map[string]uint32 `yaml:"group_ids,omitempty"`
	// LocalACL are this GM's own deny entries, applied in every group
	// before the ACL its key servers download: traffic they match passes
	// in clear. A local deny also matches inbound clear traffic with
	// source and destination swapped, so the receiving GM of a flow needs
	// the mirror entry.
	LocalACL []ACE `yaml:"local_acl,omitempty"`
	// GDOIVersion, when set, stages this group member at another GDOI
	// version (see KeyServer.GDOIVersion).
	GDOIVersion string `yaml:"gdoi_version,omitempty"`
	// Clock, when set, stages this group member with a wrong clock
	// (capability clock-skew): what its lifetimes, rekey timers and
	// time-based anti-replay make of a clock that is off or drifts.
	Clock *ClockSkew `yaml:"clock,omitempty"`
	// Passive puts this GM's groups in passive SA mode (GM-64; S0 Table 5
	// as the seeds' C-09 settles it): it accepts ciphertext and clear and
	// encrypts matching traffic, whatever direction its key servers give
	// ("inbound optional"). Capability sa-direction.
	Passive bool `yaml:"passive,omitempty"`
	// FailClose, when set, is this GM's fail-close mode (GM-51,
	// capability fail-close).
	FailClose *FailClose `yaml:"fail_close,omitempty"`
	// DFBit, when set, is this GM's DF policy for the ESP it sends:
	// "copy" (the inner packet's, the seeds' default), "set" or "clear"
	// (DP-43; capability df-bit). A DF-set packet too big once encrypted
	// is refused with ICMP unless the policy clears DF, in which case it
	// is fragmented before encryption.
	DFBit string `yaml:"df_bit,omitempty"`
	// TCPMSS, when set, is the largest MSS a TCP SYN or SYN-ACK may
	// announce once this GM has encrypted or decrypted it: a larger MSS
	// option is lowered to it (DP-40, the seeds' "ip tcp adjust-mss 1360"
	// on the GM's LAN interface; capability tcp-mss), 500 to 1460 as IOS
	// takes it. Traffic the GM passes in clear keeps its MSS.
	TCPMSS int `yaml:"tcp_mss,omitempty"`
	// MulticastLAN, when set, are this GM's LAN interfaces whose IP
	// multicast it protects (DP-60: encrypted with the group SA, the
	// group kept as the outer destination so the core replicates it) and
	// to which it delivers the multicast it decrypts; capability
	// multicast-data.
	MulticastLAN []string `yaml:"multicast_lan,omitempty"`
}

// ClockSkew is a node's clock against the lab's: every node of a lab
// shares its host's clock, so skew between them is staged in the daemon
// (capability clock-skew), consistently for all it does — timers,
// lifetimes, the data plane's time. It is a node's wrong clock, not a
// clock the scenario's time is measured by: the bench still measures on
// the host's.
type ClockSkew struct {
	// Offset is a Go duration added to the node's clock from its start
	// ("1h" ahead, "-90s" behind); empty is none.
	Offset string `yaml:"offset,omitempty"`
	// DriftPPM is how fast the node's clock runs, in parts per million
	// of the real time elapsed (100: 0.36 s an hour fast; negative:
	// slow); its magnitude is below 1e6, so that the clock goes forwards.
	DriftPPM float64 `yaml:"drift_ppm,omitempty"`
}

// FailClose is a GM's fail-close mode (the seeds' "crypto map m gdoi
// fail-close", GM-51): while Activate is set, until every group has
// registered and installed keys, forwarded traffic both ways is dropped
// unless an entry of ACL denies it. The mode is removed once registered
// and armed again only by clearing the GM's registration; the GM's own
// GDOI traffic always passes (GM-52).
type FailClose struct {
	// Activate arms the mode ("activate"); a fail-close not activated
	// changes nothing.
	Activate bool `yaml:"activate"`
	// ACL is evaluated in order, with an implicit permit of everything at
	// its end: a deny entry passes the packet in clear, a permit entry
	// (and no match) drops it. It names no transform.
	ACL []ACE `yaml:"acl"`
}

// ProposalOf is the phase-1 proposal gm makes under ike.
func (gm GroupMember) ProposalOf(ike IKE) IKESuite {
	if gm.Proposal != nil {
		return *gm.Proposal
	}
	return IKESuite{Encryption: ike.Encryption, Hash: ike.Hash, DHGroup: ike.DHGroup}
}

// GroupID is the group identity gm asks for in g.
func (gm GroupMember) GroupID(g Group) uint32 {
	if id, ok := gm.GroupIDs[g.Name]; ok {
		return id
	}
	return g.ID
}

// PSK is the pre-shared key between a group member and a key server.
type PSK struct {
	GM string `yaml:"gm"`
	// KS names one key server; "" means every key server.
	KS  string `yaml:"ks,omitempty"`
	Key string `yaml:"key"`
	// GMKey is the key the group member is configured with when it is
	// not Key: a mismatched key, the misconfiguration a spec states to
	// see phase-1 authentication fail. "" means Key.
	GMKey string `yaml:"gm_key,omitempty"`
}

// IKE is the phase-1 (IKEv1 main mode, pre-shared keys) setup.
type IKE struct {
	// Encryption, Hash and DHGroup are the proposal the group members
	// make; every key server accepts it.
	Encryption string `yaml:"encryption"` // aes128, aes192, aes256 or 3des
	Hash       string `yaml:"hash"`       // sha1, sha256, sha384 or sha512
	DHGroup    int    `yaml:"dh_group"`
	// Lifetime is the phase-1 SA lifetime a GM proposes (the seeds
	// recommend 1200 s on a GM).
	Lifetime int `yaml:"lifetime"`
	// KSLifetime is the longest phase-1 SA lifetime a KS grants (the
	// seeds keep 86400 s on a KS, for COOP).
	KSLifetime int `yaml:"ks_lifetime"`
	// KSAlsoAccepts are further proposals the key servers accept after
	// the GMs' one, for GMs configured otherwise.
	KSAlsoAccepts []IKESuite `yaml:"ks_also_accepts,omitempty"`
	// KSWildcardKey, when set, is a pre-shared key the key servers hold
	// for every address besides the GMs' own ones (IOS: `crypto isakmp key
	// K address 0.0.0.0`): any source may then run main mode with it.
	KSWildcardKey string `yaml:"ks_wildcard_key,omitempty"`
	// Keepalive, when set, has the group members probe their key
	// servers with RFC 3706 dead peer detection (IOS: `crypto isakmp
	// keepalive`), and, in a scenario with COOP, the key servers each
	// other; nil: no DPD is configured between GM and KS, and COOP key
	// servers use COOPKeepalive (see KSKeepalive).
	Keepalive *Keepalive `yaml:"keepalive,omitempty"`
}

// Keepalive is periodic dead peer detection, in protocol seconds: an
// R-U-THERE every Interval, one every Retry while unanswered.
type Keepalive struct {
	Interval int `yaml:"interval"` // 10-3600 (S2 Table 29-2)
	Retry    int `yaml:"retry"`    // 2-60
}

// COOPKeepalive is the dead peer detection cooperating key servers run
// between themselves when the scenario states none: the seeds require DPD
// between COOP KSs (CO-03: `crypto isakmp keepalive 15 periodic`, retry
// at its 2 s default), so that a KS notices a dead peer's SA.
var COOPKeepalive = Keepalive{Interval: 15, Retry: 2}

// IKESuite is one phase-1 algorithm set.
type IKESuite struct {
	Encryption string `yaml:"encryption"`
	Hash       string `yaml:"hash"`
	DHGroup    int    `yaml:"dh_group"`
}

// Default is the scenario of topologies/basic.clab.yml and its configs
// (ks1.yaml, gm1.yaml, gm2.yaml): group GETVPN 1234 on ks1 at 192.0.2.1,
// gm1 and gm2 at 192.0.2.11 and .12 between sites 198.51.100.0/24 and
// 203.0.113.0/24, unicast rekeys with RFC 8263 acknowledgements, real time.
func Default() *Scenario {
	return &Scenario{
		Groups: []Group{{
			Name:           "GETVPN",
			ID:             1234,
			InteropProfile: "rfc",
			TEKLifetime:    3600,
			KEKLifetime:    86400,
			Transforms:     []string{"aes256gcm16"},
			ACL: []ACE{
				{Action: "deny", Protocol: "udp", DestinationPort: 848},
				{Action: "deny", Protocol: "udp", SourcePort: 500, DestinationPort: 500},
				{Action: "deny", Protocol: "ospf"},
				{Action: "permit", Protocol: "ip", Source: "198.51.100.0/24", Destination: "203.0.113.0/24"},
				{Action: "permit", Protocol: "ip", Source: "203.0.113.0/24", Destination: "198.51.100.0/24"},
			},
			Authorization: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
			Rekey: Rekey{
				Transport:  "unicast",
				Retransmit: Retransmit{Interval: 10, Count: 2},
				Acks:       AcksSHA256,
			},
		}},
		KeyServers: []KeyServer{{Name: "ks1", Address: netip.MustParseAddr("192.0.2.1"), Order: 1}},
		GroupMembers: []GroupMember{
			{Name: "gm1", Address: netip.MustParseAddr("192.0.2.11"), RegistrationInterface: "eth1", KSList: []string{"ks1"}},
			{Name: "gm2", Address: netip.MustParseAddr("192.0.2.12"), RegistrationInterface: "eth1", KSList: []string{"ks1"}},
		},
		PreSharedKeys: []PSK{{GM: "gm1", Key: "gm1-secret"}, {GM: "gm2", Key: "gm2-secret"}},
		IKE: IKE{
			Encryption: "aes256", Hash: "sha256", DHGroup: 14, Lifetime: 1200, KSLifetime: 86400,
			KSAlsoAccepts: []IKESuite{{Encryption: "aes128", Hash: "sha256", DHGroup: 19}},
		},
		TimerScale: 1,
	}
}

// RoutedRekeyGroup is the multicast group of Routed's rekeys, the one
// topologies/routed.clab.yml's routers carry from the key server.
var RoutedRekeyGroup = netip.MustParseAddr("239.192.0.1")

// Routed is Default on topologies/routed.clab.yml: the GMs on networks of
// their own behind the routers (gm1 192.0.2.17, gm2 192.0.2.49) and rekeys
// sent by multicast to RoutedRekeyGroup, port 848, two blind
// retransmissions 10 s apart, the group's address denied before the
// permits as the seeds advise (S2: a rekey must not be encrypted).
func Routed() *Scenario {
	s := Default()
	s.GroupMembers[0].Address = netip.MustParseAddr("192.0.2.17")
	s.GroupMembers[1].Address = netip.MustParseAddr("192.0.2.49")
	g := &s.Groups[0]
	g.Rekey = Rekey{Transport: "multicast", Address: RoutedRekeyGroup, Port: 848,
		Retransmit: Retransmit{Interval: 10, Count: 2}, Acks: AcksNone}
	g.ACL = slices.Insert(g.ACL, 1, ACE{Action: "deny", Protocol: "ip", Destination: RoutedRekeyGroup.String() + "/32"})
	return s
}

// SigningKey parses SigningKeyPEM, an RSA private key in PKCS #1 or
// PKCS #8, the forms a key server reads; a spec takes the public key from
// it to verify the rekeys on the wire.
func (c *COOP) SigningKey() (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode([]byte(c.SigningKeyPEM))
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s block is not an RSA private key (PKCS #1 or PKCS #8)", blk.Type)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s block holds a %T, not an RSA private key", blk.Type, k)
	}
	return rk, nil
}

// DefaultCOOP is the scenario of topologies/coop.clab.yml and its configs
// (coop-ks1.yaml ... coop-gm4.yaml): Default's group, with COOP among ks1,
// ks2 and ks3 at 192.0.2.1-.3 (priorities 100, 75, 50) and four GMs at
// 192.0.2.11-.14 listing them in that order. Its COOP pre-shared key and
// signing key are fresh (NewCOOP), not the topology configs' ones.
func DefaultCOOP() (*Scenario, error) {
	c, err := NewCOOP()
	if err != nil {
		return nil, err
	}
	return coopLab(c), nil
}

// coopLab is DefaultCOOP with c (tests reuse one generated key).
func coopLab(c *COOP) *Scenario {
	s := Default()
	s.Groups[0].COOP = c
	s.KeyServers = nil
	for i, prio := range []int{100, 75, 50} {
		s.KeyServers = append(s.KeyServers, KeyServer{
			Name:     fmt.Sprintf("ks%d", i+1),
			Address:  netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
			Order:    i + 1,
			Priority: prio,
		})
	}
	s.GroupMembers, s.PreSharedKeys = nil, nil
	for i := range 4 {
		name := fmt.Sprintf("gm%d", i+1)
		s.GroupMembers = append(s.GroupMembers, GroupMember{
			Name:                  name,
			Address:               netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)}),
			RegistrationInterface: "eth1",
			KSList:                []string{"ks1", "ks2", "ks3"},
		})
		s.PreSharedKeys = append(s.PreSharedKeys, PSK{GM: name, Key: name + "-secret"})
	}
	return s
}

// Load reads and validates a scenario file (strictly: unknown keys are
// errors).
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(data, filepath.Base(path))
}

// Parse decodes and validates a scenario; name is used in messages.
func Parse(data []byte, name string) (*Scenario, error) {
	var s Scenario
	if err := strictyaml.Decode(data, name, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// KS returns the key server named name.
func (s *Scenario) KS(name string) (KeyServer, bool) {
	i := slices.IndexFunc(s.KeyServers, func(k KeyServer) bool { return k.Name == name })
	if i < 0 {
		return KeyServer{}, false
	}
	return s.KeyServers[i], true
}

// GM returns the group member named name.
func (s *Scenario) GM(name string) (GroupMember, bool) {
	i := slices.IndexFunc(s.GroupMembers, func(g GroupMember) bool { return g.Name == name })
	if i < 0 {
		return GroupMember{}, false
	}
	return s.GroupMembers[i], true
}

// KSsByOrder returns the key servers, first Order first.
func (s *Scenario) KSsByOrder() []KeyServer {
	out := slices.Clone(s.KeyServers)
	slices.SortStableFunc(out, func(a, b KeyServer) int { return a.Order - b.Order })
	return out
}

// HasCOOP reports whether any group of the scenario has cooperating key
// servers.
func (s *Scenario) HasCOOP() bool {
	return slices.ContainsFunc(s.Groups, func(g Group) bool { return g.COOP != nil })
}

// COOPKey is the pre-shared key between the key servers, the first COOP
// group's (Validate makes every COOP group state the same one); "" without
// COOP.
func (s *Scenario) COOPKey() string {
	for _, g := range s.Groups {
		if g.COOP != nil {
			return g.COOP.PreSharedKey
		}
	}
	return ""
}

// KSKeepalive is the dead peer detection a key server sends: in a
// scenario with COOP, IKE.Keepalive, else COOPKeepalive; nil without COOP
// (a KS that cooperates with no one initiates no phase-1 SA to probe).
func (s *Scenario) KSKeepalive() *Keepalive {
	switch {
	case !s.HasCOOP():
		return nil
	case s.IKE.Keepalive != nil:
		k := *s.IKE.Keepalive
		return &k
	}
	k := COOPKeepalive
	return &k
}

// KSListOf returns the key servers gm registers to, in its order of
// preference (its KSList, else every KS by Order). Unknown names are
// left out; Validate reports them.
func (s *Scenario) KSListOf(gm GroupMember) []KeyServer {
	if len(gm.KSList) == 0 {
		return s.KSsByOrder()
	}
	var out []KeyServer
	for _, n := range gm.KSList {
		if k, ok := s.KS(n); ok {
			out = append(out, k)
		}
	}
	return out
}

// KeyFor returns the pre-shared key between key server ks and group
// member gm, as the key server has it: the pair's own entry, else gm's
// entry for every KS.
func (s *Scenario) KeyFor(ks, gm string) (string, bool) {
	k, ok := s.pskFor(ks, gm)
	return k.Key, ok
}

// GMKeyFor is KeyFor as the group member has it (GMKey where one is set).
func (s *Scenario) GMKeyFor(ks, gm string) (string, bool) {
	k, ok := s.pskFor(ks, gm)
	if k.GMKey != "" {
		return k.GMKey, ok
	}
	return k.Key, ok
}

func (s *Scenario) pskFor(ks, gm string) (PSK, bool) {
	var any PSK
	found := false
	for _, k := range s.PreSharedKeys {
		if k.GM != gm {
			continue
		}
		if k.KS == ks {
			return k, true
		}
		if k.KS == "" {
			any, found = k, true
		}
	}
	return any, found
}
