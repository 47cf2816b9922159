package scenario

import (
	"net/netip"
	"reflect"
	"strings"
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
