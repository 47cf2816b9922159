package impl

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/testbuild"
	"gopkg.in/yaml.v3"
)

// TestMain removes the binaries testbuild.Bin built, once every test that
// runs them is done (a test's own cleanup would remove them under the
// next test that asks).
func TestMain(m *testing.M) {
	code := m.Run()
	testbuild.Cleanup()
	os.Exit(code)
}

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

// testCOOP is one scenario.DefaultCOOP for the package's tests (an RSA
// key takes a while to generate); coopScenario hands out copies.
var testCOOP = sync.OnceValues(scenario.DefaultCOOP)

// coopScenario is a copy of scenario.DefaultCOOP, deep enough for a test
// to change its key servers, groups and COOP setup.
func coopScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	s, err := testCOOP()
	if err != nil {
		t.Fatal(err)
	}
	c := *s
	c.KeyServers = slices.Clone(s.KeyServers)
	c.Groups = slices.Clone(s.Groups)
	coop := *s.Groups[0].COOP
	c.Groups[0].COOP = &coop
	return &c
}

// renderYAML renders node's config and decodes it.
func renderYAML(t *testing.T, im *Impl, role Role, s *scenario.Scenario, node string) map[string]any {
	t.Helper()
	out, err := im.Render(role, s, node)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: not YAML: %v\n%s", node, err, out)
	}
	return m
}

// checksClean renders node's config with im and has getvpnd (in bin)
// check it: no error and no warning.
func checksClean(t *testing.T, bin string, im *Impl, role Role, s *scenario.Scenario, node string) {
	t.Helper()
	out, err := im.Render(role, s, node)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), node+".yaml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(filepath.Join(bin, "getvpnd"), "--check", f).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "0 warning(s)") {
		t.Errorf("%s: getvpnd --check: %v\n%s\nconfig:\n%s", node, err, res, out)
	}
}

