package scenario

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDefaultIsValid(t *testing.T) {
	s := Default()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if k, ok := s.KeyFor("ks1", "gm2"); !ok || k != "gm2-secret" {
		t.Errorf("KeyFor(ks1, gm2) = %q, %v", k, ok)
	}
	gm, _ := s.GM("gm1")
	if l := s.KSListOf(gm); len(l) != 1 || l[0].Address != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("KSListOf(gm1) = %v", l)
	}
}

// A scenario written as YAML reads back as the same model.
func TestRoundTrip(t *testing.T) {
	data, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data, "default.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(s, Default()) {
		t.Errorf("round trip differs:\n%s", data)
	}
}

// The modes of a migration (receive-only groups, passive GMs, fail-close)
// are valid as written, and read back from YAML as the same model.
func TestModesRoundTrip(t *testing.T) {
	m := Default()
	m.Groups[0].ReceiveOnly = true
	m.GroupMembers[1].Passive = true
	m.GroupMembers[0].FailClose = &FailClose{Activate: true, ACL: []ACE{
		{Action: "deny", Protocol: "tcp", DestinationPort: 22},
		{Action: "deny", Protocol: "udp", Source: "198.51.100.0/24", DestinationPort: 7100},
		{Action: "permit", Protocol: "ip"},
	}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"receive_only: true", "passive: true", "fail_close:", "activate: true"} {
		if !strings.Contains(string(data), key) {
			t.Errorf("no %q in\n%s", key, data)
		}
	}
	s, err := Parse(data, "modes.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(s, m) {
		t.Errorf("round trip differs:\n%s", data)
	}
	// Left unset, none of them is written.
	data, _ = yaml.Marshal(Default())
	for _, key := range []string{"receive_only", "passive", "fail_close"} {
		if strings.Contains(string(data), key) {
			t.Errorf("the default scenario writes %s:\n%s", key, data)
		}
	}
}

func TestKeyForAndKSList(t *testing.T) {
	s := Default()
	s.KeyServers = append(s.KeyServers, KeyServer{Name: "ks2", Address: netip.MustParseAddr("192.0.2.2"), Order: 2})
	s.PreSharedKeys = append(s.PreSharedKeys, PSK{GM: "gm1", KS: "ks2", Key: "gm1-ks2"})
	s.GroupMembers[1].KSList = nil
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.KeyFor("ks2", "gm1"); k != "gm1-ks2" {
		t.Errorf("pair key: %q", k)
	}
	if k, _ := s.KeyFor("ks1", "gm1"); k != "gm1-secret" {
		t.Errorf("every-KS key: %q", k)
	}
	gm2, _ := s.GM("gm2")
	if l := s.KSListOf(gm2); len(l) != 2 || l[0].Name != "ks1" || l[1].Name != "ks2" {
		t.Errorf("gm2's KS list by order: %v", l)
	}
}

func TestValidationErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Scenario)
		want string
	}{
		{func(s *Scenario) { s.TimerScale = 0 }, "timer_scale: 0 must be greater than 0"},
		{func(s *Scenario) {
			s.GroupMembers[0].Proposal = &IKESuite{Encryption: "des", Hash: "sha1", DHGroup: 14}
		}, `group_members[0].proposal.encryption: "des"`},
		{func(s *Scenario) { s.GroupMembers[0].GroupIDs = map[string]uint32{"OTHER": 7} }, "group_members[0].group_ids.OTHER: not a group of the scenario"},
		{func(s *Scenario) { s.GroupMembers[0].GroupIDs = map[string]uint32{"GETVPN": 0} }, "group_members[0].group_ids.GETVPN: 0 is not a group identity"},
		{func(s *Scenario) { s.GroupMembers[0].LocalACL = []ACE{{Action: "permit", Protocol: "udp"}} }, `group_members[0].local_acl[0].action: "permit": a GM's local ACL holds only deny entries`},
		{func(s *Scenario) {
			s.GroupMembers[1].LocalACL = []ACE{{Action: "deny", Protocol: "ospf", SourcePort: 9}}
		}, "group_members[1].local_acl[0]: ports need protocol tcp or udp"},
		{func(s *Scenario) {
			s.GroupMembers[0].LocalACL = []ACE{{Action: "deny", Protocol: "udp", Transform: "aes256gcm16"}}
		}, "group_members[0].local_acl[0].transform: a deny entry makes no TEK"},
		{func(s *Scenario) { s.GroupMembers[1].DFBit = "off" }, `group_members[1].df_bit: "off": copy, set or clear`},
		{func(s *Scenario) { s.GroupMembers[0].TCPMSS = 1500 }, `group_members[0].tcp_mss: 1500: 0 (off) or 500-1460`},
		{func(s *Scenario) { s.GroupMembers[1].TCPMSS = 499 }, `group_members[1].tcp_mss: 499: 0 (off) or 500-1460`},
		{func(s *Scenario) { s.GroupMembers[0].Clock = &ClockSkew{Offset: "soon"} }, `group_members[0].clock.offset: "soon" is not a Go duration`},
		{func(s *Scenario) { s.GroupMembers[1].Clock = &ClockSkew{Offset: "1h", DriftPPM: -1e6} }, "group_members[1].clock.drift_ppm: -1e+06: the drift must be above -1000000 and below 1000000 ppm"},
		{func(s *Scenario) { s.KeyServers[0].Clock = &ClockSkew{DriftPPM: 2e6} }, "key_servers[0].clock.drift_ppm: 2e+06: the drift must be above"},
		{func(s *Scenario) { s.KeyServers[0].Clock = &ClockSkew{Offset: "3600"} }, `key_servers[0].clock.offset: "3600" is not a Go duration`},
		{func(s *Scenario) {
			s.GroupMembers[0].FailClose = &FailClose{Activate: true}
		}, "group_members[0].fail_close.acl: no deny entry"},
		{func(s *Scenario) {
			s.GroupMembers[0].FailClose = &FailClose{Activate: true, ACL: []ACE{{Action: "permit", Protocol: "ip"}}}
		}, "group_members[0].fail_close.acl: no deny entry"},
		{func(s *Scenario) {
			s.GroupMembers[1].FailClose = &FailClose{Activate: true, ACL: []ACE{{Action: "drop", Protocol: "tcp", DestinationPort: 22}}}
		}, `group_members[1].fail_close.acl[0].action: "drop" is not permit (drop) or deny (pass in clear)`},
		{func(s *Scenario) {
			s.GroupMembers[1].FailClose = &FailClose{Activate: true, ACL: []ACE{{Action: "deny", Protocol: "ospf", DestinationPort: 22}}}
		}, "group_members[1].fail_close.acl[0]: ports need protocol tcp or udp"},
		{func(s *Scenario) {
			s.GroupMembers[1].FailClose = &FailClose{Activate: true, ACL: []ACE{{Action: "deny", Protocol: "tcp", Transform: "aes256gcm16"}}}
		}, "group_members[1].fail_close.acl[0].transform: a fail-close entry makes no TEK"},
		{func(s *Scenario) { s.Groups = nil }, "groups: missing"},
		{func(s *Scenario) { s.KeyServers = nil }, "key_servers: missing"},
		{func(s *Scenario) { s.Groups[0].ID = 0 }, "groups[0].id: missing"},
		{func(s *Scenario) { s.Groups[0].InteropProfile = "" }, "groups[0].interop_profile: missing"},
		{func(s *Scenario) { s.Groups[0].TEKLifetime = 0 }, "groups[0].tek_lifetime: 0 is not a lifetime"},
		{func(s *Scenario) { s.Groups[0].Transforms = nil }, "groups[0].transforms: missing"},
		{func(s *Scenario) { s.Groups[0].ACL[0].Action = "allow" }, `groups[0].acl[0].action: "allow" is not permit or deny`},
		{func(s *Scenario) { s.Groups[0].ACL[2].DestinationPort = 1 }, "groups[0].acl[2]: ports need protocol tcp or udp"},
		{func(s *Scenario) { s.Groups[0].ACL[3].Source = "198.51.100.1/24" }, "groups[0].acl[3].source: 198.51.100.1/24 has host bits set"},
		{func(s *Scenario) { s.Groups[0].ACL[3].Destination = "nowhere" }, `groups[0].acl[3].destination: "nowhere" is not`},
		{func(s *Scenario) { s.Groups[0].ACL[3].Destination = "2001:db8::/32" }, "of different address families"},
		{func(s *Scenario) { s.Groups[0].ACL[3].Protocol = "foo" }, `groups[0].acl[3].protocol: "foo" is not a protocol`},
		{func(s *Scenario) { s.Groups[0].ACL[3].Transform = "aes128-sha1" }, `groups[0].acl[3].transform: "aes128-sha1" is not one of the group's transforms`},
		{func(s *Scenario) { s.Groups[0].ACL[0].Transform = "aes256gcm16" }, "groups[0].acl[0].transform: a deny entry makes no TEK"},
		{func(s *Scenario) { s.Groups[0].ACL = s.Groups[0].ACL[:3] }, "groups[0].acl: no permit entry"},
		{func(s *Scenario) { s.Groups[0].Rekey.Transport = "broadcast" }, `groups[0].rekey.transport: "broadcast" is not one of [unicast multicast]`},
		{func(s *Scenario) { s.Groups[0].Rekey.Transport = "multicast" }, "groups[0].rekey.address: invalid IP: multicast rekeys need a multicast group address"},
		{func(s *Scenario) { s.Groups[0].Rekey.Port = 848 }, "groups[0].rekey: address and port are for multicast rekeys"},
		{func(s *Scenario) { s.Groups[0].Rekey.Acks = "yes" }, `groups[0].rekey.acks: "yes" is not one of`},
		{func(s *Scenario) { s.Groups[0].Rekey.Retransmit.Count = 11 }, "groups[0].rekey.retransmit.count: 11 is out of range"},
		{func(s *Scenario) { s.Groups = append(s.Groups, s.Groups[0]) }, `groups[1].name: "GETVPN" is another group's too`},
		{func(s *Scenario) { s.GroupMembers[1].Name = "ks1" }, `group_members[1].name: "ks1" is also key_servers[0]`},
		{func(s *Scenario) { s.GroupMembers[1].Address = s.GroupMembers[0].Address }, "group_members[1].address: 192.0.2.11 is also group_members[0]'s"},
		{func(s *Scenario) { s.GroupMembers[0].KSList = []string{"ks9"} }, `group_members[0].ks_list[0]: "ks9" is not a key server`},
		{func(s *Scenario) { s.GroupMembers[0].RegistrationInterface = "" }, "group_members[0].registration_interface: missing"},
		{func(s *Scenario) { s.PreSharedKeys = s.PreSharedKeys[1:] }, "group_members[0]: no pre-shared key between gm1 and key server ks1"},
		{func(s *Scenario) { s.PreSharedKeys[0].GM = "gm9" }, `pre_shared_keys[0].gm: "gm9" is not a group member`},
		{func(s *Scenario) { s.KeyServers[0].Order = 0 }, "key_servers[0].order: 0: orders start at 1"},
		{func(s *Scenario) { s.IKE.DHGroup = 3 }, "ike.dh_group: 3 is not an IKEv1 Diffie-Hellman group"},
		{func(s *Scenario) { s.IKE.Hash = "md4" }, `ike.hash: "md4" is not one of`},
		{func(s *Scenario) { s.IKE.Lifetime = 90000 }, "ike.lifetime: 90000 s is longer than the 86400 s a key server grants"},
	} {
		s := Default()
		c.edit(s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

func TestParseStrict(t *testing.T) {
	data, _ := yaml.Marshal(Default())
	bad := strings.Replace(string(data), "tek_lifetime:", "tek_lifetme:", 1)
	_, err := Parse([]byte(bad), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), `x.yaml: line `) || !strings.Contains(err.Error(), `unknown key "groups[0].tek_lifetme"`) {
		t.Errorf("unknown key: %v", err)
	}
	bad = strings.Replace(string(data), "timer_scale: 1", "timer_scale: -1", 1)
	if _, err := Parse([]byte(bad), "x.yaml"); err == nil || !strings.Contains(err.Error(), "x.yaml: timer_scale: -1 must be greater than 0") {
		t.Errorf("invalid value: %v", err)
	}
}

// testCOOP is one NewCOOP for the package's tests (an RSA key takes a
// while to generate); coopScenario hands out copies.
var testCOOP = sync.OnceValues(NewCOOP)

// coopScenario is DefaultCOOP with a copy of testCOOP.
func coopScenario(t *testing.T) *Scenario {
	t.Helper()
	c, err := testCOOP()
	if err != nil {
		t.Fatal(err)
	}
	cc := *c
	return coopLab(&cc)
}

func TestNewCOOP(t *testing.T) {
	a, err := NewCOOP()
	if err != nil {
		t.Fatal(err)
	}
	if a.Refresh != 20 || a.Periodic != 30 || a.Retransmit != 2 || a.Takeover != TakeoverPreserveKeys {
		t.Errorf("timers and takeover are not the seeds': %+v", a)
	}
	blk, rest := pem.Decode([]byte(a.SigningKeyPEM))
	if blk == nil || blk.Type != "RSA PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("signing key is not one PKCS #1 PEM block:\n%s", a.SigningKeyPEM)
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != 2048 {
		t.Errorf("signing key of %d bits, want 2048", k.N.BitLen())
	}
	b, err := testCOOP()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PreSharedKey) < 16 || a.PreSharedKey == b.PreSharedKey || a.SigningKeyPEM == b.SigningKeyPEM {
		t.Errorf("keys are not fresh: %q and %q, PEMs equal: %v", a.PreSharedKey, b.PreSharedKey, a.SigningKeyPEM == b.SigningKeyPEM)
	}
}

