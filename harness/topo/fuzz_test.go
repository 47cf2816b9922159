package topo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that whatever it
// accepts is consistent: links name defined nodes, each node's interfaces
// are exactly its link endpoints in order, and the limits hold.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "valid", "*.clab.yml"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "topologies", "*.clab.yml"))
	for _, p := range append(seeds, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"",
		"name: x\ntopology:\n  defaults: &d {kind: linux, image: i}\n  nodes:\n    a: {<<: *d}\n    b:\n  links:\n    - endpoints: [a:eth1, b:eth1]\n",
		"name: x\ntopology:\n  nodes: {a: {kind: linux, image: ${SET}}, br: {kind: bridge}}\n  links: [{type: veth, endpoints: [{node: a, interface: e1}, {node: br, interface: p1}], mtu: 1500}]\n",
		"name: $$x ${UNSET:=y} ${SET:-z} ${",
		"a: &a [*a]",
		"name: x\ntopology: {nodes: {a: [1, 2]}, links: [[]]}\n",
	} {
		f.Add([]byte(s))
	}
	lookup := func(k string) (string, bool) {
		if k == "SET" {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := parse(data, "fuzz.clab.yml", lookup)
		if err != nil {
			if topo != nil {
				t.Fatal("a topology returned with an error")
			}
			return
		}
		nodes := map[string]*Node{}
		for _, n := range topo.Nodes {
			if nodes[n.Name] != nil {
				t.Fatalf("node %q twice", n.Name)
			}
			nodes[n.Name] = n
			if len(n.Name) == 0 || len(n.Name) > MaxNodeNameLen {
				t.Fatalf("node name %q", n.Name)
			}
			switch n.Kind {
			case KindLinux:
				if n.Image == "" {
					t.Fatalf("linux node %q without image", n.Name)
				}
			case KindBridge:
				if len(n.Name) > MaxBridgeNameLen {
					t.Fatalf("bridge name %q", n.Name)
				}
			default:
				t.Fatalf("node %q kind %q", n.Name, n.Kind)
			}
			for _, b := range n.Binds {
				if !filepath.IsAbs(b.Host) || !filepath.IsAbs(b.Node) {
					t.Fatalf("bind %+v not absolute", b)
				}
			}
		}
		want := map[string][]string{}
		for _, l := range topo.Links {
			if l.MTU != 0 && (l.MTU < MinMTU || l.MTU > MaxMTU) {
				t.Fatalf("link %v mtu %d", l, l.MTU)
			}
			if l.A == l.B {
				t.Fatalf("link %v loops on one interface", l)
			}
			for _, ep := range []Endpoint{l.A, l.B} {
				if nodes[ep.Node] == nil {
					t.Fatalf("link %v names unknown node %q", l, ep.Node)
				}
				if len(ep.Iface) == 0 || len(ep.Iface) > MaxIfaceNameLen {
					t.Fatalf("interface %q", ep.Iface)
				}
				want[ep.Node] = append(want[ep.Node], ep.Iface)
			}
		}
		for _, n := range topo.Nodes {
			got := n.Interfaces
			if len(got) != len(want[n.Name]) {
				t.Fatalf("node %q interfaces %v, links give %v", n.Name, got, want[n.Name])
			}
			seen := map[string]bool{}
			for i, ifc := range got {
				if ifc != want[n.Name][i] || seen[ifc] {
					t.Fatalf("node %q interfaces %v, links give %v", n.Name, got, want[n.Name])
				}
				seen[ifc] = true
			}
		}
	})
}