// pskOf returns the pre-shared keys of a decoded getvpnd config by peer.
func pskOf(t *testing.T, cfg map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	list, _ := at(cfg, "ike.pre_shared_keys").([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		peer, _ := m["peer"].(string)
		key, _ := m["key"].(string)
		if _, dup := out[peer]; dup {
			t.Errorf("peer %s has two keys", peer)
		}
		out[peer] = key
	}
	return out
}

// A KS of a COOP group gets the other KSs as COOP peers, with the COOP
// pre-shared key, its priority (none when the scenario leaves it), the
// scenario's timers and takeover, the group's signing key as it is, and
// the seeds' dead peer detection.
func TestCOOPRendersEveryKeyServer(t *testing.T) {
	gv, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	s := coopScenario(t)
	s.KeyServers[1].Priority = 0 // left to the daemon's default
	c := s.Groups[0].COOP
	c.Refresh, c.Periodic, c.Retransmit, c.Takeover = 7, 11, 3, scenario.TakeoverNewTEK
	for _, c := range []struct {
		node     string
		priority any
		peers    []any
	}{
		{"ks1", 100.0, []any{"192.0.2.2", "192.0.2.3"}},
		{"ks2", nil, []any{"192.0.2.1", "192.0.2.3"}},
		{"ks3", 50.0, []any{"192.0.2.1", "192.0.2.2"}},
	} {
		cfg := renderYAML(t, gv, KS, s, c.node)
		coop, ok := at(cfg, "groups.0.coop").(map[string]any)
		if !ok {
			t.Fatalf("%s: no groups[0].coop", c.node)
		}
		want := map[string]any{"peers": c.peers, "refresh": 7.0, "periodic": 11.0, "retransmit": 3.0, "takeover": "new-tek"}
		if c.priority != nil {
			want["priority"] = c.priority
		}
		if !reflect.DeepEqual(coop, want) {
			t.Errorf("%s: coop %v, want %v", c.node, coop, want)
		}
		if sk := at(cfg, "groups.0.rekey.signing_key"); !reflect.DeepEqual(sk, map[string]any{"pem": s.Groups[0].COOP.SigningKeyPEM}) {
			t.Errorf("%s: signing_key %v, want the scenario's PEM as it is", c.node, sk)
		}
		keys := pskOf(t, cfg)
		for _, p := range c.peers {
			if keys[p.(string)] != s.COOPKey() {
				t.Errorf("%s: COOP peer %s has key %q, want the COOP key", c.node, p, keys[p.(string)])
			}
		}
		for _, gm := range s.GroupMembers {
			if k, _ := s.KeyFor(c.node, gm.Name); keys[gm.Address.String()] != k {
				t.Errorf("%s: GM %s has key %q, want %q", c.node, gm.Name, keys[gm.Address.String()], k)
			}
		}
		if len(keys) != len(c.peers)+len(s.GroupMembers) {
			t.Errorf("%s: pre-shared keys %v: itself or a stranger among them", c.node, keys)
		}
		if ka := at(cfg, "ike.keepalive"); !reflect.DeepEqual(ka, map[string]any{"interval": 15.0, "retry": 2.0, "mode": "periodic"}) {
			t.Errorf("%s: ike.keepalive %v, want the seeds' 15 s / 2 s periodic", c.node, ka)
		}
	}
	// The scenario's keepalive, where it states one, and the GMs keep
	// their own keys and no COOP.
	s.IKE.Keepalive = &scenario.Keepalive{Interval: 40, Retry: 5}
	if ka := at(renderYAML(t, gv, KS, s, "ks2"), "ike.keepalive"); !reflect.DeepEqual(ka, map[string]any{"interval": 40.0, "retry": 5.0, "mode": "periodic"}) {
		t.Errorf("ks2: ike.keepalive %v, want the scenario's 40 s / 5 s", ka)
	}
	gm := renderYAML(t, gv, GM, s, "gm3")
	if keys := pskOf(t, gm); !reflect.DeepEqual(keys, map[string]string{"192.0.2.1": "gm3-secret", "192.0.2.2": "gm3-secret", "192.0.2.3": "gm3-secret"}) {
		t.Errorf("gm3: pre-shared keys %v", keys)
	}
	if at(gm, "groups.0.coop") != nil || !reflect.DeepEqual(at(gm, "groups.0.ks_list"), []any{"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
		t.Errorf("gm3: groups[0] %v", at(gm, "groups.0"))
	}
}

// Without COOP a KS keeps its own generated signing key, no COOP peers
// and no keepalive, even where the GMs have one.
func TestNoCOOPRendersNoCOOP(t *testing.T) {
	gv, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	s := variant()
	for _, node := range []string{"ks1", "ks2"} {
		cfg := renderYAML(t, gv, KS, s, node)
		for i := range s.Groups {
			g := fmt.Sprintf("groups.%d", i)
			if at(cfg, g+".coop") != nil || !reflect.DeepEqual(at(cfg, g+".rekey.signing_key"), map[string]any{"bits": 2048.0}) {
				t.Errorf("%s: %s: %v", node, g, at(cfg, g))
			}
		}
		if at(cfg, "ike.keepalive") != nil {
			t.Errorf("%s: ike.keepalive %v without COOP", node, at(cfg, "ike.keepalive"))
		}
		for peer := range pskOf(t, cfg) {
			if peer == "192.0.2.1" || peer == "192.0.2.2" {
				t.Errorf("%s: a key for key server %s without COOP", node, peer)
			}
		}
	}
}

// A key server of a COOP group needs the coop capability; a GM does not.
func TestCOOPRefusedWithoutTheCapability(t *testing.T) {
	r := registry(t)
	wire, _ := r.Get("getvpnd-wire")
	gv, _ := r.Get("getvpnd")
	if wire.Offers(COOP) || !gv.Offers(COOP) {
		t.Fatalf("coop: getvpnd-wire offers it %v, getvpnd %v", wire.Offers(COOP), gv.Offers(COOP))
	}
	acme, err := LoadFile(writeImpl(t, t.TempDir(), "acme", minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := coopScenario(t)
	s.Groups[0].Rekey.Acks = scenario.AcksNone // acme offers none
	for _, im := range []*Impl{wire, acme} {
		_, err := im.Render(KS, s, "ks2")
		want := im.Name + ": ks ks2: groups[0]: cooperative key servers: the implementation does not offer coop"
		if err == nil || err.Error() != want {
			t.Errorf("%s KS: want %q, got %v", im.Name, want, err)
		}
		if _, err := im.Render(GM, s, "gm1"); err != nil {
			t.Errorf("%s GM in a COOP lab: %v", im.Name, err)
		}
	}
	if got := RequireCapabilities(KS, wire, COOP); got != "KS implementation getvpnd-wire does not offer coop" {
		t.Errorf("RequireCapabilities: %q", got)
	}
}

// The rendered getvpnd configs of scenario.DefaultCOOP say what
// topologies/configs/coop-*.yaml say, field by field, but the keys
// between the KSs and the signing key, which DefaultCOOP makes fresh.
func TestDefaultCOOPRendersLikeTheCOOPTopologyConfigs(t *testing.T) {
	gv, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	s := coopScenario(t)
	ksFields := []string{"role", "identity", "listen", "control_socket", "key_log", "log", "timers",
		"ike.policies", "ike.keepalive", "groups.0.name", "groups.0.id", "groups.0.tek_lifetime",
		"groups.0.kek_lifetime", "groups.0.transforms", "groups.0.acl", "groups.0.authorization",
		"groups.0.rekey.transport", "groups.0.rekey.retransmit", "groups.0.coop"}
	gmFields := []string{"role", "identity", "control_socket", "key_log", "log", "timers",
		"ike.policies", "ike.pre_shared_keys", "groups.0.name", "groups.0.id",
		"groups.0.ks_list", "groups.0.registration_interface"}
	var pems []any
	kss := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	check := func(role Role, node string, fields []string) map[string]any {
		got := renderYAML(t, gv, role, s, node)
		want, _ := readYAML(t, filepath.Join("..", "..", "topologies", "configs", "coop-"+node+".yaml")).(map[string]any)
		for _, f := range fields {
			w, g := at(want, f), at(got, f)
			if w == nil || !reflect.DeepEqual(w, g) {
				t.Errorf("%s: %s: rendered %v, topologies/configs/coop-%s.yaml has %v", node, f, g, node, w)
			}
		}
		if role == KS {
			// The same peers, GMs and KSs; the KSs' key is the topology's own.
			g, w := pskOf(t, got), pskOf(t, want)
			if len(g) != len(w) {
				t.Errorf("%s: pre-shared keys for %v, the topology's for %v", node, g, w)
			}
			for peer, k := range w {
				if slices.Contains(kss, peer) {
					k = s.COOPKey()
				}
				if r, ok := g[peer]; !ok || r != k {
					t.Errorf("%s: peer %s: rendered %q, want %q", node, peer, r, k)
				}
			}
			pem := at(want, "groups.0.rekey.signing_key.pem")
			if _, err := (&scenario.COOP{SigningKeyPEM: fmt.Sprint(pem)}).SigningKey(); err != nil {
				t.Errorf("%s: the topology's signing key: %v", node, err)
			}
			pems = append(pems, pem)
		}
		return got
	}
	for _, ks := range []string{"ks1", "ks2", "ks3"} {
		check(KS, ks, ksFields)
	}
	for _, gm := range []string{"gm1", "gm2", "gm3", "gm4"} {
		check(GM, gm, gmFields)
	}
	if len(pems) != 3 || pems[0] != pems[1] || pems[1] != pems[2] {
		t.Errorf("the topology's KSs do not share one signing key")
	}
}

// getvpnd --check accepts the rendered configs of a COOP lab without a
// warning: every KS (its coop block, the shared signing key in PEM, the
// COOP peers' keys, the keepalive) and every GM.
func TestRenderedCOOPConfigsPassGetvpndCheck(t *testing.T) {
	bin, err := testbuild.Bin()
	if err != nil {
		t.Fatal(err)
	}
	gv, err := registry(t).Get("getvpnd")
	if err != nil {
		t.Fatal(err)
	}
	s := coopScenario(t)
	s.TimerScale = 0.05
	s.KeyServers[1].Priority = 0
	for _, role := range []Role{KS, GM} {
		for _, node := range nodesOf(s, role) {
			out, err := gv.Render(role, s, node)
			if err != nil {
				t.Fatalf("%s: %v", node, err)
			}
			f := filepath.Join(t.TempDir(), node+".yaml")
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := exec.Command(filepath.Join(bin, "getvpnd"), "--check", f).CombinedOutput()
			if err != nil || strings.Contains(string(res), "warning:") || !strings.Contains(string(res), "ok: role "+string(role)+", 1 group(s), 0 warning(s)") {
				t.Errorf("%s: getvpnd --check: %v\n%s\nconfig:\n%s", node, err, res, out)
			}
		}
	}
}

// A staged GDOI version renders as gdoi_version with no features on
// getvpnd, and is refused by an implementation without gdoi-versions.
func TestStagedGDOIVersion(t *testing.T) {
	r := registry(t)
	gv, _ := r.Get("getvpnd")
	wire, _ := r.Get("getvpnd-wire")
	s := scenario.Default()
	s.GroupMembers[1].GDOIVersion = "2.0.0"
	out, err := gv.Render(GM, s, "gm2")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	// No feature list: getvpnd claims those it implements up to the
	// staged version.
	if _, listed := cfg["gdoi_features"]; cfg["gdoi_version"] != "2.0.0" || listed {
		t.Errorf("gm2: gdoi_version %v, gdoi_features %v", cfg["gdoi_version"], cfg["gdoi_features"])
	}
	if out, _ := gv.Render(GM, s, "gm1"); strings.Contains(string(out), "gdoi_version") {
		t.Errorf("gm1 staged too:\n%s", out)
	}
	if _, err := wire.Render(GM, s, "gm2"); err == nil || !strings.Contains(err.Error(), "GDOI version 2.0.0: the implementation does not offer gdoi-versions") {
		t.Errorf("getvpnd-wire: %v", err)
	}
}

// modesScenario is Default with the SA direction modes and fail-close: a
// receive-only group, gm1 in fail-close with deny entries, gm2 passive.
func modesScenario() *scenario.Scenario {
	s := scenario.Default()
	s.Groups[0].ReceiveOnly = true
	s.Groups[0].Rekey.KEKAtExpiry = true
	s.GroupMembers[0].FailClose = &scenario.FailClose{Activate: true, ACL: []scenario.ACE{
		{Action: "deny", Protocol: "tcp", DestinationPort: 22},
		{Action: "deny", Protocol: "udp", Source: "198.51.100.0/24", Destination: "203.0.113.10", DestinationPort: 7100},
		{Action: "permit", Protocol: "ip"},
	}}
	s.GroupMembers[1].Passive = true
	return s
}

// The modes render on getvpnd as data_plane.fail_close on gm1, passive on
// gm2's group and receive_only on the KS's, each only where stated, and
// getvpnd --check takes the configs without a warning.
func TestModesRender(t *testing.T) {
	bin, err := testbuild.Bin()
	if err != nil {
		t.Fatal(err)
	}
	gv, _ := registry(t).Get("getvpnd")
	s := modesScenario()
	ks := renderYAML(t, gv, KS, s, "ks1")
	if got := at(ks, "groups.0.receive_only"); got != true {
		t.Errorf("ks1 receive_only: %v", got)
	}
	if got := at(ks, "groups.0.rekey.kek_at_expiry"); got != true {
		t.Errorf("ks1 rekey.kek_at_expiry: %v", got)
	}
	gm1 := renderYAML(t, gv, GM, s, "gm1")
	if got := at(gm1, "data_plane.fail_close.activate"); got != true {
		t.Errorf("gm1 fail_close.activate: %v", got)
	}
	want := []any{
		map[string]any{"action": "deny", "protocol": "tcp", "destination_port": 22},
		map[string]any{"action": "deny", "protocol": "udp", "source": "198.51.100.0/24", "destination": "203.0.113.10", "destination_port": 7100},
		map[string]any{"action": "permit", "protocol": "ip"},
	}
	if got := at(gm1, "data_plane.fail_close.acl"); !reflect.DeepEqual(norm(got), norm(want)) {
		t.Errorf("gm1 fail_close.acl: %v", got)
	}
	if got := at(gm1, "groups.0.passive"); got != nil {
		t.Errorf("gm1 passive: %v", got)
	}
	gm2 := renderYAML(t, gv, GM, s, "gm2")
	if got := at(gm2, "groups.0.passive"); got != true {
		t.Errorf("gm2 passive: %v", got)
	}
	if got := at(gm2, "data_plane"); got != nil {
		t.Errorf("gm2 data_plane: %v", got)
	}
	def := scenario.Default()
	for role, node := range map[Role]string{KS: "ks1", GM: "gm1"} {
		out, _ := gv.Render(role, def, node)
		for _, key := range []string{"receive_only", "passive", "fail_close", "kek_at_expiry"} {
			if strings.Contains(string(out), key) {
				t.Errorf("the default scenario renders %s on %s:\n%s", key, node, out)
			}
		}
	}
	for _, n := range []struct {
		role Role
		node string
	}{{KS, "ks1"}, {GM, "gm1"}, {GM, "gm2"}} {
		out, err := gv.Render(n.role, s, n.node)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), n.node+".yaml")
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := exec.Command(filepath.Join(bin, "getvpnd"), "--check", f).CombinedOutput()
		if err != nil || !strings.Contains(string(res), "0 warning(s)") {
			t.Errorf("%s: getvpnd --check: %v\n%s\nconfig:\n%s", n.node, err, res, out)
		}
	}
}

// An implementation without fail-close or sa-direction refuses to render
// them, naming the capability; getvpnd offers them with their commands.
func TestModesRefusedWithoutTheCapabilities(t *testing.T) {
	r := registry(t)
	wire, _ := r.Get("getvpnd-wire")
	s := modesScenario()
	for _, c := range []struct {
		role       Role
		node, want string
	}{
		{KS, "ks1", "getvpnd-wire: ks ks1: groups[0]: receive-only TEKs: the implementation does not offer sa-direction"},
		{GM, "gm1", "getvpnd-wire: gm gm1: fail-close: the implementation does not offer fail-close"},
		{GM, "gm2", "getvpnd-wire: gm gm2: passive SA mode: the implementation does not offer sa-direction"},
	} {
		if _, err := wire.Render(c.role, s, c.node); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	ko := scenario.Default()
	ko.Groups[0].Rekey.KEKAtExpiry = true
	if _, err := wire.Render(KS, ko, "ks1"); err == nil || !strings.Contains(err.Error(), "does not offer kek-at-expiry") {
		t.Errorf("getvpnd-wire KS of old: %v", err)
	}
	// A receive-only group is the KS's business: a GM renders it whatever
	// it offers (it reads the direction from the TEKs).
	s = scenario.Default()
	s.Groups[0].ReceiveOnly = true
	if _, err := wire.Render(GM, s, "gm1"); err != nil {
		t.Errorf("getvpnd-wire GM of a receive-only group: %v", err)
	}
	gv, _ := r.Get("getvpnd")
	for _, c := range []Capability{FailClose, SADirection, Reload, GMClear, GMRemoval, KEKAtExpiry} {
		if !gv.Offers(c) {
			t.Errorf("getvpnd does not offer %s", c)
		}
		if wire.Offers(c) {
			t.Errorf("getvpnd-wire offers %s", c)
		}
	}
	if got := strings.Join(gv.Caps.SADirection.Command, " "); got != "getctl gm direction" {
		t.Errorf("sa-direction command %q", got)
	}
	if got := strings.Join(gv.Caps.Reload.Command, " "); got != "getctl reload" {
		t.Errorf("reload command %q", got)
	}
	if got := strings.Join(gv.Caps.GMClear.Command, " "); got != "getctl clear gdoi" {
		t.Errorf("gm-clear command %q", got)
	}
}