func TestDefaultCOOP(t *testing.T) {
	s, err := DefaultCOOP()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !s.HasCOOP() || Default().HasCOOP() {
		t.Errorf("HasCOOP: %v for DefaultCOOP, %v for Default", s.HasCOOP(), Default().HasCOOP())
	}
	var prios []int
	for _, k := range s.KSsByOrder() {
		prios = append(prios, k.Priority)
	}
	if !reflect.DeepEqual(prios, []int{100, 75, 50}) {
		t.Errorf("priorities by order: %v", prios)
	}
	gm4, ok := s.GM("gm4")
	if !ok || gm4.Address != netip.MustParseAddr("192.0.2.14") || len(s.KSListOf(gm4)) != 3 {
		t.Errorf("gm4: %+v, KS list %v", gm4, s.KSListOf(gm4))
	}
	if k, _ := s.KeyFor("ks3", "gm4"); k != "gm4-secret" {
		t.Errorf("KeyFor(ks3, gm4) = %q", k)
	}
	if s.COOPKey() != s.Groups[0].COOP.PreSharedKey || Default().COOPKey() != "" {
		t.Errorf("COOPKey: %q", s.COOPKey())
	}
}

// A KS probes its peers with the scenario's keepalive, the seeds' one when
// the scenario states none, and nothing without COOP.
func TestKSKeepalive(t *testing.T) {
	s := coopScenario(t)
	if k := s.KSKeepalive(); k == nil || *k != COOPKeepalive || COOPKeepalive != (Keepalive{Interval: 15, Retry: 2}) {
		t.Errorf("without ike.keepalive: %v, want the seeds' 15/2", k)
	}
	s.IKE.Keepalive = &Keepalive{Interval: 40, Retry: 5}
	if k := s.KSKeepalive(); k == nil || *k != (Keepalive{Interval: 40, Retry: 5}) {
		t.Errorf("with ike.keepalive: %v", k)
	}
	d := Default()
	d.IKE.Keepalive = &Keepalive{Interval: 40, Retry: 5}
	if k := d.KSKeepalive(); k != nil {
		t.Errorf("without COOP: %v", k)
	}
}

