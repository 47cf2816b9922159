package topo

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testPath = "/lab/test.clab.yml"

func noEnv(string) (string, bool) { return "", false }

func mustParse(t *testing.T, src string) *Topology {
	t.Helper()
	topo, err := parse([]byte(src), testPath, noEnv)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return topo
}

func TestParse(t *testing.T) {
	src := `
name: lab1
topology:
  nodes:
    sw:
      kind: bridge
      labels: {role: wan}
    a:
      kind: linux
      image: img:a
      cmd: /bin/daemon -c /etc/a.yaml
      exec: ["ip link set eth1 up"]
      env: {A: "1", N: 2, B: true}
      binds: ["cfg/a.yaml:/etc/a.yaml:ro", "/abs/dir:/data"]
      labels: {role: gm, n: 1}
      startup-config: cfg/a.cfg
      privileged: true
      cap-add: [net_admin, CAP_NET_RAW]
      sysctls: {net.ipv4.ip_forward: 1}
    b:
      kind: linux
      image: img:b
  links:
    - endpoints: ["a:eth1", "sw:p1"]
      mtu: 1400
    - type: veth
      endpoints: [{node: a, interface: eth2}, {node: b, interface: eth1}]
    - endpoints: [b:eth2, sw:p2]
`
	got := mustParse(t, src)
	want := &Topology{
		Name: "lab1",
		File: "/lab/test.clab.yml",
		Dir:  "/lab",
		Nodes: []*Node{
			{Name: "sw", Kind: KindBridge, Labels: map[string]string{"role": "wan"}, Interfaces: []string{"p1", "p2"}, Line: 5},
			{
				Name:          "a",
				Kind:          KindLinux,
				Image:         "img:a",
				Cmd:           "/bin/daemon -c /etc/a.yaml",
				Exec:          []string{"ip link set eth1 up"},
				Env:           map[string]string{"A": "1", "N": "2", "B": "true"},
				Binds:         []Bind{{Host: "/lab/cfg/a.yaml", Node: "/etc/a.yaml", ReadOnly: true}, {Host: "/abs/dir", Node: "/data"}},
				Labels:        map[string]string{"role": "gm", "n": "1"},
				StartupConfig: "/lab/cfg/a.cfg",
				Privileged:    true,
				CapAdd:        []string{"NET_ADMIN", "NET_RAW"},
				Sysctls:       map[string]string{"net.ipv4.ip_forward": "1"},
				Interfaces:    []string{"eth1", "eth2"},
				Line:          8,
				ExecLines:     []int{12},
				BindLines:     []int{14, 14},
				SysctlLines:   map[string]int{"net.ipv4.ip_forward": 19},
			},
			{
				Name: "b", Kind: KindLinux, Image: "img:b",
				Env: map[string]string{}, Labels: map[string]string{}, Sysctls: map[string]string{},
				Interfaces: []string{"eth1", "eth2"}, Line: 20,
			},
		},
		Links: []*Link{
			{A: Endpoint{"a", "eth1"}, B: Endpoint{"sw", "p1"}, MTU: 1400, Line: 24},
			{A: Endpoint{"a", "eth2"}, B: Endpoint{"b", "eth1"}, Line: 26},
			{A: Endpoint{"b", "eth2"}, B: Endpoint{"sw", "p2"}, Line: 28},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
	if n := got.Node("a"); n == nil || n.Name != "a" {
		t.Errorf("Node(a) = %v", n)
	}
	if n := got.Node("nope"); n != nil {
		t.Errorf("Node(nope) = %v, want nil", n)
	}
	if ls := got.LinksOf("b"); len(ls) != 2 || ls[0].String() != "a:eth2--b:eth1" {
		t.Errorf("LinksOf(b) = %v", ls)
	}
}

func dump(t *Topology) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name=%s file=%s dir=%s\n", t.Name, t.File, t.Dir)
	for _, n := range t.Nodes {
		fmt.Fprintf(&b, "%+v\n", *n)
	}
	for _, l := range t.Links {
		fmt.Fprintf(&b, "%s mtu=%d\n", l, l.MTU)
	}
	return b.String()
}

func TestNodeOrderFollowsFile(t *testing.T) {
	got := mustParse(t, `
name: order
topology:
  defaults: {kind: linux, image: x}
  nodes:
    zeta:
    alpha:
    mid:
`)
	var names []string
	for _, n := range got.Nodes {
		names = append(names, n.Name)
	}
	if want := []string{"zeta", "alpha", "mid"}; !reflect.DeepEqual(names, want) {
		t.Errorf("node order %v, want %v", names, want)
	}
}

func TestInheritance(t *testing.T) {
	src := `
name: inherit
topology:
  defaults:
    kind: linux
    image: img:default
    cmd: default-cmd
    startup-config: /cfg/default.cfg
    privileged: true
    exec: [d1, shared]
    env: {LEVEL: defaults, D: d}
    labels: {level: defaults, d: d}
    sysctls: {net.ipv4.ip_forward: "0", net.ipv6.conf.all.forwarding: "0"}
    binds: [/d/one:/one, /d/two:/two:ro]
    cap-add: [NET_ADMIN]
  kinds:
    linux:
      image: img:kind
      privileged: false
      exec: [k1, shared]
      env: {LEVEL: kind, K: k}
      labels: {level: kind}
      sysctls: {net.ipv4.ip_forward: "1"}
      binds: [/k/two:/two, k/three:/three]
      cap-add: [NET_RAW, NET_ADMIN]
  nodes:
    plain:
    custom:
      image: img:node
      cmd: node-cmd
      startup-config: node.cfg
      privileged: true
      exec: [n1]
      env: {LEVEL: node}
      labels: {level: node}
      sysctls: {net.ipv6.conf.all.forwarding: "1"}
      binds: [/n/one:/one:ro]
      cap-add: [SYS_ADMIN]
    br:
      kind: bridge
`
	topo := mustParse(t, src)

	plain := topo.Node("plain")
	checks := []struct {
		name      string
		got, want any
	}{
		{"plain image (kind wins over defaults)", plain.Image, "img:kind"},
		{"plain cmd (from defaults)", plain.Cmd, "default-cmd"},
		{"plain startup-config (from defaults)", plain.StartupConfig, "/cfg/default.cfg"},
		{"plain privileged (explicit false in kind beats true in defaults)", plain.Privileged, false},
		{"plain exec (concatenated, defaults first)", plain.Exec, []string{"d1", "shared", "k1", "shared"}},
		{"plain env", plain.Env, map[string]string{"LEVEL": "kind", "D": "d", "K": "k"}},
		{"plain labels", plain.Labels, map[string]string{"level": "kind", "d": "d"}},
		{"plain sysctls", plain.Sysctls, map[string]string{"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0"}},
		{"plain binds (kind replaces /two in place)", plain.Binds, []Bind{
			{Host: "/d/one", Node: "/one"},
			{Host: "/k/two", Node: "/two"},
			{Host: "/lab/k/three", Node: "/three"},
		}},
		{"plain cap-add (union)", plain.CapAdd, []string{"NET_ADMIN", "NET_RAW"}},
	}
	custom := topo.Node("custom")
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"custom image", custom.Image, "img:node"},
		{"custom cmd", custom.Cmd, "node-cmd"},
		{"custom startup-config (relative to the file)", custom.StartupConfig, "/lab/node.cfg"},
		{"custom privileged", custom.Privileged, true},
		{"custom exec", custom.Exec, []string{"d1", "shared", "k1", "shared", "n1"}},
		{"custom env", custom.Env, map[string]string{"LEVEL": "node", "D": "d", "K": "k"}},
		{"custom labels", custom.Labels, map[string]string{"level": "node", "d": "d"}},
		{"custom sysctls", custom.Sysctls, map[string]string{"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}},
		{"custom binds (node replaces /one)", custom.Binds, []Bind{
			{Host: "/n/one", Node: "/one", ReadOnly: true},
			{Host: "/k/two", Node: "/two"},
			{Host: "/lab/k/three", Node: "/three"},
		}},
		{"custom cap-add", custom.CapAdd, []string{"NET_ADMIN", "NET_RAW", "SYS_ADMIN"}},
	}...)
	br := topo.Node("br")
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"bridge takes no image", br.Image, ""},
		{"bridge takes no exec", br.Exec, []string(nil)},
		{"bridge takes no binds", br.Binds, []Bind(nil)},
		{"bridge keeps labels", br.Labels, map[string]string{"level": "defaults", "d": "d"}},
	}...)
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultKindAndNullNode(t *testing.T) {
	topo := mustParse(t, `
name: dk
topology:
  defaults: {kind: linux}
  kinds: {linux: {image: img}}
  nodes:
    a:
    b: {}
`)
	for _, n := range topo.Nodes {
		if n.Kind != KindLinux || n.Image != "img" {
			t.Errorf("node %s: kind %q image %q", n.Name, n.Kind, n.Image)
		}
	}
}

