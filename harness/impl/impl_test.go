package impl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/scenario"
)

// minimal is a valid implementation.yaml for the loader's error cases.
const minimal = `name: acme
roles: [ks, gm]
run:
  netns: {command: ["/opt/acme/bin/gdoid", "-f", "{{.Config}}"]}
config:
  path: /etc/acme/gdoi.conf
  templates: {ks: ks.tmpl, gm: gm.tmpl}
capabilities:
  unicast-rekey: true
`

// writeImpl writes dir/<name>/implementation.yaml and two trivial
// templates, returning the file's path.
func writeImpl(t *testing.T, dir, name, yml string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string]string{FileName: yml, "ks.tmpl": "ks {{.Self}}\n", "gm.tmpl": "gm {{.Self}} via {{range .KSList}}{{.Address}}{{end}}\n"} {
		if err := os.WriteFile(filepath.Join(d, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(d, FileName)
}

func TestLoadMinimal(t *testing.T) {
	im, err := LoadFile(writeImpl(t, t.TempDir(), "acme", minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := scenario.Default()
	s.Groups[0].Rekey.Acks = scenario.AcksNone // acme offers no acks
	out, err := im.Render(GM, s, "gm2")
	if err != nil || string(out) != "gm 192.0.2.12 via 192.0.2.1\n" {
		t.Errorf("render: %q, %v", out, err)
	}
	if r := im.ReadinessOf(KS); r.Kind() != "udp" || r.UDP != 848 {
		t.Errorf("KS default readiness: %+v", r)
	}
	if r := im.ReadinessOf(GM); r.Kind() != "started" {
		t.Errorf("GM default readiness: %+v", r)
	}
	_, argv, err := im.Command("netns", CommandData{Config: "/etc/acme/gdoi.conf", Node: "ks1", Role: KS})
	if err != nil || !reflect.DeepEqual(argv, []string{"/opt/acme/bin/gdoid", "-f", "/etc/acme/gdoi.conf"}) {
		t.Errorf("netns command: %v, %v", argv, err)
	}
	if _, _, err := im.Command("docker", CommandData{}); err == nil || !strings.Contains(err.Error(), "acme: no run.docker entry") {
		t.Errorf("docker without entry: %v", err)
	}
}

func TestLoaderErrors(t *testing.T) {
	for _, c := range []struct {
		name, edit, want string
	}{
		{"acme", strings.Replace(minimal, "unicast-rekey", "unicast-rekeys", 1),
			`acme/implementation.yaml: line 9: unknown key "capabilities.unicast-rekeys"`},
		{"acme", minimal + "colour: blue\n", `acme/implementation.yaml: line 10: unknown key "colour"`},
		{"acme", strings.Replace(minimal, "path: /etc", "pth: /etc", 1), `unknown key "config.pth"`},
		{"other", minimal, `other/implementation.yaml: name: "acme" differs from its directory "other"`},
		{"acme", strings.Replace(minimal, "[ks, gm]", "[ks, gm, router]", 1), `roles[2]: "router" is not a role (ks, gm, coop-ks)`},
		{"acme", strings.Replace(minimal, "ks: ks.tmpl, ", "", 1), "config.templates: no template for role ks"},
		{"acme", strings.Replace(minimal, "ks.tmpl", "missing.tmpl", 1), "config.templates.ks: open "},
		{"acme", strings.Replace(minimal, "{{.Config}}", "{{.Cfg}}", 1), "run.netns.command: template: arg:1:2: executing \"arg\" at <.Cfg>: can't evaluate field Cfg"},
		{"acme", strings.Replace(minimal, "/etc/acme/gdoi.conf", "gdoi.conf", 1), `config.path: "gdoi.conf"`},
		{"acme", minimal + "  timer-scale: {floor: 0}\n", "capabilities.timer-scale.floor: 0"},
		{"acme", minimal + "  keylog: {path: /k, format: nss}\n", `capabilities.keylog.format: "nss": the bench reads "getlab-v1"`},
		{"acme", minimal + "  acks: [yes]\n", `capabilities.acks[0]: "yes" is not`},
		{"acme", minimal + "  status: {}\n", "capabilities.status.command: missing"},
		{"acme", minimal + "  sa-direction: {}\n", "capabilities.sa-direction.command: missing"},
		{"acme", minimal + "  reload: {command: []}\n", "capabilities.reload.command: missing"},
		{"acme", minimal + "  gm-clear: {}\n", "capabilities.gm-clear.command: missing"},
		{"acme", minimal + "readiness:\n  gm: {udp: 848, started: true}\n", "readiness.gm: set exactly one of udp, command, started"},
		{"acme", minimal + "readiness:\n  coop-ks: {udp: 848}\n", "readiness.coop-ks: role coop-ks is not in roles"},
		{"acme", minimal + "minimums: {tek_lifetime: 300, kek: 600}\n", `unknown key "minimums.kek"`},
	} {
		_, err := LoadFile(writeImpl(t, t.TempDir(), c.name, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	// Load joins every file's errors and refuses an empty directory.
	dir := t.TempDir()
	writeImpl(t, dir, "acme", minimal+"x: 1\n")
	writeImpl(t, dir, "b", strings.Replace(minimal, "acme", "b", 1)+"y: 1\n")
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `acme/implementation.yaml: line 10: unknown key "x"`) || !strings.Contains(err.Error(), `b/implementation.yaml: line 10: unknown key "y"`) {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no */implementation.yaml under") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestRequireCapabilities(t *testing.T) {
	r := registry(t)
	gv, _ := r.Get("getvpnd")
	wire, _ := r.Get("getvpnd-wire")
	for _, c := range []struct {
		role Role
		im   *Impl
		caps []Capability
		want string
	}{
		{KS, gv, AllCapabilities, ""},
		{GM, gv, []Capability{Status, KeyLog, TimerScale, DataPlane}, ""},
		{KS, wire, []Capability{UnicastRekey, Status}, "KS implementation getvpnd-wire does not offer status"},
		{GM, wire, []Capability{KeyLog}, "GM implementation getvpnd-wire does not offer keylog"},
		{GM, wire, []Capability{DataPlane, TimerScale}, "GM implementation getvpnd-wire does not offer timer-scale"},
		{COOPKS, gv, nil, "COOP KS implementation getvpnd does not offer role coop-ks"},
	} {
		if got := RequireCapabilities(c.role, c.im, c.caps...); got != c.want {
			t.Errorf("RequireCapabilities(%s, %s, %v) = %q, want %q", c.role, c.im.Name, c.caps, got, c.want)
		}
	}
}

func TestRequireLifetimes(t *testing.T) {
	im := &Impl{Name: "vendor-ks", file: file{Minimums: Minimums{TEKLifetime: 900, KEKLifetime: 1800}}}
	for _, c := range []struct {
		tek, kek int
		want     string
	}{
		{900, 1800, ""},
		{86400, 86400, ""},
		{300, 1800, "KS implementation vendor-ks does not offer TEK lifetimes of 300 s (its minimum is 900 s)"},
		{900, 700, "KS implementation vendor-ks does not offer KEK lifetimes of 700 s (its minimum is 1800 s)"},
	} {
		if got := RequireLifetimes(KS, im, c.tek, c.kek); got != c.want {
			t.Errorf("RequireLifetimes(%d, %d) = %q, want %q", c.tek, c.kek, got, c.want)
		}
	}
	// Zero minimums take any positive lifetime.
	if got := RequireLifetimes(GM, &Impl{Name: "any"}, 1, 1); got != "" {
		t.Errorf("no minimums: %q", got)
	}
}

// getvpnd-wire is the black box: none of status, keylog, timer-scale, and
// its configs carry no key log and no timers.
func TestGetvpndWireIsABlackBox(t *testing.T) {
	r := registry(t)
	wire, _ := r.Get("getvpnd-wire")
	for _, c := range []Capability{Status, KeyLog, TimerScale} {
		if wire.Offers(c) {
			t.Errorf("getvpnd-wire offers %s", c)
		}
	}
	for _, c := range []Capability{DataPlane, UnicastRekey, MulticastRekey, Acks} {
		if !wire.Offers(c) {
			t.Errorf("getvpnd-wire lacks %s", c)
		}
	}
	for _, n := range []struct {
		role Role
		node string
	}{{KS, "ks1"}, {GM, "gm1"}} {
		out, err := wire.Render(n.role, scenario.Default(), n.node)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "key_log:") || strings.Contains(string(out), "timers:") {
			t.Errorf("%s config:\n%s", n.node, out)
		}
	}
	if r := wire.ReadinessOf(GM); r.Kind() != "started" {
		t.Errorf("getvpnd-wire GM readiness %+v: it has no status to ask", r)
	}
	gv, _ := r.Get("getvpnd")
	if !gv.Offers(Status) || gv.Caps.Status.Command[1] != "status" || gv.Caps.KeyLog.Path != "/run/getvpnd/keys.log" {
		t.Errorf("getvpnd capabilities: %+v", gv.Caps)
	}
}

// Render refuses what the implementation cannot run as stated.
func TestRenderRefusals(t *testing.T) {
	r := registry(t)
	gv, _ := r.Get("getvpnd")
	wire, _ := r.Get("getvpnd-wire")
	acme, err := LoadFile(writeImpl(t, t.TempDir(), "acme", minimal+"minimums: {tek_lifetime: 300, kek_lifetime: 900}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		im   *Impl
		role Role
		node string
		edit func(*scenario.Scenario)
		want string
	}{
		{wire, GM, "gm1", func(s *scenario.Scenario) { s.TimerScale = 0.01 }, "getvpnd-wire: gm gm1: timer scale 0.01: the implementation does not offer timer-scale"},
		{gv, GM, "gm1", func(s *scenario.Scenario) { s.TimerScale = 0.001 }, "timer scale 0.001 is below the implementation's floor 0.01"},
		{gv, KS, "ks1", func(s *scenario.Scenario) { s.Groups[0].InteropProfile = "ios-15" }, `groups[0]: interop profile "ios-15" is not among`},
		{gv, KS, "gm1", func(s *scenario.Scenario) {}, "getvpnd: ks gm1: not a key server of the scenario"},
		{gv, GM, "ks1", func(s *scenario.Scenario) {}, "getvpnd: gm ks1: not a group member of the scenario"},
		{gv, COOPKS, "ks1", func(s *scenario.Scenario) {}, "does not play role coop-ks"},
		{gv, KS, "ks1", func(s *scenario.Scenario) { s.Groups[0].ACL = nil }, "invalid scenario: groups[0].acl: missing"},
		{acme, KS, "ks1", func(s *scenario.Scenario) { s.Groups[0].TEKLifetime = 120; s.Groups[0].Rekey.Acks = "none" }, "TEK lifetime 120 s is below the implementation's minimum 300 s"},
		{acme, KS, "ks1", func(s *scenario.Scenario) {
			s.Groups[0].Rekey = scenario.Rekey{Transport: "multicast", Address: mustAddr("239.1.1.1"), Port: 848, Acks: "none"}
		}, "multicast rekeys: the implementation does not offer multicast-rekey"},
		{acme, KS, "ks1", func(s *scenario.Scenario) {}, "acknowledgements rfc8263-sha256: the implementation does not offer them"},
	} {
		s := scenario.Default()
		c.edit(s)
		_, err := c.im.Render(c.role, s, c.node)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

func TestParseStatus(t *testing.T) {
	s, err := ParseStatus([]byte(`{"registered": true, "ks": "192.0.2.1", "kek_spi": "8e5f3a0c9b2d4e1f00112233aabbccdd", "tek_spis": ["2d45c4e9", "d835db99"], "seq": 5}`))
	if err != nil || !s.Registered || s.KS != "192.0.2.1" || s.Seq != 5 || len(s.TEKSPIs) != 2 {
		t.Errorf("%+v, %v", s, err)
	}
	for in, want := range map[string]string{
		`{"registered": true, "state": "x"}`:     `unknown field "state"`,
		`{"kek_spi": "0x8e5f"}`:                  `kek_spi "0x8e5f" is not 32 lowercase hex digits`,
		`{"tek_spis": ["0x2d45c4e9"]}`:           `"0x2d45c4e9" is not 8 lowercase hex digits`,
		`{"tek_spis": ["d835db99", "2d45c4e9"]}`: "are not sorted",
		`not json`:                               "status: invalid character",
	} {
		if _, err := ParseStatus([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", in, want, err)
		}
	}
}
