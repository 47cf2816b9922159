package topo

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const errPath = "topologies/x.clab.yml"

// base wraps node definitions and links in a minimal valid file.
func base(nodes, links string) string {
	s := "name: x\ntopology:\n  nodes:\n" + indent(nodes, "    ")
	if links != "" {
		s += "  links:\n" + indent(links, "    ")
	}
	return s
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

const twoNodes = `
a: {kind: linux, image: img}
b: {kind: linux, image: img}
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error; each error line must also start with the file
	}{
		// Fields containerlab knows but getlab does not support, and typos.
		{"node field not supported", base("gm1:\n  kind: linux\n  image: img\n  ports: [80:80]", ""),
			[]string{`topologies/x.clab.yml: node "gm1": field "ports" is not supported by getlab`, "(line 7)"}},
		{"node field typo", base("gm1:\n  kind: linux\n  imgae: img", ""),
			[]string{`node "gm1": field "imgae" is not a containerlab node field (did you mean "image"?)`}},
		{"node field unknown", base("gm1:\n  kind: linux\n  image: img\n  colour: blue", ""),
			[]string{`node "gm1": field "colour" is not a containerlab node field`}},
		{"defaults field not supported", "name: x\ntopology:\n  defaults:\n    user: bob\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: defaults: field "user" is not supported by getlab`}},
		{"kind field not supported", "name: x\ntopology:\n  kinds:\n    linux:\n      entrypoint: sh\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: kind "linux": field "entrypoint" is not supported by getlab`}},
		{"kind entry sets kind", "name: x\ntopology:\n  kinds:\n    linux: {kind: linux, image: i}\n  nodes:\n    a: {kind: linux}\n",
			[]string{`kind "linux": field "kind" has no effect in topology.kinds`}},
		{"top-level prefix", "name: x\nprefix: p\n" + base(twoNodes, "")[len("name: x\n"):],
			[]string{`topologies/x.clab.yml: field "prefix" is not supported by getlab`}},
		{"top-level mgmt", "name: x\nmgmt: {network: n}\n" + base(twoNodes, "")[len("name: x\n"):],
			[]string{`topologies/x.clab.yml: mgmt: field "network" is not supported by getlab: getlab builds no management network`}},
		{"mgmt field other than skip-when-unused", "name: x\nmgmt: {skip-when-unused: true, ipv4-subnet: 172.20.0.0/24}\n" + base("a: {kind: linux, image: i, network-mode: none}", "")[len("name: x\n"):],
			[]string{`topologies/x.clab.yml: mgmt: field "ipv4-subnet" is not supported by getlab: getlab builds no management network; of mgmt only skip-when-unused: true is supported`}},
		{"mgmt skip-when-unused false", "name: x\nmgmt: {skip-when-unused: false}\n" + base(twoNodes, "")[len("name: x\n"):],
			[]string{`mgmt: skip-when-unused: false is not supported by getlab`}},
		{"mgmt typo", "name: x\nmgmt: {skip-when-unsued: true}\n" + base(twoNodes, "")[len("name: x\n"):],
			[]string{`mgmt: field "skip-when-unsued" is not a containerlab mgmt field (did you mean "skip-when-unused"?)`}},
		{"mgmt skip-when-unused with a node not none", "name: x\nmgmt: {skip-when-unused: true}\ntopology:\n  kinds:\n    linux: {network-mode: none}\n  nodes:\n    a: {kind: linux, image: i}\n    br: {kind: bridge}\n",
			[]string{`topologies/x.clab.yml: node "br": mgmt.skip-when-unused needs every node to resolve to network-mode: none`, "topology.kinds.bridge", "(line 8)"}},
		{"network-mode host", base("a: {kind: linux, image: i, network-mode: host}", ""),
			[]string{`topologies/x.clab.yml: node "a": network-mode "host" is not supported by getlab: only "none"`, "(line 4)"}},
		{"network-mode container", "name: x\ntopology:\n  defaults: {network-mode: \"container:a\"}\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: defaults: network-mode "container:a" is not supported by getlab`}},
		{"network-mode bridge in kinds", "name: x\ntopology:\n  kinds:\n    linux: {network-mode: bridge}\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: kind "linux": network-mode "bridge" is not supported by getlab`}},
		{"top-level typo", "name: x\ntopolgy: {}\n",
			[]string{`field "topolgy" is not a containerlab top-level field (did you mean "topology"?)`, `field "topology" is required`}},
		{"topology groups", "name: x\ntopology:\n  groups: {g: {image: i}}\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: topology: field "groups" is not supported by getlab`}},
		{"topology typo", "name: x\ntopology:\n  node: {}\n",
			[]string{`topology: field "node" is not a containerlab topology field (did you mean "nodes"?)`, `field "nodes" is required`}},

		// Kinds and images.
		{"unsupported kind on node", base("r1: {kind: nokia_srlinux, image: srl}", ""),
			[]string{`node "r1": kind "nokia_srlinux" is not supported by getlab`}},
		{"unsupported kind in kinds", "name: x\ntopology:\n  kinds:\n    arista_ceos: {image: c}\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topology.kinds: kind "arista_ceos" is not supported by getlab`}},
		{"unsupported default kind", "name: x\ntopology:\n  defaults: {kind: ovs-bridge}\n  nodes:\n    a:\n",
			[]string{`defaults: kind "ovs-bridge" is not supported by getlab`}},
		{"no kind", base("a: {image: img}", ""),
			[]string{`node "a": no kind`}},
		{"linux without image", base("a: {kind: linux}", ""),
			[]string{`node "a": field "image" is required for kind linux`}},
		{"empty image", base("a: {kind: linux, image: \"\"}", ""),
			[]string{`node "a": field "image" must not be empty`}},

		// Links.
		{"endpoint names unknown node", base(twoNodes, `- endpoints: ["a:eth1", "zz:eth1"]`),
			[]string{`topologies/x.clab.yml: links[0]: endpoint "zz:eth1": node "zz" is not defined in topology.nodes`}},
		{"endpoint names special host node", base(twoNodes, `- endpoints: ["a:eth1", "host:veth-a"]`),
			[]string{`links[0]: endpoint "host:veth-a": containerlab's special node "host" is not supported by getlab`}},
		{"malformed endpoint no colon", base(twoNodes, `- endpoints: ["a-eth1", "b:eth1"]`),
			[]string{`links[0]: endpoint "a-eth1" is not of the form NODE:INTERFACE`}},
		{"malformed endpoint empty iface", base(twoNodes, `- endpoints: ["a:", "b:eth1"]`),
			[]string{`links[0]: endpoint "a:" is not of the form NODE:INTERFACE`}},
		{"malformed endpoint not a string", base(twoNodes, `- endpoints: [1, "b:eth1"]`),
			[]string{`links[0]: field "endpoints" must be a string, not a number`}},
		{"three endpoints", base(twoNodes, `- endpoints: ["a:eth1", "b:eth1", "a:eth2"]`),
			[]string{`links[0]: a link needs exactly 2 endpoints, not 3`}},
		{"endpoints missing", base(twoNodes, `- mtu: 1500`),
			[]string{`links[0]: field "endpoints" is required`}},
		{"interface used twice", base(twoNodes, "- endpoints: [\"a:eth1\", \"b:eth1\"]\n- endpoints: [\"a:eth1\", \"b:eth2\"]"),
			[]string{`links[1]: interface "eth1" of node "a" is already used by links[0]`}},
		{"same node and interface at both ends", base(twoNodes, `- endpoints: ["a:eth1", "a:eth1"]`),
			[]string{`links[0]: both endpoints are "a:eth1"`}},
		{"interface name too long", base(twoNodes, `- endpoints: ["a:eth1234567890123", "b:eth1"]`),
			[]string{`links[0]: endpoint "a:eth1234567890123": interface name "eth1234567890123" is 16 bytes long; Linux allows at most 15`}},
		{"interface name invalid characters", base(twoNodes, `- endpoints: ["a:eth/1", "b:eth1"]`),
			[]string{`links[0]: endpoint "a:eth/1": interface name "eth/1" may hold only letters, digits`}},
		{"interface eth0 reserved", base(twoNodes, `- endpoints: ["a:eth0", "b:eth1"]`),
			[]string{`links[0]: endpoint "a:eth0": interface "eth0" is reserved`}},
		{"mtu too small", base(twoNodes, "- endpoints: [\"a:eth1\", \"b:eth1\"]\n  mtu: 67"),
			[]string{`links[0]: mtu 67 is outside 68..65535`}},
		{"mtu too large", base(twoNodes, "- endpoints: [\"a:eth1\", \"b:eth1\"]\n  mtu: 65536"),
			[]string{`links[0]: mtu 65536 is outside 68..65535`}},
		{"mtu not whole", base(twoNodes, "- endpoints: [\"a:eth1\", \"b:eth1\"]\n  mtu: 1500.5"),
			[]string{`links[0]: field "mtu" must be a whole number, not a number`}},
		{"link type not supported", base(twoNodes, "- type: host\n  endpoint: {node: a, interface: eth1}\n  host-interface: veth-a"),
			[]string{`links[0]: field "endpoint" is not supported by getlab`, `links[0]: field "host-interface" is not supported by getlab`, `links[0]: link type "host" is not supported by getlab (only veth)`}},
		{"link type unknown", base(twoNodes, "- type: vet\n  endpoints: [{node: a, interface: eth1}, {node: b, interface: eth1}]"),
			[]string{`links[0]: "vet" is not a containerlab link type`}},
		{"link field not supported", base(twoNodes, "- endpoints: [\"a:eth1\", \"b:eth1\"]\n  vars: {x: 1}"),
			[]string{`topologies/x.clab.yml: links[0]: field "vars" is not supported by getlab`}},
		{"link field typo", base(twoNodes, `- endpionts: ["a:eth1", "b:eth1"]`),
			[]string{`links[0]: field "endpionts" is not a containerlab link field (did you mean "endpoints"?)`}},
		{"extended endpoint field not supported", base(twoNodes, "- type: veth\n  endpoints:\n    - {node: a, interface: eth1, mac: 02:00:00:00:00:01}\n    - {node: b, interface: eth1}"),
			[]string{`links[0].endpoints[0]: field "mac" is not supported by getlab`}},
		{"extended endpoint missing interface", base(twoNodes, "- type: veth\n  endpoints: [{node: a}, {node: b, interface: eth1}]"),
			[]string{`links[0].endpoints[0]: field "interface" is required`}},
		{"extended endpoints as strings", base(twoNodes, "- type: veth\n  endpoints: [\"a:eth1\", \"b:eth1\"]"),
			[]string{`links[0].endpoints[0]: an endpoint of a veth link must be a mapping, not a string`}},
		{"brief endpoint as mapping", base(twoNodes, "- endpoints: [{node: a, interface: eth1}, {node: b, interface: eth1}]"),
			[]string{`links[0]: an endpoint written as a mapping needs the extended link form (type: veth)`}},
		{"links not a list", base(twoNodes, "") + "  links: {a: b}\n",
			[]string{`topology: links must be a list, not a mapping`}},
		{"bridge ports clash across bridges", base("br1: {kind: bridge}\nbr2: {kind: bridge}\n"+twoNodes, "- endpoints: [\"a:eth1\", \"br1:p1\"]\n- endpoints: [\"b:eth1\", \"br2:p1\"]"),
			[]string{`links[1]: interface "p1" of bridge "br2" is also a port of bridge "br1"`}},

		// Names.
		{"node name invalid characters", base("gm@1: {kind: linux, image: img}", ""),
			[]string{`node "gm@1": node name must start with a letter or digit`}},
		{"node name too long", base(strings.Repeat("n", 33)+": {kind: linux, image: img}", ""),
			[]string{`node "` + strings.Repeat("n", 33) + `": node name is 33 bytes long; at most 32 are allowed`}},
		{"bridge name too long", base(strings.Repeat("b", 16)+": {kind: bridge}", ""),
			[]string{`node "` + strings.Repeat("b", 16) + `": a bridge node's name names its bridge device, so it may be at most 15 bytes long, not 16`}},
		{"lab name invalid", "name: -x\ntopology:\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`name "-x" must start with a letter or digit`}},
		{"name missing", "topology:\n  nodes:\n    a: {kind: linux, image: i}\n",
			[]string{`topologies/x.clab.yml: field "name" is required`}},
		{"nodes empty", "name: x\ntopology:\n  nodes: {}\n",
			[]string{`topology.nodes: no nodes are defined`}},

		// Binds and paths.
		{"bind without colon", base("a:\n  kind: linux\n  image: img\n  binds: [/data]", ""),
			[]string{`node "a": binds: "/data" has no ':'`}},
		{"bind with relative container path", base("a:\n  kind: linux\n  image: img\n  binds: [\"cfg/a.yaml:etc/a.yaml\"]", ""),
			[]string{`node "a": binds: "cfg/a.yaml:etc/a.yaml": the container path "etc/a.yaml" must be absolute`}},
		{"bind option not supported", base("a:\n  kind: linux\n  image: img\n  binds: [\"cfg:/cfg:z\"]", ""),
			[]string{`node "a": binds: "cfg:/cfg:z": option "z" is not supported by getlab`}},
		{"bind home path", base("a:\n  kind: linux\n  image: img\n  binds: [\"~/x:/x\"]", ""),
			[]string{`node "a": binds: host path "~/x": ~ is not supported by getlab`}},
		{"bind same container path twice", base("a:\n  kind: linux\n  image: img\n  binds: [\"x:/x\", \"y:/x/\"]", ""),
			[]string{`node "a": binds: "x:/x" and "y:/x/" both bind /x`}},
		{"startup-config embedded", base("a:\n  kind: linux\n  image: img\n  startup-config: |\n    line one\n    line two", ""),
			[]string{`node "a": an embedded startup-config is not supported by getlab`}},
		{"startup-config remote", base("a:\n  kind: linux\n  image: img\n  startup-config: https://example.invalid/a.cfg", ""),
			[]string{`node "a": a remote startup-config (https://example.invalid/a.cfg) is not supported by getlab`}},

		// Values.
		{"bridge with container field", base("br: {kind: bridge, image: img, exec: [x]}", ""),
			[]string{`node "br": field "image" has no effect on a bridge node`, `node "br": field "exec" has no effect on a bridge node`}},
		{"bridge kind entry with container field", "name: x\ntopology:\n  kinds:\n    bridge: {exec: [x]}\n  nodes:\n    br: {kind: bridge}\n",
			[]string{`kind "bridge": field "exec" has no effect on bridge nodes`}},
		{"env import", base("a:\n  kind: linux\n  image: img\n  env: {__IMPORT_ENVS: true}", ""),
			[]string{`node "a": env: containerlab's __IMPORT_ENVS is not supported by getlab`}},
		{"env value null", base("a:\n  kind: linux\n  image: img\n  env: {A: }", ""),
			[]string{`node "a": field "env": "A" must be a string or a number or a boolean, not null`}},
		{"sysctl outside net", base("a:\n  kind: linux\n  image: img\n  sysctls: {kernel.shmmax: 1}", ""),
			[]string{`node "a": sysctls: "kernel.shmmax" is not supported by getlab`}},
		{"cap-add invalid", base("a:\n  kind: linux\n  image: img\n  cap-add: [\"net admin\"]", ""),
			[]string{`node "a": cap-add: "net admin" is not a capability name`}},
		{"label reserved", base("a:\n  kind: linux\n  image: img\n  labels: {clab-node-name: a}", ""),
			[]string{`node "a": labels: "clab-node-name" is reserved by containerlab`}},
		{"image not a string", base("a: {kind: linux, image: 5}", ""),
			[]string{`node "a": field "image" must be a string, not a number`}},
		{"privileged not a boolean", base("a: {kind: linux, image: i, privileged: \"yes\"}", ""),
			[]string{`node "a": field "privileged" must be true or false, not a string`}},
		{"exec not a list", base("a: {kind: linux, image: i, exec: \"ip link\"}", ""),
			[]string{`node "a": field "exec" must be a list of strings, not a string`}},
		{"exec empty", base("a: {kind: linux, image: i, exec: []}", ""),
			[]string{`node "a": field "exec" must not be an empty list`}},
		{"node not a mapping", base("a: foo", ""),
			[]string{`node "a": a node must be a mapping, not a string`}},
		{"duplicate key", base("a:\n  kind: linux\n  image: i\n  image: j", ""),
			[]string{`node "a": key "image" appears twice`}},

		// The file as a whole.
		{"go template", "name: x\ntopology:\n  nodes:\n    a: {kind: linux, image: \"{{ .image }}\"}\n",
			[]string{`topologies/x.clab.yml: containerlab's Go template syntax ({{ ... }}) is not supported by getlab (line 4)`}},
		{"env expansion form not supported", "name: x\ntopology:\n  nodes:\n    a: {kind: linux, image: \"${IMG+x}\"}\n",
			[]string{`topologies/x.clab.yml: environment variable expansion: "${IMG+x}": this form of variable expansion is not supported by getlab`, "(line 4)"}},
		{"env expansion unclosed", "name: x\ntopology:\n  nodes:\n    a: {kind: linux, image: \"${IMG\"}\n",
			[]string{`environment variable expansion: "${IMG\"}": closing brace expected after ${IMG (line 4)`}},
		{"two documents", "name: x\ntopology: {nodes: {a: {kind: linux, image: i}}}\n---\nname: y\n",
			[]string{`topologies/x.clab.yml: the file holds more than one YAML document`}},
		{"empty file", "# nothing\n",
			[]string{`topologies/x.clab.yml: the file is empty`}},
		{"not yaml", "name: [x\n",
			[]string{`topologies/x.clab.yml: yaml:`}},
		{"not a mapping", "- a\n- b\n",
			[]string{`topologies/x.clab.yml: the file must be a mapping, not a list`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := parse([]byte(tc.src), errPath, noEnv)
			if err == nil {
				t.Fatalf("no error; parsed %+v", topo)
			}
			if topo != nil {
				t.Errorf("got a topology along with the error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, errPath+": ") {
					t.Errorf("error line does not start with the file: %q", line)
				}
			}
		})
	}
}

// TestErrorsAreCollected checks that one run reports every problem.
func TestErrorsAreCollected(t *testing.T) {
	src := `name: x
topology:
  nodes:
    gm1: {kind: linux, image: img, ports: ["80:80"]}
    gm2: {kind: linux}
    r1: {kind: nokia_srlinux}
  links:
    - endpoints: ["gm1:eth1", "zz:eth1"]
      mtu: 20
`
	_, err := parse([]byte(src), errPath, noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`node "gm1": field "ports" is not supported by getlab`,
		`node "gm2": field "image" is required`,
		`node "r1": kind "nokia_srlinux" is not supported by getlab`,
		`links[0]: mtu 20 is outside 68..65535`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not contain %q:\n%s", w, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n < len(want) {
		t.Errorf("%d error lines, want at least %d:\n%s", n, len(want), msg)
	}
}

// TestUnsupportedFieldListIsComplete checks that every containerlab node
// field other than the supported ones is reported as "not supported", not
// as a typo, on a node, in the defaults and in a kind entry.
func TestUnsupportedFieldListIsComplete(t *testing.T) {
	supported := []string{"kind", "image", "cmd", "exec", "env", "binds", "labels", "startup-config", "privileged", "cap-add", "sysctls", "devices", "network-mode"}
	for _, f := range nodeFields {
		if contains(supported, f) {
			continue
		}
		src := "name: x\ntopology:\n  defaults:\n    " + f + ": 1\n  kinds:\n    linux:\n      " + f + ": 1\n  nodes:\n    a:\n      kind: linux\n      image: i\n      " + f + ": 1\n"
		_, err := parse([]byte(src), errPath, noEnv)
		if err == nil {
			t.Errorf("field %q accepted", f)
			continue
		}
		for _, where := range []string{"defaults", `kind "linux"`, `node "a"`} {
			w := where + `: field "` + f + `" is not supported by getlab`
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not contain %q:\n%s", w, err)
			}
		}
	}
}

// TestAliasBombs checks that aliases and merge keys cannot make a small file
// cost the parser a huge amount of work.
func TestAliasBombs(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\ntopology:\n  defaults:\n    labels: &l0 {a: 1}\n  kinds:\n")
	for i := 1; i <= 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "    k%d: {labels: &l%d {<<: [%s]}}\n", i, i, refs)
	}
	b.WriteString("  nodes:\n    a: {kind: linux, image: i, labels: *l9}\n")
	start := time.Now()
	_, err := parse([]byte(b.String()), errPath, noEnv)
	if err == nil || !strings.Contains(err.Error(), "merge keys (<<) nest too deep or merge too often") {
		t.Errorf("merge bomb: err = %v", err)
	}

	b.Reset()
	b.WriteString("name: x\ntopology:\n  defaults:\n    exec: &e [" + strings.TrimSuffix(strings.Repeat("x, ", 2000), ", ") + "]\n  nodes:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "    n%d: {kind: linux, image: i, exec: *e}\n", i)
	}
	_, err = parse([]byte(b.String()), errPath, noEnv)
	if err == nil || !strings.Contains(err.Error(), "too much data") {
		t.Errorf("alias bomb: err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("bombs took %v", d)
	}
}