func TestYAMLAnchorsAndMergeKeys(t *testing.T) {
	topo := mustParse(t, `
name: anchors
topology:
  defaults: &d
    kind: linux
    image: img
    env: &env {A: "1"}
  nodes:
    a:
      <<: *d
      image: img:a
      env: {B: "2"}
    b:
      env: *env
  links:
    - endpoints: &eps [a:eth1, b:eth1]
`)
	a, b := topo.Node("a"), topo.Node("b")
	if a.Image != "img:a" || !reflect.DeepEqual(a.Env, map[string]string{"A": "1", "B": "2"}) {
		t.Errorf("a: image %q env %v", a.Image, a.Env)
	}
	if b.Image != "img" || !reflect.DeepEqual(b.Env, map[string]string{"A": "1"}) {
		t.Errorf("b: image %q env %v", b.Image, b.Env)
	}
	if len(topo.Links) != 1 || topo.Links[0].String() != "a:eth1--b:eth1" {
		t.Errorf("links %v", topo.Links)
	}
}

func TestInterfacesFollowLinkOrder(t *testing.T) {
	topo := mustParse(t, `
name: ifs
topology:
  defaults: {kind: linux, image: x}
  nodes: {a: , b: , c: }
  links:
    - endpoints: [a:eth2, b:eth1]
    - endpoints: [c:eth1, a:eth1]
    - endpoints: [b:eth2, c:eth2]
    - endpoints: [a:eth3, a:eth4]
`)
	want := map[string][]string{
		"a": {"eth2", "eth1", "eth3", "eth4"},
		"b": {"eth1", "eth2"},
		"c": {"eth1", "eth2"},
	}
	for name, ifs := range want {
		if got := topo.Node(name).Interfaces; !reflect.DeepEqual(got, ifs) {
			t.Errorf("node %s interfaces %v, want %v", name, got, ifs)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join("testdata", "valid", "small.clab.yml")
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	if topo.File != abs || topo.Dir != filepath.Dir(abs) {
		t.Errorf("File %q Dir %q, want %q and its directory", topo.File, topo.Dir, abs)
	}
	gm1 := topo.Node("gm1")
	if gm1 == nil {
		t.Fatal("no node gm1")
	}
	wantBinds := []Bind{
		{Host: filepath.Join(topo.Dir, "configs/common.yaml"), Node: "/etc/getlab/common.yaml", ReadOnly: true},
		{Host: filepath.Join(topo.Dir, "configs/gm1.yaml"), Node: "/etc/getvpnd/getvpnd.yaml", ReadOnly: true},
	}
	if !reflect.DeepEqual(gm1.Binds, wantBinds) {
		t.Errorf("gm1 binds %+v, want %+v", gm1.Binds, wantBinds)
	}
	if gm1.StartupConfig != filepath.Join(topo.Dir, "configs/gm1.cfg") {
		t.Errorf("gm1 startup-config %q", gm1.StartupConfig)
	}
	if gm1.Env["GETLAB_LOG"] != "debug" || topo.Node("ks1").Env["GETLAB_LOG"] != "info" {
		t.Errorf("env not merged: gm1 %v ks1 %v", gm1.Env, topo.Node("ks1").Env)
	}
	if !reflect.DeepEqual(gm1.Interfaces, []string{"eth1", "eth2"}) {
		t.Errorf("gm1 interfaces %v", gm1.Interfaces)
	}
	if l := topo.Links[2]; l.MTU != 1400 || l.String() != "gm1:eth2--h1:eth1" {
		t.Errorf("extended link parsed as %v mtu %d", l, l.MTU)
	}
	if _, err := Load(filepath.Join("testdata", "does-not-exist.clab.yml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// TestLimitsAccepted checks the values right at the limits load.
func TestLimitsAccepted(t *testing.T) {
	long := strings.Repeat("n", MaxNodeNameLen)
	br := strings.Repeat("b", MaxBridgeNameLen)
	iface := strings.Repeat("i", MaxIfaceNameLen)
	topo := mustParse(t, `
name: limits
topology:
  defaults: {kind: linux, image: x}
  nodes:
    `+long+`:
    b:
    `+br+`: {kind: bridge}
  links:
    - endpoints: ["`+long+`:`+iface+`", "b:eth1"]
      mtu: 68
    - endpoints: ["`+long+`:eth1", "`+br+`:`+iface+`"]
      mtu: 65535
`)
	if topo.Links[0].MTU != MinMTU || topo.Links[1].MTU != MaxMTU {
		t.Errorf("MTUs %d %d", topo.Links[0].MTU, topo.Links[1].MTU)
	}
	if got := topo.Node(long).Interfaces; !reflect.DeepEqual(got, []string{iface, "eth1"}) {
		t.Errorf("interfaces %v", got)
	}
}

// TestEntryLines checks that every inherited entry keeps the line it is
// written on (defaults, kind or node), through replacements and merge keys,
// so a runtime can name the line a bring-up step failed on.
func TestEntryLines(t *testing.T) {
	got := mustParse(t, `name: lines
topology:
  defaults:
    exec:
      - echo defaults
    binds: [a:/a, b:/b]
    labels: &sys
      net.ipv4.conf.all.rp_filter: 2
  kinds:
    linux:
      image: img
      exec: [echo kind]
      devices: [/dev/net/tun]
  nodes:
    n1:
      kind: linux
      exec:
        - echo one
        - echo two
      binds:
        - c:/b
      devices: [/dev/net/tun, /dev/fuse]
      sysctls:
        <<: *sys
        net.ipv4.ip_forward: 1
`)
	n := got.Node("n1")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"node", n.Line, 15},
		{"exec", n.ExecLines, []int{5, 12, 18, 19}},
		{"binds (node replaces /b in place)", n.BindLines, []int{6, 21}},
		{"devices (kind's first, no repeat)", n.DeviceLines, []int{13, 22}},
		{"sysctls (merged key: the field's line)", n.SysctlLines, map[string]int{"net.ipv4.conf.all.rp_filter": 23, "net.ipv4.ip_forward": 25}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s lines: %v, want %v", c.what, c.got, c.want)
		}
	}
	if len(n.ExecLines) != len(n.Exec) || len(n.BindLines) != len(n.Binds) || len(n.DeviceLines) != len(n.Devices) {
		t.Errorf("line lists do not follow their entries: %+v", n)
	}
}

// TestNetworkModeNone checks that network-mode: none and
// mgmt.skip-when-unused are accepted and resolved as containerlab resolves
// them: node over kind over defaults, for bridge nodes too.
func TestNetworkModeNone(t *testing.T) {
	src := `name: x
mgmt: {skip-when-unused: true}
topology:
  defaults: {network-mode: none}
  kinds:
    linux: {image: i}
  nodes:
    a: {kind: linux}
    b: {kind: linux, network-mode: none}
    br: {kind: bridge}
`
	top, err := Parse([]byte(src), "x.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !top.SkipMgmtWhenUnused {
		t.Error("SkipMgmtWhenUnused is false")
	}
	for _, n := range top.Nodes {
		if n.NetworkMode != NetworkModeNone {
			t.Errorf("node %s: NetworkMode %q, want %q", n.Name, n.NetworkMode, NetworkModeNone)
		}
	}

	top, err = Parse([]byte("name: x\ntopology:\n  kinds:\n    linux: {image: i, network-mode: none}\n  nodes:\n    a: {kind: linux}\n    br: {kind: bridge}\n"), "x.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Node("a").NetworkMode; got != NetworkModeNone {
		t.Errorf("node a: NetworkMode %q from topology.kinds.linux, want %q", got, NetworkModeNone)
	}
	if got := top.Node("br").NetworkMode; got != "" {
		t.Errorf("bridge br took network-mode %q from the linux kind", got)
	}
}

// TestRepositoryTopologiesSkipMgmt checks that every topology of the
// repository runs under containerlab as under getlab: no management
// network, so no eth0 and no default route other than the file's own.
func TestRepositoryTopologiesSkipMgmt(t *testing.T) {
	repo, _ := topologyFiles(t)
	for _, f := range repo {
		top, err := Load(f)
		if err != nil {
			t.Errorf("Load: %v", err)
			continue
		}
		if !top.SkipMgmtWhenUnused {
			t.Errorf("%s: set mgmt: {skip-when-unused: true}", f)
		}
		for _, n := range top.Nodes {
			if n.NetworkMode != NetworkModeNone {
				t.Errorf("%s: node %s does not resolve to network-mode: none", f, n.Name)
			}
		}
	}
}
