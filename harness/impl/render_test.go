package impl

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/testbuild"
	"gopkg.in/yaml.v3"
)

func registry(t *testing.T) *Registry {
	t.Helper()
	dir, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// nodesOf returns the scenario's nodes that play role.
func nodesOf(s *scenario.Scenario, role Role) []string {
	var out []string
	switch role {
	case KS, COOPKS:
		for _, k := range s.KeyServers {
			out = append(out, k.Name)
		}
	case GM:
		for _, g := range s.GroupMembers {
			out = append(out, g.Name)
		}
	}
	return out
}

// Every implementation.yaml under images/ loads, and each renders the
// default scenario for every role it plays.
func TestRegistryLoadsAndRendersEveryImplementation(t *testing.T) {
	r := registry(t)
	if got := r.Names(); !reflect.DeepEqual(got, []string{"getvpnd", "getvpnd-wire"}) {
		t.Errorf("registered: %v", got)
	}
	for _, name := range r.Names() {
		im, _ := r.Get(name)
		for _, role := range im.Roles {
			for _, node := range nodesOf(scenario.Default(), role) {
				out, err := im.Render(role, scenario.Default(), node)
				if err != nil {
					t.Errorf("%s %s %s: %v", name, role, node, err)
					continue
				}
				var m map[string]any
				if err := yaml.Unmarshal(out, &m); err != nil {
					t.Errorf("%s %s %s: not YAML: %v\n%s", name, role, node, err, out)
				}
			}
		}
	}
	if _, err := r.Get("strongswan"); err == nil || !strings.Contains(err.Error(), `no implementation "strongswan" (registered: getvpnd, getvpnd-wire)`) {
		t.Errorf("Get unknown: %v", err)
	}
}

// getvpnd --check accepts every rendered getvpnd config, without a warning
// but the wildcard key's and a GM's keepalive's.
func TestRenderedConfigsPassGetvpndCheck(t *testing.T) {
	bin, err := testbuild.Bin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(testbuild.Cleanup)
	r := registry(t)
	scenarios := map[string]*scenario.Scenario{"default": scenario.Default(), "variant": variant()}
	for _, name := range []string{"getvpnd", "getvpnd-wire"} {
		im, err := r.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for sname, s := range scenarios {
			if name == "getvpnd-wire" {
				s.TimerScale = 1 // it offers no timer-scale
			}
			for _, role := range im.Roles {
				for _, node := range nodesOf(s, role) {
					out, err := im.Render(role, s, node)
					if err != nil {
						t.Fatalf("%s %s %s: %v", name, sname, node, err)
					}
					f := filepath.Join(t.TempDir(), node+".yaml")
					if err := os.WriteFile(f, out, 0o644); err != nil {
						t.Fatal(err)
					}
					res, err := exec.Command(filepath.Join(bin, "getvpnd"), "--check", f).CombinedOutput()
					// The one warning a scenario may give: the seeds
					// discourage a wildcard key, which the robustness suite
					// sets on purpose.
					warnings := 0
					if role == KS && s.IKE.KSWildcardKey != "" {
						warnings = 1
						if !strings.Contains(string(res), "a wildcard pre-shared key is discouraged") {
							t.Errorf("%s %s %s: no warning for the wildcard key:\n%s", name, sname, node, res)
						}
					}
					// And the seeds have no DPD between GM and KS, which
					// the DPD spec configures on purpose.
					if role == GM && s.IKE.Keepalive != nil {
						warnings = 1
						if !strings.Contains(string(res), "ike.keepalive: dead peer detection between GM and KS") {
							t.Errorf("%s %s %s: no warning for the keepalive:\n%s", name, sname, node, res)
						}
					}
					if err != nil || strings.Count(string(res), "warning:") != warnings || !strings.Contains(string(res), "ok: role "+string(role)+", "+fmt.Sprint(len(s.Groups))+" group(s), "+fmt.Sprint(warnings)+" warning(s)") {
						t.Errorf("%s %s %s: getvpnd --check: %v\n%s\nconfig:\n%s", name, sname, node, err, res, out)
					}
				}
			}
		}
	}
}

// variant exercises what Default leaves out: two KSs with a pair key,
// multicast rekeys with SHA-512 acks, a second group with an entry naming
// its transform, the gdoid profile, a timer scale, a GM's local deny
// entries, a wildcard key on the key servers.
func variant() *scenario.Scenario {
	s := scenario.Default()
	s.TimerScale = 0.05
	s.IKE.KSWildcardKey = "wildcard 'secret'"
	s.IKE.Keepalive = &scenario.Keepalive{Interval: 15, Retry: 2}
	s.KeyServers = append(s.KeyServers, scenario.KeyServer{Name: "ks2", Address: mustAddr("192.0.2.2"), Order: 2})
	s.PreSharedKeys = append(s.PreSharedKeys, scenario.PSK{GM: "gm2", KS: "ks2", Key: `gm2 "ks2" key`})
	s.GroupMembers[0].KSList = nil
	s.GroupMembers[1].KSList = []string{"ks2", "ks1"}
	s.GroupMembers[1].LocalACL = []scenario.ACE{
		{Action: "deny", Protocol: "udp", DestinationPort: 9999},
		{Action: "deny", Protocol: "tcp", Source: "203.0.113.0/24", Destination: "198.51.100.7", SourcePort: 22},
	}
	g := s.Groups[0]
	g.Name, g.ID, g.InteropProfile = "OTHER", 77, "gdoid"
	g.Transforms = []string{"aes256gcm16", "aes128-sha1"}
	g.ACL = append(g.ACL[:0:0], g.ACL...)
	g.ACL = append([]scenario.ACE{{Action: "deny", Protocol: "udp", Destination: "239.0.1.2/32"}}, g.ACL...)
	g.ACL[len(g.ACL)-1].Transform = "aes128-sha1"
	g.Rekey = scenario.Rekey{Transport: "multicast", Address: mustAddr("239.0.1.2"), Port: 848,
		Retransmit: scenario.Retransmit{Interval: 5, Count: 1}, Acks: scenario.AcksNone}
	s.Groups = append(s.Groups, g)
	s.Groups[0].Rekey.Acks = scenario.AcksSHA512
	return s
}

// The rendered getvpnd configs of the default scenario say what
// topologies/configs/ks1.yaml and gm1.yaml say, field by field.
func TestDefaultRendersLikeTheBasicTopologyConfigs(t *testing.T) {
	im, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		role   Role
		node   string
		fields []string
	}{
		{KS, "ks1", []string{"role", "identity", "listen", "control_socket", "key_log", "log", "timers",
			"ike.policies", "ike.pre_shared_keys", "groups.0.name", "groups.0.id", "groups.0.tek_lifetime",
			"groups.0.kek_lifetime", "groups.0.transforms", "groups.0.acl", "groups.0.authorization",
			"groups.0.rekey.transport", "groups.0.rekey.retransmit", "groups.0.rekey.signing_key"}},
		{GM, "gm1", []string{"role", "identity", "control_socket", "key_log", "log", "timers",
			"ike.policies", "ike.pre_shared_keys.0", "groups.0.name", "groups.0.id",
			"groups.0.ks_list", "groups.0.registration_interface"}},
		{GM, "gm2", []string{"role", "identity", "ike.policies", "ike.pre_shared_keys.0", "groups.0.ks_list"}},
	} {
		out, err := im.Render(c.role, scenario.Default(), c.node)
		if err != nil {
			t.Fatal(err)
		}
		want := readYAML(t, filepath.Join("..", "..", "topologies", "configs", c.node+".yaml"))
		var got any
		if err := yaml.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		for _, f := range c.fields {
			w, g := at(want, f), at(got, f)
			if w == nil || !reflect.DeepEqual(w, g) {
				t.Errorf("%s: %s: rendered %v, topologies/configs has %v", c.node, f, g, w)
			}
		}
	}
}

func readYAML(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// at walks a dotted path ("groups.0.acl") through decoded YAML, with
// numbers made float64 so that 1 and 1.0 compare equal.
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return norm(v)
}

func norm(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = norm(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = norm(e)
		}
		return l
	}
	return v
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// A mismatched pre-shared key (GMKey) reaches the GM's config only: the
// KS keeps Key, which is how a spec states a wrong key.
func TestMismatchedKeyRendersOnTheGMOnly(t *testing.T) {
	gv, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	s := scenario.Default()
	s.PreSharedKeys[0].GMKey = "not-the-secret"
	gm, err := gv.Render(GM, s, "gm1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := gv.Render(KS, s, "ks1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gm), `"not-the-secret"`) || strings.Contains(string(gm), `"gm1-secret"`) {
		t.Errorf("gm1's config should hold the mismatched key only:\n%s", gm)
	}
	if !strings.Contains(string(ks), `"gm1-secret"`) || strings.Contains(string(ks), "not-the-secret") {
		t.Errorf("ks1's config should keep gm1-secret:\n%s", ks)
	}
}