// A COOP scenario written as YAML, the PEM block included, reads back as
// the same model.
func TestCOOPRoundTrip(t *testing.T) {
	want := coopScenario(t)
	want.KeyServers[2].Priority = 0 // omitted, read back as 0
	data, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), "priority:") != 2 {
		t.Errorf("an unset priority is written:\n%s", data)
	}
	s, err := Parse(data, "coop.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("round trip differs:\n%s", data)
	}
}

func TestCOOPValidationErrors(t *testing.T) {
	ecKey := func() string {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}()
	for _, c := range []struct {
		edit func(*Scenario)
		want string
	}{
		{func(s *Scenario) { s.KeyServers = s.KeyServers[:1]; s.GroupMembers[0].KSList = []string{"ks1"} }, "groups[0].coop: 1 key server(s): cooperation needs at least 2"},
		{func(s *Scenario) {
			for i := 4; i <= 9; i++ {
				s.KeyServers = append(s.KeyServers, KeyServer{Name: "ks" + strconv.Itoa(i), Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Order: i})
			}
		}, "groups[0].coop: 9 key servers: the seeds allow up to 8 cooperating key servers"},
		{func(s *Scenario) { s.Groups[0].COOP.Refresh = 0 }, "groups[0].coop.refresh: 0 is not 1 to 3600 seconds"},
		{func(s *Scenario) { s.Groups[0].COOP.Periodic = 3601 }, "groups[0].coop.periodic: 3601 is not 1 to 3600 seconds"},
		{func(s *Scenario) { s.Groups[0].COOP.Periodic = 20 }, "groups[0].coop.periodic: 20 s is not longer than refresh (20 s)"},
		{func(s *Scenario) { s.Groups[0].COOP.Retransmit = 0 }, "groups[0].coop.retransmit: 0 is out of range [1, 10]"},
		{func(s *Scenario) { s.Groups[0].COOP.Retransmit = 11 }, "groups[0].coop.retransmit: 11 is out of range [1, 10]"},
		{func(s *Scenario) { s.Groups[0].COOP.Takeover = "" }, "groups[0].coop.takeover: missing (one of [preserve-keys new-tek])"},
		{func(s *Scenario) { s.Groups[0].COOP.Takeover = "keep" }, `groups[0].coop.takeover: "keep" is not one of [preserve-keys new-tek]`},
		{func(s *Scenario) { s.Groups[0].COOP.PreSharedKey = "" }, "groups[0].coop.pre_shared_key: missing"},
		{func(s *Scenario) { s.Groups[0].COOP.SigningKeyPEM = "" }, "groups[0].coop.signing_key_pem: missing"},
		{func(s *Scenario) { s.Groups[0].COOP.SigningKeyPEM = "not a key" }, "groups[0].coop.signing_key_pem: no PEM block"},
		{func(s *Scenario) {
			s.Groups[0].COOP.SigningKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")}))
		}, "groups[0].coop.signing_key_pem: RSA PRIVATE KEY block is not an RSA private key"},
		{func(s *Scenario) { s.Groups[0].COOP.SigningKeyPEM = ecKey }, "groups[0].coop.signing_key_pem: PRIVATE KEY block holds a *ecdsa.PrivateKey, not an RSA private key"},
		{func(s *Scenario) { s.KeyServers[1].Priority = 256 }, "key_servers[1].priority: 256 is not a COOP priority 1 to 255"},
		{func(s *Scenario) { s.KeyServers[1].Priority = -1 }, "key_servers[1].priority: -1 is not a COOP priority 1 to 255"},
		{func(s *Scenario) {
			g := s.Groups[0]
			g.Name, g.ID = "OTHER", 77
			c := *g.COOP
			c.PreSharedKey = "another"
			g.COOP = &c
			s.Groups = append(s.Groups, g)
		}, "groups[1].coop.pre_shared_key: differs from groups[0]'s"},
	} {
		s := coopScenario(t)
		c.edit(s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	// The edges that are valid: a priority left unset, 8 key servers, a
	// PKCS #8 RSA key, new-tek, a second COOP group with the same key.
	s := coopScenario(t)
	s.KeyServers[0].Priority = 0
	s.KeyServers[1].Priority = 255
	for i := 4; i <= 8; i++ {
		s.KeyServers = append(s.KeyServers, KeyServer{Name: "ks" + strconv.Itoa(i), Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Order: i, Priority: 1})
	}
	blk, _ := pem.Decode([]byte(s.Groups[0].COOP.SigningKeyPEM))
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s.Groups[0].COOP.SigningKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	s.Groups[0].COOP.Takeover = TakeoverNewTEK
	g := s.Groups[0]
	g.Name, g.ID = "OTHER", 77
	s.Groups = append(s.Groups, g)
	if err := s.Validate(); err != nil {
		t.Errorf("valid edges refused: %v", err)
	}
}

// A staged clock skew on a key server and a group member validates,
// reads back as written, and is not written when unset.
func TestClockSkewRoundTrip(t *testing.T) {
	m := Default()
	m.KeyServers[0].Clock = &ClockSkew{Offset: "1h"}
	m.GroupMembers[1].Clock = &ClockSkew{Offset: "-90s", DriftPPM: 250.5}
	m.GroupMembers[0].Clock = &ClockSkew{DriftPPM: -999_999}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"offset: 1h", "offset: -90s", "drift_ppm: 250.5", "drift_ppm: -999999"} {
		if !strings.Contains(string(data), key) {
			t.Errorf("no %q in\n%s", key, data)
		}
	}
	s, err := Parse(data, "clock.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(s, m) {
		t.Errorf("round trip differs:\n%s", data)
	}
	if data, _ = yaml.Marshal(Default()); strings.Contains(string(data), "clock") {
		t.Errorf("the default scenario writes a clock:\n%s", data)
	}
}

func TestRoutedIsValid(t *testing.T) {
	s := Routed()
	s.TimerScale = 0.1
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Groups[0].Rekey.Transport != "multicast" || s.GroupMembers[1].Address.String() != "192.0.2.49" {
		t.Errorf("rekey %+v, gm2 %v", s.Groups[0].Rekey, s.GroupMembers[1].Address)
	}
}
